/**
 * Drills on a live process trading A-shares through the fake terminal bridge (both real processes;
 * the run on the built-in replay of a Shanghai day at high speed, the fake counter following its
 * trades and filling at them): SIGKILL at chosen moments (src/runtime/failpoint.ts), restart on the
 * same --out until the day is done. The bridge cannot carry our client order ids, so this is the
 * drill of the entrust-number mapping: every entrust is one order of ours (a submit whose answer a
 * kill lost is found among today's entrusts, never sent again), every share the counter filled is
 * in the ledger once, and the counter's account equals the agents' books plus the external cash.
 * The test waits for the processes' exits and output, never for a length of time.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { dec } from '../../src/domain/money.js';
import { FakeBridgeProcess } from '../support/fake-bridge/process.js';
import { ROOT } from '../support/cli.js';
import { books, runFollowing } from '../support/live-drill.js';

const CN = join(ROOT, 'data/sample/cn_hourly.jsonl');
const DAY = '2025-10-15';
const ALLOCATION = 100_000;
const OWN_CASH = 50_000;
const ENV = { AGENT_TRADER_LIVE: 'I_UNDERSTAND' };

async function liveConfig(f: FakeBridgeProcess): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-bridge-drill-'));
  const file = join(dir, 'live.json');
  await writeFile(
    file,
    JSON.stringify({
      mode: 'live',
      market: 'cn',
      frequency: 'hourly',
      data_source: { type: 'replay', bars_file: CN, replay_date: DAY, replay_speed: 2_500, stale_quote_seconds: 7200 },
      // The grace is wall time: at 2,500x a minute of it is 41 market hours.
      broker: { type: 'bridge', paper: false, poll_seconds: 0.05, unknown_outcome_grace_seconds: 1, bridge: { url: f.url }, fees: { cn: { commission_rate: 0, commission_min: 0, stamp_duty_rate: 0, transfer_fee_rate: 0 } } },
      risk_control: { min_cash_reserve: 1000, live_ramp: { start_cap: 1_000_000, growth_per_trading_day: 0, max: 1_000_000 } },
      models: [
        { name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
        { name: 'Mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
      ],
      agent_config: { initial_cash: ALLOCATION },
      server: { port: 0 },
      state_dir: join(dir, 'state'),
    }),
  );
  return { dir, file };
}

const run = (f: FakeBridgeProcess, args: readonly string[], env: NodeJS.ProcessEnv = {}) => runFollowing(f, args, { ...ENV, ...env });

/** The entrust number each of a client order id's fills carries (`<date>.<entrust>.<deal>`). */
const entrustsOf = (fillIds: Record<string, string[]>): Record<string, Set<string>> =>
  Object.fromEntries(Object.entries(fillIds).map(([cid, ids]) => [cid, new Set(ids.map((id) => id.split('.')[1] ?? id))]));

/** The fake counter primed with the day's opening prices, filling crossing limits at once. */
async function startFake(): Promise<FakeBridgeProcess> {
  const f = await FakeBridgeProcess.start({ cash: String(2 * ALLOCATION + OWN_CASH), startMs: Date.parse(`${DAY}T01:30:00Z`) });
  await f.mode({ fill: 'auto' });
  const history = await loadPriceStore(CN, { market: 'cn' });
  const open = DateTime.fromISO(`${DAY}T09:30`, { zone: 'Asia/Shanghai' });
  for (const s of history.symbols()) {
    const p = history.priceAsOf(s, open);
    if (p) await f.price(s, p.price.toFixed(2));
  }
  return f;
}

let fake: FakeBridgeProcess | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

describe('drill: SIGKILL a live run on the terminal bridge and start it again', () => {
  it('no entrust is two orders or one order twice, no fill lost or invented, the account equal to the books', { timeout: 600_000 }, async () => {
    fake = await startFake();
    const { dir, file } = await liveConfig(fake);
    const out = join(dir, 'killed');
    let kills = 0;
    for (const fp of (process.env['DRILL_PLAN'] || 'commit:20,broker.submit:1,broker.fill:1,broker.accepted:1,ledger.applyFill:1,commit:1').split(',').filter(Boolean)) {
      const r = await run(fake, ['run', '--config', file, '--out', out], { AGENT_TRADER_FAILPOINT: fp });
      if (r.signal === 'SIGKILL') kills++;
      else expect(r.code, `${fp}: ${r.stderr}`).toBe(0);
    }
    const last = await run(fake, ['run', '--config', file, '--out', out]);
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).toContain('BROKER_RECONCILED');
    expect(kills).toBeGreaterThanOrEqual(3);

    const s = await fake.state();
    expect(s.entrusts.length).toBeGreaterThanOrEqual(3);
    const { booked, fillIds, last: records } = await books(out);
    // One entrust per order of ours: no client order id's fills come from two entrusts, no entrust's from two ids.
    const owner = new Map<string, string>();
    for (const [cid, entrusts] of Object.entries(entrustsOf(fillIds))) {
      expect({ cid, entrusts: entrusts.size }).toEqual({ cid, entrusts: 1 });
      for (const e of entrusts) {
        expect(owner.get(e), `entrust ${e} booked to ${owner.get(e)} and ${cid}`).toBeUndefined();
        owner.set(e, cid);
      }
    }
    // Every share the counter filled is booked once, to the order its entrust maps to.
    for (const e of s.entrusts.filter((x) => x.filled > 0)) expect({ e: e.entrust_no, booked: booked[owner.get(e.entrust_no) ?? ''] ?? 0 }).toEqual({ e: e.entrust_no, booked: e.filled });
    const held: Record<string, number> = {};
    let cash = dec(OWN_CASH);
    for (const { CASH, ...positions } of Object.values(records)) {
      cash = cash.plus(CASH ?? 0);
      for (const [sym, n] of Object.entries(positions)) if (n !== 0) held[sym.slice(0, 6)] = (held[sym.slice(0, 6)] ?? 0) + n;
    }
    expect(held).toEqual(Object.fromEntries(Object.entries(s.holdings).filter(([, h]) => h.qty !== 0).map(([c, h]) => [c, h.qty])));
    expect(dec(s.cash).minus(cash).toFixed()).toBe('0');
  });
});

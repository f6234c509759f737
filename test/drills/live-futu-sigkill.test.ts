/**
 * Drills on a live process trading A-shares through the fake Futu OpenD (both real processes; the
 * run on the built-in replay of a Shanghai day at high speed, the fake exchange following its trades
 * and filling at them), on the real environment (unlocked, orders and fills pushed, each push twice)
 * and the simulate one (polled): SIGKILL at chosen moments (src/runtime/failpoint.ts), restart on the
 * same --out until the day is done. Then no remark (our client order id) on two orders at OpenD,
 * every share filled in the ledger once, the account equal to the agents' books plus the external
 * cash. The test waits for the processes' exits and output, never for a length of time.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { dec } from '../../src/domain/money.js';
import { FakeFutuProcess } from '../support/fake-futu/process.js';
import { ROOT } from '../support/cli.js';
import { books, runFollowing } from '../support/live-drill.js';

const CN = join(ROOT, 'data/sample/cn_hourly.jsonl');
const DAY = '2025-10-15';
const ALLOCATION = 100_000;
const OWN_CASH = 50_000;
const SIM = '1001';
const REAL = '281756479845123456';

async function liveConfig(f: FakeFutuProcess, real: boolean): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-futu-drill-'));
  const file = join(dir, 'live.json');
  await writeFile(
    file,
    JSON.stringify({
      mode: 'live',
      market: 'cn',
      frequency: 'hourly',
      data_source: { type: 'replay', bars_file: CN, replay_date: DAY, replay_speed: 2_500, stale_quote_seconds: 7200 },
      broker: {
        type: 'futu',
        paper: !real,
        account_id: real ? REAL : SIM,
        ...(real ? { password_env: 'DRILL_FUTU_PWD' } : {}),
        poll_seconds: 0.05,
        // The grace is wall time: at 2,500x a minute of it is 41 market hours.
        unknown_outcome_grace_seconds: 1,
        futu: { websocket_port: Number(new URL(f.url).port), websocket_key_env: 'DRILL_FUTU_KEY', trd_market: real ? 'HKCC' : 'CN', keep_alive_seconds: 0 },
        fees: { cn: { commission_rate: 0, commission_min: 0, stamp_duty_rate: 0, transfer_fee_rate: 0 } },
      },
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

const run = (f: FakeFutuProcess, args: readonly string[], env: NodeJS.ProcessEnv = {}) =>
  runFollowing(f, args, { DRILL_FUTU_KEY: f.websocketKey!, DRILL_FUTU_PWD: f.tradePassword, AGENT_TRADER_LIVE: 'I_UNDERSTAND', ...env });

/** The fake exchange primed with the day's opening prices, filling crossing limits at once, every push sent twice. */
async function startFake(): Promise<FakeFutuProcess> {
  const cash = String(2 * ALLOCATION + OWN_CASH);
  const f = await FakeFutuProcess.start({ startMs: Date.parse(`${DAY}T01:30:00Z`), accounts: [{ accID: SIM, trdEnv: 0, markets: [3], simAccType: 1, cash }, { accID: REAL, trdEnv: 1, markets: [1, 4], cash }] });
  await f.mode({ fill: 'immediate' });
  await f.dupPushes(100_000);
  const history = await loadPriceStore(CN, { market: 'cn' });
  const open = DateTime.fromISO(`${DAY}T09:30`, { zone: 'Asia/Shanghai' });
  for (const s of history.symbols()) {
    const p = history.priceAsOf(s, open);
    if (p) await f.price(s, p.price.toFixed(2));
  }
  return f;
}

let fake: FakeFutuProcess | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function drill(f: FakeFutuProcess, real: boolean, plan: readonly string[]): Promise<number> {
  const { dir, file } = await liveConfig(f, real);
  const out = join(dir, 'killed');
  let kills = 0;
  for (const fp of plan) {
    const r = await run(f, ['run', '--config', file, '--out', out], { AGENT_TRADER_FAILPOINT: fp });
    if (r.signal === 'SIGKILL') kills++;
    else expect(r.code, `${fp}: ${r.stderr}`).toBe(0);
  }
  const last = await run(f, ['run', '--config', file, '--out', out]);
  expect(last.code, last.stderr).toBe(0);
  expect(last.stdout).toContain('BROKER_RECONCILED');
  for (const secret of [f.websocketKey!, f.tradePassword]) expect(last.stdout + last.stderr).not.toContain(secret);

  const s = await f.state();
  const accId = real ? REAL : SIM;
  const ours = s.orders.filter((o) => o.acc_id === accId && /^(ew|mom)\./.test(o.remark ?? ''));
  expect(ours.length).toBeGreaterThanOrEqual(3);
  expect(new Set(ours.map((o) => o.remark)).size).toBe(ours.length);
  const { booked, last: records } = await books(out);
  expect(booked).toEqual(Object.fromEntries(ours.filter((o) => o.fill_qty > 0).map((o) => [o.remark, o.fill_qty])));
  const held: Record<string, number> = {};
  let cash = dec(OWN_CASH);
  for (const { CASH, ...positions } of Object.values(records)) {
    cash = cash.plus(CASH ?? 0);
    for (const [sym, n] of Object.entries(positions)) if (n !== 0) held[sym] = (held[sym] ?? 0) + n;
  }
  const account = s.accounts.find((a) => a.acc_id === accId)!;
  expect(held).toEqual(Object.fromEntries(Object.entries(account.positions).filter(([, p]) => p.qty !== 0).map(([sym, p]) => [sym, p.qty])));
  expect(dec(account.cash).minus(cash).toFixed()).toBe('0');
  return kills;
}

describe('drill: SIGKILL a live run on Futu OpenD and start it again', () => {
  it('the real environment (pushes, each twice): no order twice, no fill lost or invented, the account equal to the books', { timeout: 600_000 }, async () => {
    fake = await startFake();
    expect(await drill(fake, true, ['commit:20', 'broker.submit:1', 'broker.fill:1', 'broker.accepted:1', 'ledger.applyFill:1', 'commit:1'])).toBeGreaterThanOrEqual(3);
  });

  it('the simulate environment (polled): the same', { timeout: 600_000 }, async () => {
    fake = await startFake();
    expect(await drill(fake, false, ['commit:5', 'broker.submit:2', 'broker.accepted:2', 'commit:9', 'broker.fill:1'])).toBeGreaterThanOrEqual(3);
  });
});

/**
 * Live A-share trading through a terminal bridge, end to end: the fake bridge (easytrader's
 * server shape, its own process, A-share counter rules) follows the built-in replay server of a
 * sample Shanghai day, which also feeds our quotes; two rules agents share the one account, each
 * in its own sub-account, beside money of the account's own (the external book). The bridge
 * cannot carry our client order ids: entrust numbers are mapped to them, and a submit whose answer
 * is lost after the counter took it is found again, never sent twice. Time is virtual wall time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { dec } from '../../src/domain/money.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { FakeBridgeProcess, type FakeBridgeState } from '../support/fake-bridge/process.js';
import { cleanupsPerTest, drive, rig, stepWall, stop, until, type Rig } from '../support/live-rig.js';

const CN = new URL('../../data/sample/cn_hourly.jsonl', import.meta.url).pathname;
const CN_DAY = '2025-10-15';
const ENV = { AGENT_TRADER_LIVE: 'I_UNDERSTAND' };
const ALLOCATION = 100_000;
const OWN_CASH = 50_000;

const cleanup = cleanupsPerTest();

const liveCn = (fake: FakeBridgeProcess): Config =>
  parseConfig(
    {
      mode: 'live',
      market: 'cn',
      frequency: 'hourly',
      data_source: { type: 'replay', bars_file: CN, replay_date: CN_DAY, replay_speed: 390, stale_quote_seconds: 7200 },
      // The fake counter charges no fees: the books then match it to the cent.
      broker: { type: 'bridge', paper: false, bridge: { url: fake.url, prepare: true }, fees: { cn: { commission_rate: 0, commission_min: 0, stamp_duty_rate: 0, transfer_fee_rate: 0 } } },
      risk_control: { min_cash_reserve: 1000, live_ramp: { start_cap: 1_000_000, growth_per_trading_day: 0, max: 1_000_000 } },
      models: [
        { name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
        { name: 'mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
      ],
      agent_config: { initial_cash: ALLOCATION },
    },
    'test',
  );

async function world(): Promise<{ out: string; history: PriceStore; fake: FakeBridgeProcess }> {
  const out = await mkdtemp(join(tmpdir(), 'agent-trader-live-bridge-'));
  cleanup.push(() => rm(out, { recursive: true, force: true }));
  const history = await loadPriceStore(CN, { market: 'cn' });
  const fake = await FakeBridgeProcess.start({ cash: String(2 * ALLOCATION + OWN_CASH), startMs: Date.parse(`${CN_DAY}T01:00:00Z`) });
  cleanup.push(() => fake.stop());
  // The counter fills a limit that crosses the market at once, at the market's price.
  await fake.mode({ fill: 'auto' });
  return { out, history, fake };
}

const code = (symbol: string) => symbol.slice(0, 6);

/** Every entrust's filled shares booked once to the agent its number maps to; the account = the books + the external cash. */
async function expectBooksMatch(r: Rig, s: FakeBridgeState): Promise<void> {
  await r.run.ledger.idle();
  const ew = r.run.ledger.account('ew');
  const mom = r.run.ledger.account('mom');
  const symbols = new Set([...Object.keys(s.holdings), ...Object.keys(ew.positions).map(code), ...Object.keys(mom.positions).map(code)]);
  for (const c of symbols) {
    const booked = Object.entries({ ...ew.positions }).filter(([k]) => code(k) === c).reduce((n, [, p]) => n + p.quantity, 0) + Object.entries({ ...mom.positions }).filter(([k]) => code(k) === c).reduce((n, [, p]) => n + p.quantity, 0);
    expect({ c, qty: s.holdings[c]?.qty ?? 0 }).toEqual({ c, qty: booked });
  }
  expect(dec(s.cash).minus(ew.cash).minus(mom.cash).toFixed()).toBe(dec(OWN_CASH).toFixed());
}

describe('live on an A-share terminal bridge (easytrader shape)', () => {
  it('a replayed day: two agents on one account trade through the bridge; every entrust mapped to one order of ours, every fill booked once, the account equal to the books', async () => {
    const { out, history, fake } = await world();
    const r = await rig(liveCn(fake), out, history, fake, ENV);
    cleanup.push(() => stop(r));
    let done = false;
    void r.run.finished.then(() => (done = true));
    await until(fake, r, () => r.codes.includes('BROKER_RECONCILED'), 'the start-up reconciliation');
    await drive(r, fake, () => done);
    const s = await fake.state();
    const ours = r.events.filter((e) => e.type === 'order' && e.payload['status'] === 'accepted');
    expect(ours.length).toBeGreaterThan(3);
    // One entrust per order of ours: none sent twice (the bridge has no client order id to refuse a second).
    expect(s.entrusts).toHaveLength(new Set(ours.map((e) => e.payload['clientOrderId'])).size);
    expect(s.entrusts.every((e) => e.qty % 100 === 0)).toBe(true);
    await expectBooksMatch(r, s);
    expect(r.codes).not.toContain('EXTERNAL_ACTIVITY');
    expect(r.codes.filter((c) => c === 'EXTERNAL_BOOK_OPENED')).toHaveLength(1);
  });

  it('a buy whose answer the bridge never sends (the entrust made): matched in today\'s entrusts after the deadline, filled and booked once, never sent again', async () => {
    const { out, history, fake } = await world();
    await fake.fault('/buy', { kind: 'hold', commit: true });
    const r = await rig(liveCn(fake), out, history, fake, ENV);
    cleanup.push(() => stop(r));
    let done = false;
    void r.run.finished.then(() => (done = true));
    await until(fake, r, () => r.codes.includes('BROKER_RECONCILED'), 'the start-up reconciliation');
    // Driven until the bridge holds the /buy (each turn asks the fake's state), then the held
    // request times out on the wall clock (10 s) while the order waits on its answer.
    let held = false;
    const watched = { follow: (url: string) => fake.follow(url), state: async () => ((held ||= (await fake.state()).requests.some((q) => q.path === '/buy' && q.status === 0)), undefined) };
    await drive(r, watched, () => held);
    expect(held).toBe(true);
    await stepWall(r, fake, r.wall.now() + 15_000);
    await drive(r, fake, () => done);
    const s = await fake.state();
    const buys = s.requests.filter((q) => q.path === '/buy');
    const accepted = new Set(r.events.filter((e) => e.type === 'order' && e.payload['status'] === 'accepted').map((e) => e.payload['clientOrderId']));
    expect(s.entrusts).toHaveLength(accepted.size);
    // Every /buy the counter took (answered, or held after making the entrust) made one entrust; refusals (400) none.
    expect(buys.filter((b) => b.status !== 400).length).toBe(s.entrusts.filter((e) => e.side === 'buy').length);
    await expectBooksMatch(r, s);
  });
});

/**
 * Live A-share trading through Futu OpenD, end to end: the fake OpenD (its own process: binary
 * frames, the md5 handshake, protobuf bodies, pushes) follows the built-in replay server of a
 * sample Shanghai day, which also feeds our quotes; two rules agents share one account. On the
 * simulate environment nothing is pushed (the order list is polled); on the real one (Stock
 * Connect) orders and fills are pushed, each of them twice here: every fill is booked once. Our
 * client order id rides in each order's remark. Time is virtual wall time.
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
import { FakeFutuProcess, type FakeFutuState } from '../support/fake-futu/process.js';
import { cleanupsPerTest, drive, rig, stop, until, type Rig } from '../support/live-rig.js';

const CN = new URL('../../data/sample/cn_hourly.jsonl', import.meta.url).pathname;
const CN_DAY = '2025-10-15';
const ALLOCATION = 100_000;
const OWN_CASH = 50_000;
const SIM = '1001';
const REAL = '281756479845123456';

const cleanup = cleanupsPerTest();

const liveCn = (fake: FakeFutuProcess, real: boolean): Config =>
  parseConfig(
    {
      mode: 'live',
      market: 'cn',
      frequency: 'hourly',
      data_source: { type: 'replay', bars_file: CN, replay_date: CN_DAY, replay_speed: 390, stale_quote_seconds: 7200 },
      broker: {
        type: 'futu',
        paper: !real,
        account_id: real ? REAL : SIM,
        ...(real ? { password_env: 'LIVE_T_FUTU_PWD' } : {}),
        futu: { host: '127.0.0.1', websocket_port: Number(new URL(fake.url).port), websocket_key_env: 'LIVE_T_FUTU_KEY', trd_market: real ? 'HKCC' : 'CN', keep_alive_seconds: 0 },
        // The fake charges no fees: the books then match it to the cent.
        fees: { cn: { commission_rate: 0, commission_min: 0, stamp_duty_rate: 0, transfer_fee_rate: 0 } },
      },
      risk_control: { min_cash_reserve: 1000, ...(real ? { live_ramp: { start_cap: 1_000_000, growth_per_trading_day: 0, max: 1_000_000 } } : {}) },
      models: [
        { name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
        { name: 'mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
      ],
      agent_config: { initial_cash: ALLOCATION },
    },
    'test',
  );

async function world(): Promise<{ out: string; history: PriceStore; fake: FakeFutuProcess }> {
  const out = await mkdtemp(join(tmpdir(), 'agent-trader-live-futu-'));
  cleanup.push(() => rm(out, { recursive: true, force: true }));
  const history = await loadPriceStore(CN, { market: 'cn' });
  const cash = String(2 * ALLOCATION + OWN_CASH);
  const fake = await FakeFutuProcess.start({
    startMs: Date.parse(`${CN_DAY}T01:30:00Z`),
    accounts: [
      { accID: SIM, trdEnv: 0, markets: [3], simAccType: 1, cash },
      { accID: REAL, trdEnv: 1, markets: [1, 4], cash },
    ],
  });
  cleanup.push(() => fake.stop());
  await fake.mode({ fill: 'immediate' });
  return { out, history, fake };
}

const env = (fake: FakeFutuProcess) => ({ LIVE_T_FUTU_KEY: fake.websocketKey!, LIVE_T_FUTU_PWD: fake.tradePassword, AGENT_TRADER_LIVE: 'I_UNDERSTAND' });

/** One order per client order id at OpenD, every filled share booked once, the account = the books + the external cash. */
async function expectBooksMatch(r: Rig, s: FakeFutuState, accId: string): Promise<void> {
  const ours = s.orders.filter((o) => o.acc_id === accId && /^(ew|mom)\./.test(o.remark ?? ''));
  expect(ours.length).toBeGreaterThan(3);
  expect(new Set(ours.map((o) => o.remark)).size).toBe(ours.length);
  await r.run.ledger.idle();
  for (const o of ours) expect({ cid: o.remark, booked: await r.run.ledger.filledQuantity(o.remark!) }).toEqual({ cid: o.remark, booked: o.fill_qty });
  const ew = r.run.ledger.account('ew');
  const mom = r.run.ledger.account('mom');
  const account = s.accounts.find((a) => a.acc_id === accId)!;
  for (const sym of new Set([...Object.keys(account.positions), ...Object.keys(ew.positions), ...Object.keys(mom.positions)])) {
    expect({ sym, qty: account.positions[sym]?.qty ?? 0 }).toEqual({ sym, qty: (ew.positions[sym]?.quantity ?? 0) + (mom.positions[sym]?.quantity ?? 0) });
  }
  expect(dec(account.cash).minus(ew.cash).minus(mom.cash).toFixed()).toBe(dec(OWN_CASH).toFixed());
}

describe('live on Futu OpenD (our own WebSocket + protobuf client)', () => {
  it('the simulate environment (paper): no pushes, the order list polled; every order once by its remark, every fill booked once, the account equal to the books', async () => {
    const { out, history, fake } = await world();
    const r = await rig(liveCn(fake, false), out, history, fake, env(fake));
    cleanup.push(() => stop(r));
    let done = false;
    void r.run.finished.then(() => (done = true));
    await until(fake, r, () => r.codes.includes('BROKER_RECONCILED'), 'the start-up reconciliation');
    await drive(r, fake, () => done);
    const s = await fake.state();
    expect(s.pushes_sent).toBe(0);
    await expectBooksMatch(r, s, SIM);
    expect(r.codes).not.toContain('EXTERNAL_ACTIVITY');
  });

  it('the real environment (Stock Connect): unlocked with the trade password, every push sent twice, each fill still booked once', async () => {
    const { out, history, fake } = await world();
    await fake.dupPushes(1_000);
    const r = await rig(liveCn(fake, true), out, history, fake, env(fake));
    cleanup.push(() => stop(r));
    let done = false;
    void r.run.finished.then(() => (done = true));
    await until(fake, r, () => r.codes.includes('BROKER_RECONCILED'), 'the start-up reconciliation');
    await drive(r, fake, () => done);
    const s = await fake.state();
    expect(s.unlocked).toBe(true);
    expect(s.pushes_sent).toBeGreaterThan(0);
    await expectBooksMatch(r, s, REAL);
    expect(r.codes).not.toContain('EXTERNAL_ACTIVITY');
  });
});

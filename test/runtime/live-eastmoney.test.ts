/**
 * Live A-share trading through EastMoney's web session (experimental), end to end: the fake site
 * (its own process: form posts, string numbers, the A-share counter) follows the built-in replay
 * server of a sample Shanghai day, which also feeds our quotes; two rules agents on one account.
 * Read-only (the default) sends nothing that could place an order; with trading on, the books end
 * equal to the counter; a session that expires mid-run halts trading and is never retried.
 * Time is virtual wall time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/actors/brokers/eastmoney/client.js';
import { EASTMONEY_ACK_ENV, EASTMONEY_ACK_VALUE } from '../../src/actors/brokers/eastmoney/settings.js';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { dec } from '../../src/domain/money.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { FakeEastMoneyProcess } from '../support/fake-eastmoney/process.js';
import { cleanupsPerTest, drive, engineOrders, rig, stop, until } from '../support/live-rig.js';

const CN = new URL('../../data/sample/cn_hourly.jsonl', import.meta.url).pathname;
const CN_DAY = '2025-10-15';
const ALLOCATION = 100_000;
const OWN_CASH = 50_000;

const cleanup = cleanupsPerTest();

const liveCn = (fake: FakeEastMoneyProcess, trading: boolean): Config =>
  parseConfig(
    {
      mode: 'live',
      market: 'cn',
      frequency: 'hourly',
      data_source: { type: 'replay', bars_file: CN, replay_date: CN_DAY, replay_speed: 390, stale_quote_seconds: 7200 },
      broker: {
        type: 'eastmoney',
        paper: false,
        eastmoney: { acknowledge_unofficial: true, base_url: fake.baseUrl, trading, ...(trading ? { max_order_shares: 10_000, max_order_value: 100_000 } : {}) },
        fees: { cn: { commission_rate: 0, commission_min: 0, stamp_duty_rate: 0, transfer_fee_rate: 0 } },
      },
      risk_control: { min_cash_reserve: 1000, live_ramp: { start_cap: 1_000_000, growth_per_trading_day: 0, max: 1_000_000 } },
      models: [
        { name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
        { name: 'mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
      ],
      agent_config: { initial_cash: ALLOCATION },
    },
    'test',
  );

async function world(): Promise<{ out: string; history: PriceStore; fake: FakeEastMoneyProcess; env: Record<string, string> }> {
  const out = await mkdtemp(join(tmpdir(), 'agent-trader-live-em-'));
  cleanup.push(() => rm(out, { recursive: true, force: true }));
  const history = await loadPriceStore(CN, { market: 'cn' });
  const fake = await FakeEastMoneyProcess.start({ cash: String(2 * ALLOCATION + OWN_CASH), startMs: Date.parse(`${CN_DAY}T01:30:00Z`) });
  cleanup.push(() => fake.dispose());
  await fake.mode({ fill: 'auto' });
  const env = { AGENT_TRADER_LIVE: 'I_UNDERSTAND', [EASTMONEY_ACK_ENV]: EASTMONEY_ACK_VALUE, EASTMONEY_COOKIE: fake.cookie, EASTMONEY_VALIDATEKEY: fake.validatekey };
  return { out, history, fake, env };
}

describe('live on EastMoney\'s web session (experimental)', () => {
  it('read-only (trading off): the account is read and reconciled, every order is refused before anything is sent', async () => {
    const { out, history, fake, env } = await world();
    const r = await rig(liveCn(fake, false), out, history, fake, env);
    cleanup.push(() => stop(r));
    let done = false;
    void r.run.finished.then(() => (done = true));
    await until(fake, r, () => r.codes.includes('BROKER_RECONCILED'), 'the start-up reconciliation');
    await drive(r, fake, () => done);
    expect(await fake.requests(ROUTES.submit)).toEqual([]);
    const rejected = r.events.filter((e) => e.type === 'order' && e.payload['status'] === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    expect(dec(r.run.ledger.account('ew').cash).toFixed()).toBe(String(ALLOCATION));
  });

  it('trading on: every entrust one order of ours, every fill booked once, the account equal to the books; an expired session then halts trading, never retried', async () => {
    const { out, history, fake, env } = await world();
    const r = await rig(liveCn(fake, true), out, history, fake, env);
    cleanup.push(() => stop(r));
    let done = false;
    void r.run.finished.then(() => (done = true));
    await until(fake, r, () => r.codes.includes('BROKER_RECONCILED'), 'the start-up reconciliation');
    // Until the second session began and every order so far is over (filled at the site and learned), then the session dies there.
    await drive(r, fake, () => done || (r.events.filter((e) => e.type === 'tick').length >= 2 && engineOrders(r).length === 0));
    const s = await fake.state();
    const accepted = new Set(r.events.filter((e) => e.type === 'order' && e.payload['status'] === 'accepted').map((e) => e.payload['clientOrderId']));
    expect(accepted.size).toBeGreaterThan(1);
    expect(s.orders.filter((o) => !o.external)).toHaveLength(accepted.size);
    await r.run.ledger.idle();
    const ew = r.run.ledger.account('ew');
    const mom = r.run.ledger.account('mom');
    for (const p of s.positions) {
      const sym = `${p.code}.${p.market === 'HA' ? 'SH' : 'SZ'}`;
      expect({ sym, qty: p.qty }).toEqual({ sym, qty: (ew.positions[sym]?.quantity ?? 0) + (mom.positions[sym]?.quantity ?? 0) });
    }
    expect(dec(s.cash).minus(ew.cash).minus(mom.cash).toFixed()).toBe(dec(OWN_CASH).toFixed());

    await fake.expire('redirect');
    const before = (await fake.requests()).length;
    await drive(r, fake, () => done);
    expect(r.codes).toContain('BROKER_AUTH_FAILED');
    // The one request that found the session dead (whichever it was), and nothing after the halt.
    expect((await fake.requests()).slice(before).length).toBeLessThanOrEqual(1);
  });
});

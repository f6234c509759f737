/**
 * A hostile quote server (issue 13, item 8): a real local Alpaca-protocol WebSocket server sends
 * valid-looking trades with absurd prices and times (a burst of them too), through the real AlpacaQuoteStream (as the
 * process opens it, behind the price sanity gate) into a paper run: two sessions of an
 * equal-weight agent, the stop-loss watcher on every quote, the simulated venue on the live
 * prices. Nothing may trade on a bad print; each case is counted and alerted once.
 *
 * Virtual wall time only: time moves one scheduled action at a time; between actions the test
 * waits for the sockets (every trade sent judged) and for the engine to settle.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { Metrics } from '../../src/actors/monitor/metrics.js';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { parseConfig } from '../../src/config/load.js';
import type { FeedEvent } from '../../src/domain/feed.js';
import type { PrintVerdict } from '../../src/domain/price-sanity.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { startPaper, type PaperRun } from '../../src/runtime/paper.js';
import { openQuoteSource, type QuoteSource } from '../../src/runtime/quote-source.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { AlpacaTestServer, type TradeSpec } from '../support/alpaca-server.js';

const SAMPLE = new URL('../../data/sample/us_hourly.jsonl', import.meta.url).pathname;
const ZONE = 'America/New_York';
const DAY = '2025-11-10';
const at = (hhmmss: string) => DateTime.fromISO(`${DAY}T${hhmmss}`, { zone: ZONE });
const SYMBOLS = ['AAPL', 'AMZN', 'GOOGL', 'MSFT', 'NVDA', 'TSLA'];

const config = parseConfig(
  {
    mode: 'paper',
    market: 'us',
    frequency: 'hourly',
    schedule: { trigger_times: ['10:05', '11:05'] },
    data_source: { type: 'alpaca', alpaca_url: 'ws://127.0.0.1:1/v2/test', key_env: 'ALPACA_KEY', secret_env: 'ALPACA_SECRET', bars_file: SAMPLE, symbols: SYMBOLS, stale_quote_seconds: 600 },
    risk_control: { min_cash_reserve: 1000, stop_loss_ratio: 0.08, max_single_position_ratio: 0.3 },
    models: [{ name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }],
    agent_config: { initial_cash: 10000 },
  },
  'test',
);

interface Rig {
  readonly server: AlpacaTestServer;
  readonly wall: EpochVirtualScheduler;
  readonly source: QuoteSource;
  readonly run: PaperRun;
  readonly metrics: Metrics;
  readonly events: FeedEvent[];
  readonly verdicts: PrintVerdict[];
  sent: number;
}

const turn = () => new Promise<void>((r) => setImmediate(r));

/** Every trade sent has been judged; then the engine has nothing left to do. */
async function settle(r: Rig): Promise<void> {
  while (r.verdicts.length < r.sent) await turn();
  let idle = 0;
  while (idle <= 3) {
    const before = r.events.length;
    await r.run.ledger.idle();
    await r.run.runtime.flush();
    await turn();
    const running = Object.keys(r.run.runtime.actor.getSnapshot().context.running).length;
    idle = running === 0 && r.events.length === before ? idle + 1 : 0;
  }
}

/** Move virtual wall time to `t`, one scheduled action at a time. */
async function advanceTo(r: Rig, t: DateTime): Promise<void> {
  await settle(r);
  for (;;) {
    const next = r.wall.actions[0];
    if (!next || next.delay > t.toMillis()) break;
    r.wall.advanceTo(next.delay);
    await settle(r);
  }
  r.wall.advanceTo(t.toMillis());
  await settle(r);
}

function push(r: Rig, trades: readonly TradeSpec[]): void {
  r.server.pushTrades(trades);
  r.sent += trades.length;
}

/** The history's price of a symbol at an instant: what legitimate trades print. */
const legit = (history: PriceStore, symbol: string, t: DateTime) => Number(history.priceAsOf(symbol, t)!.price.toFixed());
const iso = (t: DateTime) => t.toUTC().toISO()!;

describe('a paper run fed by a hostile quote server', () => {
  let dir: string;
  let r: Rig;
  let history: PriceStore;
  const normal: Record<string, number> = {};
  let nvdaMoved = 0;

  beforeAll(async () => {
    history = await loadPriceStore(SAMPLE, { market: 'us' });
    const server = await AlpacaTestServer.start({ key: 'k', secret: 's' });
    dir = await mkdtemp(join(tmpdir(), 'agent-trader-hostile-'));
    const wall = new EpochVirtualScheduler(at('09:59:00'));
    const cfg = { ...config, data_source: { ...config.data_source, alpaca_url: server.url } };
    const source = await openQuoteSource(cfg, { history, symbols: SYMBOLS, env: { ALPACA_KEY: 'k', ALPACA_SECRET: 's' }, wall });
    const verdicts: PrintVerdict[] = [];
    const metrics = new Metrics({ now: () => wall.now() });
    source.verdicts.subscribe((v) => {
      verdicts.push(v);
      metrics.observePricePrint(v);
    });
    const killSwitch = new KillSwitch(dir, () => wall.now(), { pollMs: 60_000 });
    const run = await startPaper({ config: cfg, outDir: dir, scheduler: source.scheduler, wall, quotes: source.feed, history, universe: SYMBOLS, killSwitch });
    const events: FeedEvent[] = [];
    run.events.subscribe((e) => {
      events.push(e);
      metrics.observe(e);
    });
    r = { server, wall, source, run, metrics, events, verdicts, sent: 0 };

    // 10:01: ordinary trades; the 10:05 session buys every symbol at them.
    for (const s of SYMBOLS) normal[s] = legit(history, s, at('10:00'));
    await advanceTo(r, at('10:01:00'));
    push(r, SYMBOLS.map((s) => ({ S: s, p: normal[s]!, t: iso(at('10:01:00')) })));
    await advanceTo(r, at('10:30:00'));

    // 11:01 ordinary trades again, then at 11:02 the hostile ones and a real move of NVDA.
    for (const s of SYMBOLS) normal[s] = legit(history, s, at('11:00'));
    await advanceTo(r, at('11:01:00'));
    push(r, SYMBOLS.map((s) => ({ S: s, p: normal[s]!, t: iso(at('11:01:00')) })));
    await advanceTo(r, at('11:02:00'));
    nvdaMoved = Math.round(normal['NVDA']! * 130) / 100;
    push(r, [
      { S: 'AAPL', p: 0.01, t: iso(at('11:02:00.100')) },
      { S: 'GOOGL', p: 1.5, t: iso(at('10:02:00')) }, // stamped an hour earlier
      // A burst: five prints 1 ms apart would be "confirmed" by count alone (found through a
      // hostile proxy: a take-profit then sold MSFT at $1e12); the move must also hold 60 s.
      ...[0, 1, 2, 3, 4].map((i) => ({ S: 'MSFT', p: 1e12, t: iso(at(`11:02:00.20${i}`)) })),
      { S: 'TSLA', p: normal['TSLA']!, t: '2030-01-02T15:00:00Z' }, // from the future
      { S: 'AAPL', p: 0.01, t: iso(at('11:02:00.300')) }, // the same outlier again: same episode
      { S: 'NVDA', p: nvdaMoved, t: iso(at('11:02:00.400')) },
    ]);
    await advanceTo(r, at('11:03:00'));
    // The move goes on: three further prints near it confirm it.
    push(r, [0.01, 0.02, 0.03].map((d, i) => ({ S: 'NVDA', p: Math.round((nvdaMoved + d) * 100) / 100, t: iso(at(`11:03:0${i}`)) })));
    await advanceTo(r, at('11:30:00'));
  }, 120_000);

  afterAll(async () => {
    await r?.run.stop();
    await r?.source.close();
    await r?.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const fills = () =>
    r.events
      .filter((e) => e.type === 'fill')
      .map((f) => {
        const order = r.events.find((e) => e.type === 'order' && e.payload['clientOrderId'] === f.payload['clientOrderId'] && e.payload['order']);
        return { cid: String(f.payload['clientOrderId']), symbol: (order!.payload['order'] as { symbol: string }).symbol, price: Number((f.payload['fill'] as { price: string }).price), atMs: (f.payload['fill'] as { atMs: number }).atMs };
      });

  it('ran both sessions and bought at the ordinary prices', () => {
    const ticks = r.events.filter((e) => e.type === 'tick').map((e) => e.payload['at']);
    expect(ticks).toEqual([`${DAY}T10:05:00-05:00`, `${DAY}T11:05:00-05:00`]);
    const first = fills().filter((f) => f.atMs < at('11:00').toMillis());
    expect(new Set(first.map((f) => f.symbol))).toEqual(new Set(SYMBOLS));
  });

  it('no stop-loss fired and no order filled at a bad price', () => {
    const orders = r.events.filter((e) => e.type === 'order').map((e) => String(e.payload['clientOrderId']));
    expect(orders.filter((cid) => cid.includes('SL-'))).toEqual([]);
    for (const f of fills()) {
      const expected = f.symbol === 'NVDA' && f.atMs > at('11:03').toMillis() ? nvdaMoved : normal[f.symbol]!;
      expect(Math.abs(f.price / expected - 1), `${f.cid} ${f.symbol} at ${f.price}`).toBeLessThan(0.05);
    }
    // The venue, risk and the agents read prices through the feed: its last prices are the good ones.
    expect(r.source.feed.last('AAPL')!.price).toBe(String(normal['AAPL']));
    expect(r.source.feed.last('GOOGL')!.price).toBe(String(normal['GOOGL']));
    expect(r.source.feed.last('MSFT')!.price).toBe(String(normal['MSFT']));
    expect(r.source.feed.last('TSLA')!.atMs).toBe(at('11:01').toMillis());
  });

  it('lets a move confirmed by further prints through: NVDA trades at its new level', () => {
    expect(Number(r.source.feed.last('NVDA')!.price)).toBeCloseTo(nvdaMoved + 0.03, 6);
    expect(r.verdicts.filter((v) => v.print.symbol === 'NVDA').map((v) => v.outcome)).toEqual(['accepted', 'accepted', 'quarantined', 'quarantined', 'quarantined', 'confirmed']);
  });

  it('alerts once per symbol and episode, with the codes of docs/alerts.md', () => {
    const alerts = r.events.filter((e) => e.type === 'alert' && String(e.payload['code']).startsWith('PRICE_')).map((e) => `${String(e.payload['code'])} ${String(e.payload['message']).split(' ')[0]}`);
    expect(alerts.sort()).toEqual(['PRICE_DROPPED GOOGL', 'PRICE_DROPPED TSLA', 'PRICE_QUARANTINED AAPL', 'PRICE_QUARANTINED MSFT', 'PRICE_QUARANTINED NVDA']);
  });

  it('counts each case in agent_trader_price_prints_total', async () => {
    const text = await r.metrics.text();
    const count = (rule: string, outcome: string) => {
      const m = new RegExp(`^agent_trader_price_prints_total\\{rule="${rule}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };
    expect({
      accepted: count('none', 'accepted'),
      out_of_order: count('out_of_order', 'dropped'),
      future: count('future', 'dropped'),
      deviation: count('deviation', 'quarantined'),
      confirmed: count('deviation', 'confirmed'),
    }).toEqual({ accepted: 12, out_of_order: 1, future: 1, deviation: 2 + 5 + 3, confirmed: 1 });
  });
});

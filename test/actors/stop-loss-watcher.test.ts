import { eventually } from '../support/eventually.js';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { RiskControlSchema } from '../../src/config/schema.js';
import { StopLossWatcher, type StopLossAlert, type StopLossWatcherDeps } from '../../src/actors/risk/stop-loss-watcher.js';
import { isOpenAt, nextOpen } from '../../src/domain/calendar/index.js';
import { MARKETS, type Market } from '../../src/domain/markets.js';
import { dec, type Dec } from '../../src/domain/money.js';
import type { OrderIntent, OrderResult } from '../../src/domain/orders.js';
import { applyFill, openAccount, type Account, type Position } from '../../src/domain/portfolio.js';
import type { ReasonCode } from '../../src/domain/reasons.js';
import { stopRatiosFromConfig, type StopRatios, type StopTrigger } from '../../src/domain/risk/stop-loss.js';
import { AlpacaQuoteStream } from '../../src/streams/alpaca-quotes.js';
import { AlpacaTestServer } from '../support/alpaca-server.js';

const DEFAULT_RATIOS = stopRatiosFromConfig(RiskControlSchema.parse({})); // stop-loss 8%, nothing else

/** A ledger stand-in built on the real portfolio math: immutable accounts, lots with dates. */
class Book {
  readonly accounts = new Map<string, Account>();
  constructor(signatures: readonly string[]) {
    for (const s of signatures) this.accounts.set(s, openAccount(10_000_000));
  }
  fill(signature: string, side: 'buy' | 'sell', symbol: string, quantity: number, price: string, date: string): void {
    this.accounts.set(signature, applyFill(this.accounts.get(signature)!, { side, symbol, quantity, price, date }));
  }
  positions = (signature: string): Readonly<Record<string, Position>> => this.accounts.get(signature)!.positions;
}

interface Placed {
  signature: string;
  intent: OrderIntent;
  reason: StopTrigger;
  atIso: string;
  id: string;
}

function harness(o: { market: Market; signatures?: string[]; ratios?: StopRatios; at: string; prevClose?: Record<string, string>; extra?: Partial<StopLossWatcherDeps> }) {
  const signatures = o.signatures ?? ['alpha'];
  const zone = MARKETS[o.market].zone;
  const book = new Book(signatures);
  const orders: Placed[] = [];
  const alerts: StopLossAlert[] = [];
  let nowMs = DateTime.fromISO(o.at, { zone }).toMillis();
  const watcher = new StopLossWatcher({
    market: o.market,
    ratios: o.ratios ?? DEFAULT_RATIOS,
    signatures,
    positions: book.positions,
    now: () => nowMs,
    isOpenAt,
    nextOpen,
    placeOrder: (signature, intent, reason, atIso, id) => orders.push({ signature, intent, reason, atIso, id }),
    ...(o.prevClose ? { prevClose: (s: string): Dec | undefined => (o.prevClose![s] !== undefined ? dec(o.prevClose![s]!) : undefined) } : {}),
    alert: (a) => alerts.push(a),
    ...o.extra,
  });
  const at = (iso: string) => (nowMs = DateTime.fromISO(iso, { zone }).toMillis());
  const quote = (symbol: string, price: string, when?: string) => {
    if (when) at(when);
    watcher.onQuote({ symbol, price, atMs: nowMs, source: 'test' });
  };
  const result = (order: Placed, status: OrderResult['status'], reason?: ReasonCode, filledQuantity = status === 'filled' ? order.intent.quantity : 0) =>
    watcher.onResult({
      clientOrderId: order.id,
      intent: order.intent,
      status,
      filledQuantity,
      fees: '0',
      ...(reason ? { reason, message: `${reason}: test` } : {}),
    });
  /** The broker filled the order and the ledger applied it. */
  const fill = (order: Placed, price: string, date: string) => {
    book.fill(order.signature, 'sell', order.intent.symbol, order.intent.quantity, price, date);
    return result(order, 'filled');
  };
  return { watcher, book, orders, alerts, at, quote, result, fill };
}

describe('StopLossWatcher: fires once per position', () => {
  it('sends ONE market sell of the whole position when the price reaches the stop, and none after', () => {
    const h = harness({ market: 'us', at: '2025-10-09T10:00' });
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '190');
    h.quote('AAPL', '184.01');
    expect(h.orders).toEqual([]);
    h.quote('AAPL', '184', '2025-10-09T10:05'); // 200 x 0.92: at the stop
    h.quote('AAPL', '180');
    h.quote('AAPL', '170');
    expect(h.orders).toEqual([
      {
        signature: 'alpha',
        intent: { side: 'sell', symbol: 'AAPL', quantity: 100, type: 'market' },
        reason: 'STOP_LOSS',
        atIso: '2025-10-09T10:05:00.000-04:00',
        id: 'alpha.20251009T1005.SL-AAPL',
      },
    ]);
    expect(h.watcher.phaseOf('alpha', 'AAPL')).toBe('pending');
    expect(h.fill(h.orders[0]!, '184', '2025-10-09')).toBe('done');
    h.quote('AAPL', '150');
    expect(h.orders).toHaveLength(1);
    expect(h.alerts).toEqual([]);
  });

  it('checks every holder of the symbol on each quote, and only them', () => {
    const h = harness({ market: 'us', signatures: ['alpha', 'beta', 'gamma'], at: '2025-10-09T10:00' });
    h.book.fill('alpha', 'buy', 'AAPL', 10, '200', '2025-10-08');
    h.book.fill('beta', 'buy', 'AAPL', 20, '190', '2025-10-08'); // stop 174.80
    h.book.fill('gamma', 'buy', 'MSFT', 5, '400', '2025-10-08');
    h.quote('AAPL', '180');
    expect(h.orders.map((o) => [o.signature, o.intent.quantity])).toEqual([['alpha', 10]]);
    h.quote('AAPL', '174.80');
    expect(h.orders.map((o) => [o.signature, o.intent.quantity])).toEqual([['alpha', 10], ['beta', 20]]);
    h.quote('NVDA', '1');
    expect(h.watcher.stats()).toMatchObject({ quotes: 3, quotesHeld: 2, checks: 4, orders: 2 });
  });

  it('a position closed and bought again is a new position, watched again', () => {
    const h = harness({ market: 'us', at: '2025-10-09T10:00' });
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '180');
    h.fill(h.orders[0]!, '180', '2025-10-09');
    h.quote('AAPL', '179'); // flat: the record goes
    expect(h.watcher.phaseOf('alpha', 'AAPL')).toBeUndefined();
    h.book.fill('alpha', 'buy', 'AAPL', 50, '179', '2025-10-09'); // stop 164.68
    h.quote('AAPL', '170', '2025-10-09T11:00');
    expect(h.orders).toHaveLength(1);
    h.quote('AAPL', '164.68');
    expect(h.orders).toHaveLength(2);
    expect(h.orders[1]).toMatchObject({ intent: { quantity: 50 }, id: 'alpha.20251009T1100.SL-AAPL-2' });
  });

  it('a re-buy between two quotes (never seen flat) is still a new position', () => {
    const h = harness({ market: 'us', at: '2025-10-09T10:00' });
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '180');
    h.fill(h.orders[0]!, '180', '2025-10-09');
    h.book.fill('alpha', 'buy', 'AAPL', 100, '181', '2025-10-09'); // stop 166.52
    h.quote('AAPL', '170');
    expect(h.watcher.phaseOf('alpha', 'AAPL')).toBe('watching');
    h.quote('AAPL', '166');
    expect(h.orders).toHaveLength(2);
  });

  it('a fill reported before the ledger applied it does not fire a second sell', () => {
    const h = harness({ market: 'us', at: '2025-10-09T10:00' });
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '180');
    expect(h.result(h.orders[0]!, 'filled')).toBe('done'); // the ledger still shows 100 shares
    h.quote('AAPL', '179');
    h.quote('AAPL', '178');
    expect(h.orders).toHaveLength(1);
  });

  it('a sell placed from inside placeOrder (a synchronous broker) is not doubled', () => {
    let h!: ReturnType<typeof harness>;
    h = harness({
      market: 'us',
      at: '2025-10-09T10:00',
      extra: {
        placeOrder: (signature, intent, reason, atIso, id) => {
          h.orders.push({ signature, intent, reason, atIso, id });
          h.quote(intent.symbol, '179'); // re-entrant quote while placing
          h.fill(h.orders.at(-1)!, '179', '2025-10-09');
        },
      },
    });
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '180');
    h.quote('AAPL', '170');
    expect(h.orders).toHaveLength(1);
  });

  it('take-profit and trailing stop are off by default, on when their ratios are set', () => {
    const off = harness({ market: 'us', at: '2025-10-09T10:00' });
    off.book.fill('alpha', 'buy', 'AAPL', 100, '100', '2025-10-08');
    for (const p of ['150', '500', '400', '300', '100']) off.quote('AAPL', p);
    expect(off.orders).toEqual([]);

    const tp = harness({ market: 'us', at: '2025-10-09T10:00', ratios: { ...DEFAULT_RATIOS, takeProfit: dec('0.5') } });
    tp.book.fill('alpha', 'buy', 'AAPL', 100, '100', '2025-10-08');
    tp.quote('AAPL', '149.99');
    tp.quote('AAPL', '150');
    expect(tp.orders.map((o) => o.reason)).toEqual(['TAKE_PROFIT']);

    const ts = harness({ market: 'us', at: '2025-10-09T10:00', ratios: { ...DEFAULT_RATIOS, trailingStop: dec('0.1') } });
    ts.book.fill('alpha', 'buy', 'AAPL', 100, '100', '2025-10-08');
    for (const p of ['105', '120', '110', '108.01']) ts.quote('AAPL', p);
    expect(ts.orders).toEqual([]);
    ts.quote('AAPL', '108'); // 10% under the high of 120
    expect(ts.orders.map((o) => o.reason)).toEqual(['TRAILING_STOP']);
  });

  it('does nothing at all with enable_stop_loss false and no other rule', () => {
    const h = harness({ market: 'us', at: '2025-10-09T10:00', ratios: stopRatiosFromConfig(RiskControlSchema.parse({ enable_stop_loss: false })) });
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '1');
    expect(h.orders).toEqual([]);
    expect(h.watcher.stats().checks).toBe(0);
  });
});

describe('StopLossWatcher: T+1 and price limits (A-shares)', () => {
  const S = '600519.SH';

  it('an A-share bought today is sold on the first quote at/after the next open', () => {
    const h = harness({ market: 'cn', at: '2025-10-09T10:00' });
    h.book.fill('alpha', 'buy', S, 100, '1500', '2025-10-09'); // stop 1380
    h.quote(S, '1370');
    expect(h.orders).toEqual([]);
    expect(h.watcher.phaseOf('alpha', S)).toBe('deferred');
    h.quote(S, '1360', '2025-10-09T14:59');
    h.quote(S, '1360', '2025-10-10T09:25'); // call auction, before the open
    expect(h.orders).toEqual([]);
    h.quote(S, '1390', '2025-10-10T09:30'); // the exit is committed: sold even above the stop
    expect(h.orders).toEqual([
      { signature: 'alpha', intent: { side: 'sell', symbol: S, quantity: 100, type: 'market' }, reason: 'STOP_LOSS', atIso: '2025-10-10T09:30:00.000+08:00', id: 'alpha.20251010T0930.SL-600519.SH' },
    ]);
  });

  it('older lots go now, today\'s lots by a follow-up order at the next open', () => {
    const h = harness({ market: 'cn', at: '2025-10-10T10:00' });
    h.book.fill('alpha', 'buy', S, 500, '1500', '2025-10-09');
    h.book.fill('alpha', 'buy', S, 300, '1500', '2025-10-10');
    h.quote(S, '1380');
    expect(h.orders.map((o) => o.intent.quantity)).toEqual([500]);
    expect(h.fill(h.orders[0]!, '1380', '2025-10-10')).toBe('follow-up');
    h.quote(S, '1370', '2025-10-10T14:00');
    expect(h.orders).toHaveLength(1);
    h.quote(S, '1375', '2025-10-13T09:31'); // Monday
    expect(h.orders.map((o) => [o.intent.quantity, o.id])).toEqual([
      [500, 'alpha.20251010T1000.SL-600519.SH'],
      [300, 'alpha.20251013T0931.SL-600519.SH-2'],
    ]);
  });

  it('a stock at limit-down is sold when it trades above it', () => {
    const h = harness({ market: 'cn', at: '2025-10-10T10:00', prevClose: { [S]: '1400' } }); // limit-down 1260
    h.book.fill('alpha', 'buy', S, 100, '1500', '2025-10-09');
    h.quote(S, '1260');
    h.quote(S, '1260');
    expect(h.orders).toEqual([]);
    expect(h.watcher.phaseOf('alpha', S)).toBe('deferred');
    h.quote(S, '1260.01');
    expect(h.orders.map((o) => o.intent.quantity)).toEqual([100]);
  });

  it('without a previous close, a PRICE_LIMIT rejection is retried on a higher price', () => {
    const h = harness({ market: 'cn', at: '2025-10-10T10:00' });
    h.book.fill('alpha', 'buy', S, 100, '1500', '2025-10-09');
    h.quote(S, '1260');
    expect(h.result(h.orders[0]!, 'rejected', 'PRICE_LIMIT')).toBe('retry');
    h.quote(S, '1260');
    h.quote(S, '1259');
    expect(h.orders).toHaveLength(1);
    h.quote(S, '1261', '2025-10-10T10:01');
    expect(h.orders.map((o) => o.id)).toEqual(['alpha.20251010T1000.SL-600519.SH', 'alpha.20251010T1001.SL-600519.SH-2']);
  });

  it('a T_PLUS_ONE rejection is re-armed for the next trading day\'s open', () => {
    const h = harness({ market: 'cn', at: '2025-10-10T10:00' });
    h.book.fill('alpha', 'buy', S, 100, '1500', '2025-10-09');
    h.quote(S, '1300');
    expect(h.result(h.orders[0]!, 'rejected', 'T_PLUS_ONE')).toBe('retry');
    h.quote(S, '1300', '2025-10-10T14:00');
    expect(h.orders).toHaveLength(1);
    h.quote(S, '1300', '2025-10-13T09:30');
    expect(h.orders).toHaveLength(2);
  });
});

describe('StopLossWatcher: results and closed markets', () => {
  it('a trigger outside trading hours is sold at the next open; a MARKET_CLOSED rejection is re-armed', () => {
    const h = harness({ market: 'us', at: '2025-10-09T18:00' }); // after-hours print
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '180');
    expect(h.orders).toEqual([]);
    h.quote('AAPL', '181', '2025-10-10T09:30');
    expect(h.orders).toHaveLength(1);
    expect(h.result(h.orders[0]!, 'rejected', 'MARKET_CLOSED')).toBe('retry'); // the venue disagrees with the calendar
    h.quote('AAPL', '181', '2025-10-10T09:30:30');
    expect(h.orders).toHaveLength(1);
    h.quote('AAPL', '181', '2025-10-10T09:31');
    expect(h.orders).toHaveLength(2);
  });

  it('a queued result keeps the order in flight', () => {
    const h = harness({ market: 'us', at: '2025-10-09T10:00' });
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '180');
    expect(h.result(h.orders[0]!, 'queued')).toBe('queued');
    expect(h.watcher.phaseOf('alpha', 'AAPL')).toBe('pending');
    expect(h.fill(h.orders[0]!, '180', '2025-10-09')).toBe('done');
  });

  it('any other rejection ends the watch with a critical alert', () => {
    const h = harness({ market: 'us', at: '2025-10-09T10:00' });
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '180');
    expect(h.result(h.orders[0]!, 'rejected', 'BROKER_REJECTED')).toBe('failed');
    h.quote('AAPL', '170');
    expect(h.orders).toHaveLength(1);
    expect(h.alerts).toEqual([
      {
        level: 'critical',
        code: 'STOP_LOSS_ORDER_FAILED',
        message: 'STOP_LOSS sell of 100 AAPL for alpha ended rejected (0 filled): BROKER_REJECTED: BROKER_REJECTED: test; the position is no longer protected until it changes',
        signature: 'alpha',
        symbol: 'AAPL',
        clientOrderId: 'alpha.20251009T1000.SL-AAPL',
      },
    ]);
    expect(h.watcher.phaseOf('alpha', 'AAPL')).toBe('done');
  });

  it('gives up after maxAttempts orders, with an alert', () => {
    const h = harness({ market: 'us', at: '2025-10-09T10:00', extra: { maxAttempts: 2 } });
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '180');
    h.result(h.orders[0]!, 'rejected', 'PRICE_LIMIT');
    h.quote('AAPL', '181');
    expect(h.result(h.orders[1]!, 'rejected', 'PRICE_LIMIT')).toBe('failed');
    h.quote('AAPL', '182');
    expect(h.orders).toHaveLength(2);
    expect(h.alerts.map((a) => a.code)).toEqual(['STOP_LOSS_GAVE_UP']);
  });

  it('ignores results of orders it did not place', () => {
    const h = harness({ market: 'us', at: '2025-10-09T10:00' });
    expect(h.watcher.onResult({ clientOrderId: 'x', intent: { side: 'sell', symbol: 'AAPL', quantity: 1, type: 'market' }, status: 'filled', filledQuantity: 1, fees: '0' })).toBe('unknown');
  });

  it('a snapshot carries an order in flight across a restart', () => {
    const h = harness({ market: 'us', at: '2025-10-09T10:00' });
    h.book.fill('alpha', 'buy', 'AAPL', 100, '200', '2025-10-08');
    h.quote('AAPL', '180');
    const snap = JSON.parse(JSON.stringify(h.watcher.snapshot()));
    const h2 = harness({ market: 'us', at: '2025-10-09T10:01' });
    h2.book.accounts.set('alpha', h.book.accounts.get('alpha')!);
    h2.watcher.restore(snap);
    h2.quote('AAPL', '170');
    expect(h2.orders).toEqual([]);
    expect(h2.result(h.orders[0]!, 'rejected', 'PRICE_LIMIT')).toBe('retry');
    h2.quote('AAPL', '180.5');
    expect(h2.orders.map((o) => o.id)).toEqual(['alpha.20251009T1001.SL-AAPL-2']);
  });
});

// ---------------------------------------------------------------------------------------


describe('integration: quotes from a real local WebSocket server trigger a stop-loss', () => {
  let server: AlpacaTestServer | undefined;
  let stream: AlpacaQuoteStream | undefined;
  afterEach(async () => {
    await stream?.close();
    await server?.close();
  });

  it('falling trades of a held symbol make the watcher place a STOP_LOSS sell', async () => {
    server = await AlpacaTestServer.start({ key: 'k', secret: 's' });
    stream = new AlpacaQuoteStream({ url: server.url, key: 'k', secret: 's', trades: ['AAPL', 'MSFT'] });
    const positions: Record<string, Readonly<Record<string, Position>>> = {
      alpha: { AAPL: { quantity: 100, costBasis: dec('20000'), lots: [{ date: '2025-10-08', quantity: 100 }] } },
      beta: { MSFT: { quantity: 10, costBasis: dec('4000'), lots: [{ date: '2025-10-08', quantity: 10 }] } },
    };
    const placed: Placed[] = [];
    const now = DateTime.fromISO('2025-10-09T10:00', { zone: 'America/New_York' }).toMillis();
    const watcher = new StopLossWatcher({
      market: 'us',
      ratios: DEFAULT_RATIOS,
      signatures: ['alpha', 'beta'],
      positions: (s) => positions[s]!,
      now: () => now,
      isOpenAt,
      nextOpen,
      placeOrder: (signature, intent, reason, atIso, id) => placed.push({ signature, intent, reason, atIso, id }),
    });
    stream.quotes.subscribe((q) => watcher.onQuote(q));
    await stream.connect();

    server.pushTrades([{ S: 'AAPL', p: 199.5 }, { S: 'MSFT', p: 399 }]);
    server.pushTrades([{ S: 'AAPL', p: 190.25 }]);
    server.pushTrades([{ S: 'AAPL', p: 183.99 }, { S: 'AAPL', p: 183 }]);
    await eventually(() => expect(placed).toHaveLength(1));
    expect(placed[0]).toEqual({
      signature: 'alpha',
      intent: { side: 'sell', symbol: 'AAPL', quantity: 100, type: 'market' },
      reason: 'STOP_LOSS',
      atIso: '2025-10-09T10:00:00.000-04:00',
      id: 'alpha.20251009T1000.SL-AAPL',
    });
    server.pushTrades([{ S: 'AAPL', p: 150 }, { S: 'MSFT', p: 1 }]);
    await eventually(() => expect(placed).toHaveLength(2));
    expect(placed[1]).toMatchObject({ signature: 'beta', intent: { symbol: 'MSFT', quantity: 10 } });
    await eventually(() => expect(stream!.stats().trades).toBe(7));
    expect(placed).toHaveLength(2);
  });
});

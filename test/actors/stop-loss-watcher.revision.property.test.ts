/**
 * Property (issue 20): the stop-loss watcher's `revision` moves exactly when its snapshot does.
 * The commit (src/runtime/commit.ts `joinWatcher`) collects the snapshot only when the revision
 * moved, so a change it missed would be lost at a restart; a move without a change costs a write.
 *
 * Random runs drive a watcher (stop-loss, take-profit and trailing stop all on, both markets)
 * through what it meets: buys and sells of the ledger, quotes at prices around the cost, time
 * passing into closed hours and the next days, protective orders' results of every kind
 * (filled, follow-up, retryable and final rejections, queued, stale and unknown ids), a broker
 * answering inside `placeOrder`, a `placeOrder` that throws, and restores of earlier snapshots.
 * After each step: revision moved <=> JSON.stringify(snapshot()) changed (a restore must move
 * it when the state changed; restoring the same state may move it too).
 */
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { RiskControlSchema } from '../../src/config/schema.js';
import { StopLossWatcher, type StopLossWatcherSnapshot, type StopResultOutcome } from '../../src/actors/risk/stop-loss-watcher.js';
import { isOpenAt, nextOpen } from '../../src/domain/calendar/index.js';
import { MARKETS, type Market } from '../../src/domain/markets.js';
import { dec } from '../../src/domain/money.js';
import type { OrderIntent, OrderResult } from '../../src/domain/orders.js';
import { applyFill, openAccount, type Account } from '../../src/domain/portfolio.js';
import type { ReasonCode } from '../../src/domain/reasons.js';
import { stopRatiosFromConfig } from '../../src/domain/risk/stop-loss.js';

const RATIOS = stopRatiosFromConfig(RiskControlSchema.parse({ stop_loss_ratio: 0.08, take_profit_ratio: 0.1, trailing_stop_ratio: 0.05 }));
const SIGNATURES = ['alpha', 'beta'] as const;
const SYMBOLS = ['X', 'Y'] as const;
/** Trading days in both calendars (cn: after the October holidays). */
const START: Record<Market, string> = { us: '2025-10-13T10:00', cn: '2025-10-13T10:00' };
const PREV_CLOSE = dec(100); // cn's daily band: 90..110

type Step =
  | { readonly op: 'buy'; readonly sig: number; readonly sym: number; readonly lots: number; readonly price: number }
  | { readonly op: 'sell'; readonly sig: number; readonly sym: number; readonly lots: number }
  | { readonly op: 'quote'; readonly sym: number; readonly price: number }
  | { readonly op: 'wait'; readonly minutes: number }
  | { readonly op: 'result'; readonly order: number; readonly status: 'filled' | 'partial' | 'queued' | 'cancelled' | 'expired' | 'rejected'; readonly reason: ReasonCode | undefined; readonly bogus: boolean }
  | { readonly op: 'broker'; readonly mode: 'async' | 'throw' | 'reject-now' | 'fill-now' }
  | { readonly op: 'restore'; readonly back: number };

const price = fc.integer({ min: 160, max: 240 }); // half-units: 80.0 .. 120.0
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('buy' as const), sig: fc.nat(1), sym: fc.nat(1), lots: fc.integer({ min: 1, max: 3 }), price }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('sell' as const), sig: fc.nat(1), sym: fc.nat(1), lots: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('quote' as const), sym: fc.nat(1), price }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('wait' as const), minutes: fc.constantFrom(1, 30, 90, 240, 960, 1440, 2880) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('result' as const),
      order: fc.nat(4), // 0: the latest order
      status: fc.constantFrom('filled', 'filled', 'partial', 'queued', 'cancelled', 'expired', 'rejected', 'rejected', 'rejected'),
      reason: fc.constantFrom<ReasonCode | undefined>('PRICE_LIMIT', 'MARKET_CLOSED', 'T_PLUS_ONE', 'INSUFFICIENT_POSITION', undefined),
      bogus: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('broker' as const), mode: fc.constantFrom('async', 'async', 'throw', 'reject-now', 'fill-now') }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restore' as const), back: fc.nat(10) }) },
);

interface Placed {
  readonly signature: string;
  readonly intent: OrderIntent;
  readonly id: string;
}

/** What the runs reached, so the property is known to cover the watcher's paths. */
const reached = { outcomes: new Set<StopResultOutcome>(), phases: new Set<string>(), moves: 0, steps: 0 };

function run(market: Market, steps: readonly Step[]): void {
  const zone = MARKETS[market].zone;
  const accounts = new Map<string, Account>(SIGNATURES.map((s) => [s, openAccount(10_000_000)]));
  let nowMs = DateTime.fromISO(START[market], { zone }).toMillis();
  const today = () => DateTime.fromMillis(nowMs, { zone }).toISODate()!;
  const fill = (signature: string, side: 'buy' | 'sell', symbol: string, quantity: number, px: string) =>
    accounts.set(signature, applyFill(accounts.get(signature)!, { side, symbol, quantity, price: px, date: today() }));
  const held = (signature: string, symbol: string) => accounts.get(signature)!.positions[symbol]?.quantity ?? 0;
  const placed: Placed[] = [];
  let broker: 'async' | 'throw' | 'reject-now' | 'fill-now' = 'async';
  let lastPrice: Record<string, string> = { X: '100', Y: '100' };

  const result = (o: Placed, status: OrderResult['status'], filledQuantity: number, reason?: ReasonCode): OrderResult => ({
    clientOrderId: o.id,
    intent: o.intent,
    status,
    filledQuantity,
    fees: '0',
    ...(reason !== undefined ? { reason, message: `${reason}: test` } : {}),
  });
  const watcher: StopLossWatcher = new StopLossWatcher({
    market,
    ratios: RATIOS,
    signatures: SIGNATURES,
    positions: (s) => accounts.get(s)!.positions,
    now: () => nowMs,
    isOpenAt,
    nextOpen,
    prevClose: () => PREV_CLOSE,
    maxAttempts: 3,
    placeOrder: (signature, intent, _reason, _atIso, id) => {
      const o = { signature, intent, id };
      if (broker === 'throw') throw new Error('broker down');
      placed.push(o);
      // A simulated broker answering synchronously re-enters the watcher.
      if (broker === 'reject-now') reached.outcomes.add(watcher.onResult(result(o, 'rejected', 0, 'MARKET_CLOSED')));
      if (broker === 'fill-now' && held(signature, intent.symbol) >= intent.quantity) {
        fill(signature, 'sell', intent.symbol, intent.quantity, lastPrice[intent.symbol]!);
        reached.outcomes.add(watcher.onResult(result(o, 'filled', intent.quantity)));
      }
    },
  });

  const history: StopLossWatcherSnapshot[] = [];
  let text = JSON.stringify(watcher.snapshot());
  let revision = watcher.revision;
  for (const s of steps) {
    switch (s.op) {
      case 'buy':
        fill(SIGNATURES[s.sig]!, 'buy', SYMBOLS[s.sym]!, s.lots * 100, (s.price / 2).toFixed(1));
        break;
      case 'sell': {
        const sig = SIGNATURES[s.sig]!;
        const sym = SYMBOLS[s.sym]!;
        const q = Math.min(held(sig, sym), s.lots * 100);
        if (q > 0) fill(sig, 'sell', sym, q, lastPrice[sym]!);
        break;
      }
      case 'quote': {
        const px = (s.price / 2).toFixed(1);
        lastPrice = { ...lastPrice, [SYMBOLS[s.sym]!]: px };
        watcher.onQuote({ symbol: SYMBOLS[s.sym]!, price: px, atMs: nowMs, source: 'test' });
        break;
      }
      case 'wait':
        nowMs += s.minutes * 60_000;
        break;
      case 'result': {
        const o = placed[placed.length - 1 - (s.order % Math.max(1, placed.length))];
        if (o === undefined) break;
        if (s.bogus) {
          reached.outcomes.add(watcher.onResult({ ...result(o, 'filled', o.intent.quantity), clientOrderId: `${o.id}-unknown` }));
          break;
        }
        const q = o.intent.quantity;
        const part = Math.min(held(o.signature, o.intent.symbol), s.status === 'partial' ? Math.floor(q / 2) : s.status === 'filled' ? q : 0);
        if (part > 0) fill(o.signature, 'sell', o.intent.symbol, part, lastPrice[o.intent.symbol]!);
        const status = s.status === 'partial' ? 'cancelled' : s.status;
        reached.outcomes.add(watcher.onResult(result(o, status, s.status === 'filled' ? q : part, s.status === 'rejected' ? s.reason : undefined)));
        break;
      }
      case 'broker':
        broker = s.mode;
        break;
      case 'restore': {
        const snap = history[Math.max(0, history.length - 1 - s.back)];
        if (snap !== undefined) watcher.restore(structuredClone(snap));
        break;
      }
    }
    const now = JSON.stringify(watcher.snapshot());
    const moved = watcher.revision !== revision;
    reached.steps++;
    if (moved) reached.moves++;
    if (s.op === 'restore') {
      if (now !== text) expect(moved, `restore changed the snapshot without moving the revision`).toBe(true);
    } else {
      expect({ step: s, moved }).toEqual({ step: s, moved: now !== text });
    }
    for (const r of watcher.snapshot().records) reached.phases.add(r.phase.kind === 'deferred' ? `deferred:${String(r.phase['until'])}` : r.phase.kind);
    history.push(watcher.snapshot());
    text = now;
    revision = watcher.revision;
  }
}

describe('StopLossWatcher: revision', () => {
  it('moves exactly when the snapshot changes, over random runs in both markets', () => {
    fc.assert(
      fc.property(fc.constantFrom<Market>('us', 'cn'), fc.array(step, { minLength: 30, maxLength: 120, size: 'max' }), (market, steps) => run(market, steps)),
      { numRuns: 150, seed: 20 },
    );
    // The runs reached every phase and every way a result ends (else the property proves little).
    expect([...reached.phases].sort()).toEqual(['deferred:aboveLimitDown', 'deferred:open', 'done', 'pending', 'watching']);
    expect([...reached.outcomes].sort()).toEqual(['done', 'failed', 'follow-up', 'queued', 'retry', 'rewatch', 'stale', 'unknown']);
    expect(reached.moves).toBeGreaterThan(reached.steps / 10);
  });

  it('does not move on quotes that change nothing (a held position between its thresholds, a symbol nobody holds)', () => {
    const accounts = new Map<string, Account>([['alpha', applyFill(openAccount(1_000_000), { side: 'buy', symbol: 'X', quantity: 100, price: '100', date: '2025-10-10' })]]);
    const nowMs = DateTime.fromISO('2025-10-13T10:00', { zone: MARKETS.us.zone }).toMillis();
    const watcher = new StopLossWatcher({
      market: 'us',
      ratios: stopRatiosFromConfig(RiskControlSchema.parse({})),
      signatures: ['alpha'],
      positions: (s) => accounts.get(s)!.positions,
      now: () => nowMs,
      isOpenAt,
      nextOpen,
      placeOrder: () => {},
    });
    watcher.onQuote({ symbol: 'X', price: '99', atMs: nowMs, source: 'test' }); // the record appears
    const r = watcher.revision;
    for (const px of ['98', '101', '95', '93']) watcher.onQuote({ symbol: 'X', price: px, atMs: nowMs, source: 'test' });
    watcher.onQuote({ symbol: 'Y', price: '1', atMs: nowMs, source: 'test' });
    expect(watcher.revision).toBe(r);
    watcher.onQuote({ symbol: 'X', price: '92', atMs: nowMs, source: 'test' }); // the stop: an order goes out
    expect(watcher.revision).toBeGreaterThan(r);
    expect(watcher.phaseOf('alpha', 'X')).toBe('pending');
  });
});

import { readFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/actors/agents/agent.js';
import {
  DEFAULT_REBALANCE,
  LOT_SIZES,
  nextPlannedOrder,
  planRebalance,
  sellQuantity,
  type Holding,
  type RebalanceSettings,
} from '../../src/actors/agents/rebalance.js';
import { momentumRanking, rulesDecider, rulesPlan, rebalanceSettings, type RulesSpec } from '../../src/actors/agents/rules-agent.js';
import { loadPriceFile, loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import type { PriceBar } from '../../src/domain/bars.js';
import type { AccountView, Message } from '../../src/domain/messages.js';
import { Dec, dec } from '../../src/domain/money.js';
import type { OrderIntent, OrderResult } from '../../src/domain/orders.js';
import { viewAt, type PointInTimeView } from '../../src/domain/point-in-time.js';
import { PriceStore } from '../../src/domain/price-store.js';

const SAMPLE = new URL('../../data/sample/', import.meta.url);
const sample = (rel: string) => new URL(rel, SAMPLE);

const CN: RebalanceSettings = {
  lot: LOT_SIZES.cn,
  threshold: 0.05,
  cashBuffer: DEFAULT_REBALANCE.cashBuffer,
  minCash: dec(0),
  feeAllowance: DEFAULT_REBALANCE.feeAllowance,
};

const prices = (p: Record<string, string>) => new Map(Object.entries(p).map(([k, v]) => [k, dec(v)]));

/** A view with fixed prices and no bars (unit tests of the planning). */
function fixedView(p: Record<string, string>, at = DateTime.fromISO('2025-10-09T09:35:00+08:00', { setZone: true })): PointInTimeView {
  return {
    at,
    symbols: () => Object.keys(p).sort(),
    price: (s) => (p[s] === undefined ? undefined : { price: dec(p[s]!), at, source: 'open', bar: {} as PriceBar }),
    bars: () => [],
    previousClose: () => undefined,
    labelledBar: () => undefined,
  };
}

function account(cash: string, positions: Record<string, { quantity: number; sellable?: number }> = {}): AccountView {
  return {
    signature: 'rules',
    cash,
    positions: Object.fromEntries(
      Object.entries(positions).map(([s, p]) => [s, { quantity: p.quantity, sellable: p.sellable ?? p.quantity, costBasis: '0' }]),
    ),
    equity: cash,
    startOfDayEquity: cash,
  };
}

function request(acct: AccountView, step: number, results: OrderResult[] = [], at = '2025-10-09T09:35:00+08:00'): Message<'agent.decide'> {
  return {
    type: 'agent.decide',
    sessionId: `rules@${at}`,
    signature: 'rules',
    at,
    step,
    market: { at, quotes: {} },
    account: acct,
    results,
    replyTo: `session:rules@${at}`,
  };
}

const filled = (intent: OrderIntent, price: string, i: number, fees = '0'): OrderResult => ({
  clientOrderId: `c${i}`,
  intent,
  status: 'filled',
  filledQuantity: intent.quantity,
  averagePrice: price,
  fees,
});
const refused = (intent: OrderIntent, i: number, status: 'rejected' | 'denied' = 'rejected'): OrderResult => ({
  clientOrderId: `c${i}`,
  intent,
  status,
  filledQuantity: 0,
  fees: '0',
  reason: 'INSUFFICIENT_CASH',
});

/**
 * Run a whole session against a decider: every intent fills at the view's price,
 * unless `refuse` says otherwise. Returns the intents and the done summary.
 */
async function runSession(
  spec: RulesSpec,
  acct: AccountView,
  view: PointInTimeView,
  market: 'cn' | 'us' = 'cn',
  refuse: (intent: OrderIntent) => boolean = () => false,
) {
  const decider = rulesDecider(spec, { market });
  const results: OrderResult[] = [];
  const intents: OrderIntent[] = [];
  for (let step = 0; step < 200; step++) {
    const d: Decision = await decider.decide(request(acct, step, [...results]), view);
    if (d.kind === 'done') return { intents, results, summary: d.summary };
    intents.push(d.intent);
    const price = view.price(d.intent.symbol)!.price.toFixed();
    results.push(refuse(d.intent) ? refused(d.intent, step) : filled(d.intent, price, step));
  }
  throw new Error('the session never ended');
}

const eqSpec = (rebalance_threshold = 0.05, symbols?: string[]): RulesSpec => ({
  strategy: 'equal_weight',
  params: { lookback: 5, top_n: 5, rebalance_threshold, ...(symbols ? { symbols } : {}) },
});

describe('planRebalance (pure, exact)', () => {
  it('equal weight from cash into 4 symbols in lots of 100: exact shares, 1% kept as buffer', () => {
    const plan = planRebalance(
      { cash: dec(100_000), holdings: {}, prices: prices({ A: '10', B: '20', C: '25.5', D: '40' }), weights: { A: 1, B: 1, C: 1, D: 1 } },
      CN,
    );
    expect(plan.equity.toString()).toBe('100000');
    expect(plan.investable.toString()).toBe('99000');
    expect(plan.reserve.toString()).toBe('1000');
    // 24,750 each: 2475 -> 2400, 1237.5 -> 1200, 970.6 -> 900, 618.75 -> 600.
    expect(plan.targets).toEqual({ A: 2400, B: 1200, C: 900, D: 600 });
    expect(plan.orders.map((o) => [o.side, o.symbol, o.quantity])).toEqual([
      ['buy', 'A', 2400],
      ['buy', 'B', 1200],
      ['buy', 'C', 900],
      ['buy', 'D', 600],
    ]);
  });

  it('divides exactly: 99000 / 3 at 330 is 100 shares, not 99.99...', () => {
    const plan = planRebalance(
      { cash: dec(100_000), holdings: {}, prices: prices({ A: '330', B: '330', C: '330' }), weights: { A: 1, B: 1, C: 1 } },
      CN,
    );
    expect(plan.targets).toEqual({ A: 100, B: 100, C: 100 });
  });

  it('US lots are single shares', () => {
    const plan = planRebalance(
      { cash: dec(10_000), holdings: {}, prices: prices({ AAPL: '255.5', NVDA: '187.2' }), weights: { AAPL: 1, NVDA: 1 } },
      { ...CN, lot: LOT_SIZES.us },
    );
    // 4,950 each: 19.37 -> 19, 26.44 -> 26.
    expect(plan.targets).toEqual({ AAPL: 19, NVDA: 26 });
  });

  it('sells first (by symbol), then buys most under-weight first; positions outside the targets are closed', () => {
    const holdings: Record<string, Holding> = {
      Z: { quantity: 1000, sellable: 1000 }, // leaving the universe
      B: { quantity: 4000, sellable: 4000 }, // 40% at 10: over-weight
      A: { quantity: 500, sellable: 500 }, // 5% at 10: under-weight
    };
    const plan = planRebalance(
      { cash: dec(45_000), holdings, prices: prices({ A: '10', B: '10', C: '10', Z: '10' }), weights: { A: 1, B: 1, C: 1 } },
      CN,
    );
    // equity 100,000; investable 99,000; 33,000 each = 3300 shares.
    // Cash for buys: 45,000 - 1,000 reserve + 17,000 of sells x 0.997 = 60,949; C costs
    // 3300 x 10.03 = 33,099; the 27,850 left buys 2700 of A's 2800 (fees allowed on both sides).
    expect(plan.orders.map((o) => [o.side, o.symbol, o.quantity])).toEqual([
      ['sell', 'B', 700],
      ['sell', 'Z', 1000],
      ['buy', 'C', 3300],
      ['buy', 'A', 2700],
    ]);
    expect(plan.targets).toEqual({ A: 3300, B: 3300, C: 3300, Z: 0 });
    // Without the fee allowance the sells pay for A's full 2800.
    const noFees = planRebalance(
      { cash: dec(45_000), holdings, prices: prices({ A: '10', B: '10', C: '10', Z: '10' }), weights: { A: 1, B: 1, C: 1 } },
      { ...CN, feeAllowance: 0 },
    );
    expect(noFees.orders.at(-1)).toMatchObject({ side: 'buy', symbol: 'A', quantity: 2800 });
  });

  it('respects the threshold: a position within the band is not traded, one outside it is', () => {
    // 4 symbols, target 24,750 (24.75%) each of 100,000. A holds 2,300 x 10 = 23% (1.75 points off).
    const input = (threshold: number) =>
      planRebalance(
        {
          cash: dec(77_000),
          holdings: { A: { quantity: 2300, sellable: 2300 } },
          prices: prices({ A: '10', B: '10', C: '10', D: '10' }),
          weights: { A: 1, B: 1, C: 1, D: 1 },
        },
        { ...CN, threshold },
      );
    expect(input(0.05).orders.map((o) => o.symbol)).toEqual(['B', 'C', 'D']);
    expect(input(0.01).orders.map((o) => [o.side, o.symbol, o.quantity])).toEqual([
      ['buy', 'B', 2400],
      ['buy', 'C', 2400],
      ['buy', 'D', 2400],
      ['buy', 'A', 100],
    ]);
    // Over-weight within the band stays too: A at 26% with threshold 5%.
    const over = planRebalance(
      { cash: dec(74_000), holdings: { A: { quantity: 2600, sellable: 2600 } }, prices: prices({ A: '10', B: '10', C: '10', D: '10' }), weights: { A: 1, B: 1, C: 1, D: 1 } },
      CN,
    );
    expect(over.orders.filter((o) => o.symbol === 'A')).toEqual([]);
  });

  it('respects T+1: only sellable shares are sold, in whole lots unless the whole position goes', () => {
    const exit = (quantity: number, sellable: number) =>
      planRebalance(
        { cash: dec(10_000), holdings: { X: { quantity, sellable } }, prices: prices({ X: '10', A: '10' }), weights: { A: 1 } },
        CN,
      ).orders.filter((o) => o.side === 'sell');
    // 700 bought today, 300 from before: only 300 can go.
    expect(exit(1000, 300).map((o) => o.quantity)).toEqual([300]);
    // 350 sellable of 1000: the 3 lots and the whole odd remainder of 50 go together.
    expect(exit(1000, 350).map((o) => o.quantity)).toEqual([350]);
    // The whole odd-lot position may go at once.
    expect(exit(150, 150).map((o) => o.quantity)).toEqual([150]);
    // Trimming 1050 to 500: 550 carries the whole odd remainder; trimming to 520 sells 500
    // (530 would split the odd 50).
    expect(sellQuantity(550, 1050, 100)).toBe(550);
    expect(sellQuantity(530, 1050, 100)).toBe(500);
    expect(sellQuantity(40, 1050, 100)).toBe(0);
    expect(sellQuantity(7, 9, 1)).toBe(7);
    // All bought today: nothing to sell.
    expect(exit(1000, 0)).toEqual([]);
  });

  it('cuts the buys to the cash the sells leave, and leaves unpriced holdings alone', () => {
    // B is over-weight but unsellable (bought today), so the cash for A and C is short.
    const plan = planRebalance(
      {
        cash: dec(20_000),
        holdings: { B: { quantity: 8000, sellable: 0 }, Q: { quantity: 100, sellable: 100 } },
        prices: prices({ A: '10', B: '10', C: '10' }),
        weights: { A: 1, B: 1, C: 1 },
      },
      CN,
    );
    expect(plan.unpriced).toEqual(['Q']);
    expect(plan.equity.toString()).toBe('100000');
    // reserve 1,000: 19,000 of cash; at 10.03 per share with the fee allowance A gets 1800
    // (1894 -> whole lots), and the 946 left is not a lot of C.
    const buys = plan.orders.filter((o) => o.side === 'buy');
    expect(buys.map((o) => [o.symbol, o.quantity])).toEqual([['A', 1800]]);
    expect(plan.droppedForCash).toEqual(['C']);
    const cost = buys.reduce((s, o) => s.plus(o.price.times(o.quantity).times('1.003')), new Dec(0));
    expect(cost.lte(19_000)).toBe(true);
  });

  it('keeps minCash when it is larger than the buffer', () => {
    const plan = planRebalance(
      { cash: dec(100_000), holdings: {}, prices: prices({ A: '10' }), weights: { A: 1 } },
      { ...CN, minCash: dec(10_000) },
    );
    expect(plan.investable.toString()).toBe('90000');
    expect(plan.targets).toEqual({ A: 9000 });
  });
});

describe('nextPlannedOrder', () => {
  const plan = planRebalance(
    {
      cash: dec(50_000),
      holdings: { S: { quantity: 5000, sellable: 5000 } },
      prices: prices({ A: '10', B: '10', S: '10' }),
      weights: { A: 1, B: 1 },
    },
    CN,
  );

  it('walks the plan in order, recognising asked orders by side and symbol', () => {
    expect(plan.orders.map((o) => [o.side, o.symbol, o.quantity])).toEqual([
      ['sell', 'S', 5000],
      ['buy', 'A', 4900],
      ['buy', 'B', 4900],
    ]);
    const sell = { side: 'sell' as const, symbol: 'S', quantity: 5000, type: 'market' as const };
    expect(nextPlannedOrder(plan, dec(50_000), [], CN).order?.symbol).toBe('S');
    expect(nextPlannedOrder(plan, dec(50_000), [filled(sell, '10', 0)], CN).order).toMatchObject({ side: 'buy', symbol: 'A', quantity: 4900 });
  });

  it('never retries a rejected order, and cuts the buys when a sell did not free its cash', () => {
    const sell = { side: 'sell' as const, symbol: 'S', quantity: 5000, type: 'market' as const };
    const next = nextPlannedOrder(plan, dec(50_000), [refused(sell, 0)], CN);
    // 50,000 - 1,000 reserve = 49,000 at 10.03: 4885 -> 4800 shares.
    expect(next.order).toMatchObject({ side: 'buy', symbol: 'A', quantity: 4800 });
    const buyA = { side: 'buy' as const, symbol: 'A', quantity: 4800, type: 'market' as const };
    const after = nextPlannedOrder(plan, dec(50_000), [refused(sell, 0), filled(buyA, '10', 1, '5')], CN);
    // 49,000 - 48,005 = 995 left: not one lot of B.
    expect(after.order).toBeUndefined();
    expect(after.skippedForCash).toEqual(['B']);
    // A rejected buy is not asked again either.
    const rejectedA = nextPlannedOrder(plan, dec(50_000), [filled(sell, '10', 0), refused(buyA, 1)], CN);
    expect(rejectedA.order).toMatchObject({ side: 'buy', symbol: 'B', quantity: 4900 });
  });

  it('counts a queued buy as spent at the plan price', () => {
    const sell = { side: 'sell' as const, symbol: 'S', quantity: 5000, type: 'market' as const };
    const buyA = { side: 'buy' as const, symbol: 'A', quantity: 4900, type: 'market' as const };
    const queued: OrderResult = { clientOrderId: 'c1', intent: buyA, status: 'queued', filledQuantity: 0, fees: '0' };
    // Sell queued too: no proceeds yet. 49,000 - 49,147 < 0: nothing more to buy.
    const q = nextPlannedOrder(plan, dec(50_000), [{ ...queued, clientOrderId: 'c0', intent: sell }, queued], CN);
    expect(q.order).toBeUndefined();
  });
});

describe('rules decider', () => {
  it('equal weight from cash: one buy per step in plan order, then done', async () => {
    const view = fixedView({ A: '10', B: '20', C: '25.5', D: '40' });
    const { intents, summary } = await runSession(eqSpec(), account('100000'), view);
    expect(intents).toEqual([
      { side: 'buy', symbol: 'A', quantity: 2400, type: 'market' },
      { side: 'buy', symbol: 'B', quantity: 1200, type: 'market' },
      { side: 'buy', symbol: 'C', quantity: 900, type: 'market' },
      { side: 'buy', symbol: 'D', quantity: 600, type: 'market' },
    ]);
    expect(summary).toBe('equal_weight over 4 symbols; planned 0 sells and 4 buys, asked 4');
  });

  it('sells before buys, and the configured universe decides what is held', async () => {
    const view = fixedView({ A: '10', B: '10', X: '10' });
    const acct = account('10000', { X: { quantity: 9000 } });
    const { intents } = await runSession(eqSpec(0.05, ['A', 'B']), acct, view);
    expect(intents.map((i) => `${i.side} ${i.symbol} ${i.quantity}`)).toEqual(['sell X 9000', 'buy A 4900', 'buy B 4900']);
  });

  it('respects T+1 through the account: only the sellable shares are sold', async () => {
    const view = fixedView({ A: '10', X: '10' });
    const acct = account('10000', { X: { quantity: 9000, sellable: 2000 } });
    const { intents } = await runSession(eqSpec(0.05, ['A']), acct, view);
    expect(intents[0]).toEqual({ side: 'sell', symbol: 'X', quantity: 2000, type: 'market' });
  });

  it('answers a re-asked step the same, and does not retry a rejected order', async () => {
    const view = fixedView({ A: '10', B: '10', X: '10' });
    const acct = account('10000', { X: { quantity: 9000 } });
    const decider = rulesDecider(eqSpec(0.05, ['A', 'B']), { market: 'cn' });
    const sellX: OrderIntent = { side: 'sell', symbol: 'X', quantity: 9000, type: 'market' };
    const r1 = [refused(sellX, 0)];
    const a = await decider.decide(request(acct, 1, r1), view);
    const b = await decider.decide(request(acct, 1, structuredClone(r1)), view);
    expect(a).toEqual(b);
    // X's sell was rejected: not asked again; the buys get the cash there is:
    // 10,000 - 1,000 reserve (1% of 100,000 equity) = 9,000 at 10.03 -> 897 -> 800 shares.
    expect(a).toEqual({ kind: 'intent', intent: { side: 'buy', symbol: 'A', quantity: 800, type: 'market' } });
    const { intents, summary } = await runSession(eqSpec(0.05, ['A', 'B']), acct, view, 'cn', (i) => i.symbol === 'X');
    expect(intents.map((i) => `${i.side} ${i.symbol} ${i.quantity}`)).toEqual(['sell X 9000', 'buy A 800']);
    expect(summary).toContain('1 skipped for cash (B)');
  });

  it('plans once per session (the steps carry the session\'s one account), and a restored session plans again to the same answers', async () => {
    const fixed = fixedView({ A: '10', B: '20', C: '25.5', D: '40' });
    let priced = 0;
    const view: PointInTimeView = { ...fixed, price: (s) => (priced++, fixed.price(s)) };
    const acct = account('100000');
    const decider = rulesDecider(eqSpec(), { market: 'cn' });
    const results: OrderResult[] = [];
    const answers: Decision[] = [];
    for (let step = 0; step < 5; step++) {
      const d = await decider.decide(request(acct, step, [...results]), view);
      answers.push(d);
      if (d.kind === 'intent') results.push(filled(d.intent, fixed.price(d.intent.symbol)!.price.toFixed(), step));
    }
    expect(answers.at(-1)).toMatchObject({ kind: 'done' });
    const once = priced;
    // The plan's pricing ran for the first step only (the universe and each symbol's price).
    expect(once).toBe(8);
    // After a restore the session's account is a new object: planned again, answered the same.
    const restored = rulesDecider(eqSpec(), { market: 'cn' });
    for (let step = 0; step < 5; step++) {
      expect(await restored.decide(request(structuredClone(acct), step, results.slice(0, step)), view)).toEqual(answers[step]);
    }
    expect(priced).toBe(once + 5 * 8);
  });

  it('uses the account cash and positions of the request, never anything it remembers', async () => {
    const view = fixedView({ A: '10' });
    const decider = rulesDecider(eqSpec(), { market: 'cn' });
    const first = await decider.decide(request(account('100000'), 0), view);
    await decider.decide(request(account('5000'), 0), view);
    expect(await decider.decide(request(account('100000'), 0), view)).toEqual(first);
  });
});

/** Raw daily closes and opens from the sample file, read without the loader. */
function rawDaily(file: URL): Map<string, { label: string; open: string; close?: string }[]> {
  const out = new Map<string, { label: string; open: string; close?: string }[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const doc = JSON.parse(line) as { 'Meta Data': { '2. Symbol': string }; 'Time Series (Daily)': Record<string, Record<string, string>> };
    const series = Object.entries(doc['Time Series (Daily)'])
      .map(([label, b]) => ({ label, open: b['1. buy price']!, ...(b['4. sell price'] ? { close: b['4. sell price'] } : {}) }))
      .sort((a, b) => (a.label < b.label ? -1 : 1));
    out.set(doc['Meta Data']['2. Symbol'], series);
  }
  return out;
}

describe('momentum on real bars (data/sample/cn_daily.jsonl)', () => {
  const at = DateTime.fromISO('2025-10-27T09:35:00', { zone: 'Asia/Shanghai' });
  const spec: RulesSpec = { strategy: 'momentum', params: { lookback: 5, top_n: 2, rebalance_threshold: 0.05 } };

  it('ranks by the return over the last 5 completed bars and buys the top 2 at equal weights', async () => {
    const store = await loadPriceStore(sample('cn_daily.jsonl'));
    const view = viewAt(store, at, () => undefined);
    // Expected, from the raw file: bars labelled before the session date, the last 6.
    const raw = rawDaily(sample('cn_daily.jsonl'));
    const expected = [...raw.entries()]
      .map(([symbol, series]) => {
        const done = series.filter((b) => b.label < '2025-10-27').slice(-6);
        return { symbol, r: Number(done[5]!.close) / Number(done[0]!.close) - 1 };
      })
      .sort((a, b) => b.r - a.r);
    const ranked = momentumRanking(view, store.symbols(), 5);
    expect(ranked.map((r) => r.symbol)).toEqual(expected.map((e) => e.symbol));
    expect(ranked[0]!.momentum.toNumber()).toBeCloseTo(expected[0]!.r, 12);

    const top = expected.slice(0, 2).map((e) => e.symbol).sort();
    const { intents } = await runSession(spec, account('100000'), view);
    expect(intents.map((i) => i.symbol).sort()).toEqual(top);
    for (const i of intents) {
      // Today's open (known since 09:30) prices the order: 49,500 per symbol, whole lots.
      const open = raw.get(i.symbol)!.find((b) => b.label === '2025-10-27')!.open;
      expect(i.quantity).toBe(dec(49_500).div(dec(open).times(100)).floor().times(100).toNumber());
      expect(i.side).toBe('buy');
    }
  });

  it('sells a holding that left the top_n before buying the new leaders', async () => {
    const store = await loadPriceStore(sample('cn_daily.jsonl'));
    const view = viewAt(store, at, () => undefined);
    const ranked = momentumRanking(view, store.symbols(), 5);
    const loser = ranked[ranked.length - 1]!.symbol;
    const { intents } = await runSession(spec, account('50000', { [loser]: { quantity: 100 } }), view);
    expect(intents[0]).toEqual({ side: 'sell', symbol: loser, quantity: 100, type: 'market' });
    expect(intents.slice(1).every((i) => i.side === 'buy')).toBe(true);
  });

  it('does nothing while no symbol has lookback + 1 completed bars', async () => {
    const store = await loadPriceStore(sample('cn_daily.jsonl'));
    const view = viewAt(store, DateTime.fromISO('2025-10-13T09:35:00', { zone: 'Asia/Shanghai' }), () => undefined);
    const { intents, summary } = await runSession(spec, account('100000'), view);
    expect(intents).toEqual([]);
    expect(summary).toBe('momentum: no symbol has 6 completed bars yet: nothing to do');
  });
});

describe('no look-ahead', () => {
  /** The bars a store would hold if it were built at instant t: completed ones, and the open of a started one. */
  function asKnownAt(bars: readonly PriceBar[], t: DateTime): PriceBar[] {
    const out: PriceBar[] = [];
    for (const b of bars) {
      if (b.end <= t && b.complete) out.push(b);
      else if (b.start <= t) {
        const { symbol, market, interval, start, end, label, open } = b;
        out.push({ symbol, market, interval, start, end, label, open, complete: false });
      }
    }
    return out;
  }

  const cases = [
    { file: 'cn_daily.jsonl', market: 'cn' as const, at: DateTime.fromISO('2025-10-28T09:35:00', { zone: 'Asia/Shanghai' }) },
    { file: 'us_hourly.jsonl', market: 'us' as const, at: DateTime.fromISO('2025-10-20T13:05:00', { zone: 'America/New_York' }) },
  ];
  for (const c of cases) {
    it(`${c.file}: the plan at t is the same whether the store holds bars after t or not`, async () => {
      const { bars } = await loadPriceFile(sample(c.file));
      const full = PriceStore.from(bars);
      const cut = PriceStore.from(asKnownAt(bars, c.at));
      expect(cut.range()!.last < full.range()!.last).toBe(true);
      const cash = c.market === 'cn' ? '100000' : '10000';
      const held = full.symbols()[0]!;
      const acct = account(cash, { [held]: { quantity: c.market === 'cn' ? 200 : 3 } });
      for (const spec of [
        { strategy: 'momentum', params: { lookback: 3, top_n: 3, rebalance_threshold: 0.02 } },
        { strategy: 'equal_weight', params: { lookback: 5, top_n: 5, rebalance_threshold: 0.02 } },
      ] satisfies RulesSpec[]) {
        const settings = rebalanceSettings(spec, { market: c.market });
        const a = rulesPlan(spec, acct, viewAt(full, c.at, () => undefined), settings);
        const b = rulesPlan(spec, acct, viewAt(cut, c.at, () => undefined), settings);
        expect(a.plan!.orders.length).toBeGreaterThan(0);
        expect(JSON.stringify(b)).toBe(JSON.stringify(a));
        const sa = await runSession(spec, acct, viewAt(full, c.at, () => undefined), c.market);
        const sb = await runSession(spec, acct, viewAt(cut, c.at, () => undefined), c.market);
        expect(sb.intents).toEqual(sa.intents);
      }
    });
  }
});

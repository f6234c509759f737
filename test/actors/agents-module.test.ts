/**
 * The module agent (`kind: module`): loading a strategy file (each way it can be wrong is an
 * error naming the field), checking its answer as a whole, and the session holding, with the
 * reason, when the strategy throws, hangs or answers garbage, never acting on part of it.
 * Views are real (the bundled US hourly sample); wall time is a ManualTimers table.
 */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/actors/agents/agent.js';
import { ManualTimers } from '../../src/actors/agents/llm/timers.js';
import { checkIntents, loadStrategy, moduleDecider } from '../../src/actors/agents/module-agent.js';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { labelledBarAt } from '../../src/domain/market-rules.js';
import type { AccountView, Message } from '../../src/domain/messages.js';
import { Dec } from '../../src/domain/money.js';
import type { OrderIntent, OrderResult } from '../../src/domain/orders.js';
import { viewAt, type PointInTimeView } from '../../src/domain/point-in-time.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import type { SessionContext, Strategy, StrategyFill, StrategyQuote } from '../../src/strategy.js';

let dir: string;
let store: PriceStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-trader-module-'));
  store = await loadPriceStore(new URL('../../data/sample/us_hourly.jsonl', import.meta.url));
});

const file = async (name: string, text: string) => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};

const AT = '2025-10-14T11:05:00-04:00';
const view = (at = AT): PointInTimeView => {
  const t = DateTime.fromISO(at, { setZone: true });
  return viewAt(store, t, (s) => labelledBarAt(store, s, t));
};
const ACCOUNT: AccountView = {
  signature: 'mod',
  cash: '10000',
  positions: { AAPL: { quantity: 3, sellable: 3, costBasis: '250.5' } },
  equity: '10750',
  startOfDayEquity: '10700',
};
function request(step: number, results: OrderResult[] = [], at = AT): Message<'agent.decide'> {
  return {
    type: 'agent.decide',
    sessionId: `mod@${at}`,
    signature: 'mod',
    at,
    step,
    market: { at, quotes: { MSFT: { price: '512.5', at, source: 'open' }, AAPL: { price: '247.1', at, source: 'open' } } },
    account: ACCOUNT,
    results,
    replyTo: `session:mod@${at}`,
  };
}
const filled = (intent: OrderIntent, i: number): OrderResult => ({
  clientOrderId: `c${i}`,
  intent,
  status: 'filled',
  filledQuantity: intent.quantity,
  averagePrice: '247.1',
  fees: '0.5',
});

const options = (timers = new ManualTimers()) => ({ market: 'us' as const, frequency: 'hourly' as const, params: { n: 2 }, deadlineMs: 5000, timers, name: 'test.ts' });
const BUY: OrderIntent = { side: 'buy', symbol: 'MSFT', quantity: 2, type: 'market' };
const SELL: OrderIntent = { side: 'sell', symbol: 'AAPL', quantity: 3, type: 'market' };

describe('loadStrategy', () => {
  it('loads a .ts strategy that imports the interface, and a .mjs one', async () => {
    const ts = await file(
      'ok.ts',
      `import { defineStrategy, type Intent } from ${JSON.stringify(new URL('../../src/strategy.js', import.meta.url).pathname)};\n` +
        `const n: number = 1;\nexport const named = defineStrategy({ onSession: (): Intent[] => [{ side: 'buy', symbol: 'MSFT', quantity: n }] });\nexport default named;\n`,
    );
    const s = await loadStrategy({ path: ts, export: 'named' }, 0);
    expect(s.onSession({} as SessionContext)).toEqual([{ side: 'buy', symbol: 'MSFT', quantity: 1 }]);
    // Outside an ESM package tsx compiles a .ts file to CommonJS: its default export is still the default.
    const cjs = await file('cjs.ts', `export default { onSession: () => [7] };\nexport const x = 2;\n`);
    expect((await loadStrategy({ path: cjs, export: 'default' }, 0)).onSession({} as SessionContext)).toEqual([7]);
    const mjs = await file('ok.mjs', `export default { onSession: () => [] };\n`);
    expect((await loadStrategy({ path: mjs, export: 'default' }, 3)).onSession({} as SessionContext)).toEqual([]);
  });

  it('refuses, naming the field, a missing file, a folder, another kind of file, one that fails to load, a missing export, and a non-strategy', async () => {
    const err = (p: Promise<unknown>) => p.then(() => 'loaded', (e: Error) => `${e.name}: ${e.message}`);
    await mkdir(join(dir, 'folder.ts'), { recursive: true });
    expect(await err(loadStrategy({ path: join(dir, 'nope.ts'), export: 'default' }, 1))).toBe(`InputError: models[1].agent.path: strategy file not found: ${join(dir, 'nope.ts')}`);
    expect(await err(loadStrategy({ path: join(dir, 'folder.ts'), export: 'default' }, 1))).toBe(`InputError: models[1].agent.path: expected a strategy file, got a directory: ${join(dir, 'folder.ts')}`);
    const json = await file('s.json', '{}');
    expect(await err(loadStrategy({ path: json, export: 'default' }, 0))).toMatch(/^InputError: models\[0\]\.agent\.path: expected a TypeScript or JavaScript module \(\.ts, .*\), got .*s\.json$/);
    const broken = await file('broken.ts', 'export default { onSession( => [] };\n');
    expect(await err(loadStrategy({ path: broken, export: 'default' }, 0))).toMatch(/^InputError: models\[0\]\.agent\.path: could not load strategy module .*broken\.ts: /);
    const throws = await file('throws.ts', 'throw new Error("no API key in the strategy");\n');
    expect(await err(loadStrategy({ path: throws, export: 'default' }, 0))).toMatch(/could not load strategy module .*throws\.ts: no API key in the strategy$/);
    const named = await file('named.ts', 'export const a = 1;\nexport function helper() {}\n');
    expect(await err(loadStrategy({ path: named, export: 'default' }, 2))).toBe(
      `InputError: models[2].agent.export: expected ${named} to export "default" as a strategy (an object with an onSession function), got no export "default" (exports: a, helper)`,
    );
    const notStrategy = await file('not.ts', 'export default { onsession: () => [] };\n');
    expect(await err(loadStrategy({ path: notStrategy, export: 'default' }, 0))).toMatch(/models\[0\]\.agent\.export: .* got export "default" is \{\}$/);
    const badHook = await file('hook.ts', 'export default { onSession: () => [], onFill: 3 };\n');
    expect(await err(loadStrategy({ path: badHook, export: 'default' }, 0))).toMatch(/models\[0\]\.agent\.export: onFill of the strategy in .*hook\.ts must be a function when present, got 3$/);
  });
});

describe('checkIntents', () => {
  it('takes a whole list of valid intents (an Amount limit price as exact text), or names the first bad item and field', () => {
    expect(checkIntents([{ side: 'buy', symbol: 'MSFT', quantity: 2 }, { side: 'sell', symbol: 'AAPL', quantity: 1, type: 'limit', limitPrice: new Dec('247.10') }])).toEqual({
      intents: [BUY, { side: 'sell', symbol: 'AAPL', quantity: 1, type: 'limit', limitPrice: '247.1' }],
    });
    expect(checkIntents([])).toEqual({ intents: [] });
    const problem = (out: unknown) => (checkIntents(out) as { problem: string }).problem;
    expect(problem(undefined)).toBe('onSession returned undefined, expected a list (array) of intents');
    expect(problem({ side: 'buy' })).toBe('onSession returned {"side":"buy"}, expected a list (array) of intents');
    expect(problem([BUY, 'sell AAPL'])).toBe('intents[1]: expected an intent object, got "sell AAPL"');
    expect(problem([BUY, { side: 'buy', symbol: 'MSFT', quantity: 1.5 }])).toMatch(/^intents\[1\]\.quantity: .*, got 1\.5$/);
    expect(problem([{ side: 'hold', symbol: 'MSFT', quantity: 1 }])).toMatch(/^intents\[0\]\.side: .*, got "hold"$/);
    expect(problem([{ side: 'buy', symbol: 'MSFT', quantity: 1, note: 'x' }])).toMatch(/^intents\[0\]: .*note/);
    expect(problem([{ side: 'buy', symbol: 'MSFT', quantity: 1, type: 'limit' }])).toBe('intents[0].limitPrice: required for a limit order');
    expect(problem([{ side: 'buy', symbol: 'MSFT', quantity: 1, type: 'limit', limitPrice: 512.5 }])).toMatch(/^intents\[0\]\.limitPrice: .*, got 512\.5$/);
  });
});

/** Every step of a session until done, each result filled, as the session machine drives it. */
async function session(strategy: Strategy, at = AT, timers?: ManualTimers) {
  const decider = moduleDecider(strategy, options(timers));
  const results: OrderResult[] = [];
  const intents: OrderIntent[] = [];
  for (let step = 0; step < 20; step++) {
    const d: Decision = await decider.decide(request(step, [...results], at), view(at));
    if (d.kind === 'done') return { intents, done: d, decider };
    intents.push(d.intent);
    results.push(filled(d.intent, step));
  }
  throw new Error('no end');
}

describe('moduleDecider', () => {
  it('hands quotes, then the point-in-time context, then each fill; one intent per step; answers synchronously', () => {
    const seen: string[] = [];
    let ctxSeen: SessionContext | undefined;
    const strategy: Strategy = {
      onQuote: (q: StrategyQuote) => void seen.push(`quote ${q.symbol} ${q.price.toFixed()}`),
      onSession(ctx) {
        ctxSeen = ctx;
        seen.push('session');
        return [SELL, BUY];
      },
      onFill: (f: StrategyFill) => void seen.push(`fill ${f.side} ${f.symbol} ${f.quantity} @ ${f.price.toFixed()} fees ${f.fees.toFixed()}`),
    };
    const decider = moduleDecider(strategy, options());
    const d0 = decider.decide(request(0), view());
    expect(d0).toEqual({ kind: 'intent', intent: SELL }); // not a promise: a sync strategy is answered in the same turn
    const d1 = decider.decide(request(1, [filled(SELL, 0)]), view());
    expect(d1).toEqual({ kind: 'intent', intent: BUY });
    const d2 = decider.decide(request(2, [filled(SELL, 0), filled(BUY, 1)]), view());
    expect(d2).toEqual({ kind: 'done', summary: 'test.ts: asked 2 orders' });
    expect(seen).toEqual(['quote AAPL 247.1', 'quote MSFT 512.5', 'session', 'fill sell AAPL 3 @ 247.1 fees 0.5', 'fill buy MSFT 2 @ 247.1 fees 0.5']);
    const ctx = ctxSeen!;
    expect(ctx.at.zoneName).toBe('America/New_York');
    expect(ctx.at.toISO()).toBe('2025-10-14T11:05:00.000-04:00');
    expect({ market: ctx.market, frequency: ctx.frequency, signature: ctx.signature, lotSize: ctx.lotSize, params: ctx.params }).toEqual({
      market: 'us',
      frequency: 'hourly',
      signature: 'mod',
      lotSize: 1,
      params: { n: 2 },
    });
    expect(ctx.account.cash.toFixed()).toBe('10000');
    expect(ctx.account.positions.AAPL!.costBasis.toFixed()).toBe('250.5');
    // No look-ahead: every bar ended by the instant, the price is the 11:00 bar's open.
    const bars = ctx.view.bars('MSFT');
    expect(bars.length).toBeGreaterThan(30);
    expect(bars.every((b) => b.end <= ctx.at)).toBe(true);
    expect(ctx.view.price('MSFT')!.toFixed()).toBe(store.priceAsOf('MSFT', ctx.at)!.price.toFixed());
    expect(ctx.view.symbols()).toEqual(['AAPL', 'AMZN', 'GOOGL', 'MSFT', 'NVDA', 'TSLA']);
  });

  it('holds MODULE_FAILED when onSession throws or rejects, with no order; the next session runs normally', async () => {
    let calls = 0;
    const strategy: Strategy = {
      onSession(ctx) {
        calls++;
        if (ctx.at.hour === 11) throw new Error('division by zero in my signal');
        return [BUY];
      },
    };
    const a = await session(strategy);
    expect(a.intents).toEqual([]);
    expect(a.done).toEqual({ kind: 'done', reason: 'MODULE_FAILED', summary: 'HOLD (MODULE_FAILED): test.ts: onSession threw: division by zero in my signal' });
    const b = await session(strategy, '2025-10-14T12:05:00-04:00');
    expect(b.intents).toEqual([BUY]);
    expect(b.done).toEqual({ kind: 'done', summary: 'test.ts: asked 1 order' });
    const rejects = await session({ onSession: () => Promise.reject(new Error('feed down')) });
    expect(rejects.done).toMatchObject({ reason: 'MODULE_FAILED', summary: 'HOLD (MODULE_FAILED): test.ts: onSession threw: feed down' });
    expect(calls).toBe(2);
  });

  it('holds MODULE_BAD_OUTPUT on a list with one bad item: none of it is acted on', async () => {
    const r = await session({ onSession: () => [BUY, { side: 'buy', symbol: 'AAPL', quantity: -1 }] as never });
    expect(r.intents).toEqual([]);
    expect(r.done).toMatchObject({ kind: 'done', reason: 'MODULE_BAD_OUTPUT' });
    expect((r.done as { summary: string }).summary).toMatch(/^HOLD \(MODULE_BAD_OUTPUT\): test\.ts: intents\[1\]\.quantity: .*, got -1$/);
    const nothing = await session({ onSession: () => null as never });
    expect(nothing.done).toMatchObject({ reason: 'MODULE_BAD_OUTPUT', summary: 'HOLD (MODULE_BAD_OUTPUT): test.ts: onSession returned null, expected a list (array) of intents' });
  });

  it('holds MODULE_TIMEOUT when an async onSession does not settle within deadline_seconds (wall timers); a late answer is ignored', async () => {
    const timers = new ManualTimers();
    let late: ((v: OrderIntent[]) => void) | undefined;
    const decider = moduleDecider({ onSession: () => new Promise<OrderIntent[]>((resolve) => (late = resolve)) }, options(timers));
    const answer = decider.decide(request(0), view());
    expect(timers.pending).toBe(1);
    timers.advance(4999);
    let settled = false;
    void Promise.resolve(answer).then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    timers.advance(1);
    expect(await answer).toEqual({ kind: 'done', reason: 'MODULE_TIMEOUT', summary: 'HOLD (MODULE_TIMEOUT): test.ts: onSession did not settle within 5 s' });
    late!([BUY]);
    // Re-asked (a resumed session): still the hold, never the late list.
    expect(await decider.decide(request(0), view())).toMatchObject({ reason: 'MODULE_TIMEOUT' });
    // An async answer in time: the timer is cancelled (nothing keeps the process alive).
    const ok = moduleDecider({ onSession: async () => [BUY] }, options(timers));
    expect(await ok.decide(request(0, [], '2025-10-14T12:05:00-04:00'), view('2025-10-14T12:05:00-04:00'))).toEqual({ kind: 'intent', intent: BUY });
    expect(timers.pending).toBe(0);
  });

  it('an onFill that throws holds the rest of the session: the order placed stands, the next is not asked', async () => {
    const r = await session({
      onSession: () => [SELL, BUY],
      onFill: () => {
        throw new Error('bookkeeping bug');
      },
    });
    expect(r.intents).toEqual([SELL]);
    expect(r.done).toEqual({ kind: 'done', reason: 'MODULE_FAILED', summary: 'HOLD (MODULE_FAILED): test.ts: onFill(AAPL) threw: bookkeeping bug' });
  });

  it('a restarted process asks again from the stored step: onSession again, the same list, the next intent', () => {
    const strategy: Strategy = { onSession: () => [SELL, BUY] };
    const fresh = moduleDecider(strategy, options());
    expect(fresh.decide(request(1, [filled(SELL, 0)]), view())).toEqual({ kind: 'intent', intent: BUY });
  });
});

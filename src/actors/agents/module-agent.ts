/**
 * The module agent (`kind: module`): a user's strategy file exporting a `Strategy`
 * (src/strategy.ts). Once per session it hands the strategy the session's quotes (`onQuote`)
 * and then the context (`onSession`: the point-in-time view, the account as the session found
 * it, the params); the answer is checked as a whole, and only a whole list of valid intents is
 * acted on, one intent per step through risk and the order machine like any agent's. As each
 * order's result comes back its fill goes to `onFill`, before the next intent goes out.
 *
 * Failures hold the session (`agent.done` with a reason), never half-act on an answer:
 * - MODULE_FAILED: a hook threw or its promise rejected;
 * - MODULE_TIMEOUT: an async hook did not settle within `deadline_seconds` (wall time, as an
 *   LLM's: a backtest's virtual clock stands still while the strategy works, and it waits for it);
 * - MODULE_BAD_OUTPUT: `onSession` returned something that is not a list of valid intents (the
 *   message names the item and the field).
 * Orders the session already placed stand (an `onFill` that throws stops the rest). The next
 * session runs normally: the strategy object is kept.
 *
 * A synchronous strategy is answered synchronously (a backtest on virtual time must not wait
 * for the microtask queue), and is not timed: its answer must not depend on the machine's load.
 * A synchronous endless loop cannot be stopped from the same thread.
 *
 * One session at a time per signature (the engine never overlaps an agent's sessions), so
 * only the current session's plan is kept. A restarted process asks again from the stored
 * step: `onSession` is called again with the same context, and a strategy that is a function
 * of its context answers the same list.
 */
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DateTime } from 'luxon';
import type { ModuleAgentSpec } from '../../config/schema.js';
import { InputError } from '../../domain/errors.js';
import { MARKETS, type Frequency, type Market } from '../../domain/markets.js';
import type { Message } from '../../domain/messages.js';
import { Dec, dec } from '../../domain/money.js';
import { OrderIntentSchema, type OrderIntent, type OrderResult } from '../../domain/orders.js';
import type { PointInTimeView } from '../../domain/point-in-time.js';
import type { ReasonCode } from '../../domain/reasons.js';
import type { Intent, MarketView, SessionContext, Strategy, StrategyAccount, StrategyFill, StrategyQuote } from '../../strategy.js';
import type { Decider, Decision } from './agent.js';
import type { WallTimers } from './llm/timers.js';
import { LOT_SIZES } from './rebalance.js';

const MODULE_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A value as a short JSON-ish text for messages. */
function preview(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return 'a function';
  if (Dec.isDecimal(v)) return `${String(v)} (a Decimal)`;
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Load the strategy of `models[index].agent`: the file must exist and be a module, and the
 * export must be an object with an `onSession` function. Every failure is an InputError naming
 * the field (the CLI exits 2 before the run starts).
 *
 * The file is imported through tsx (a runtime dependency), scoped to this import: a `.ts`
 * strategy (and the `.ts` files it imports) loads the same from the compiled build as under tsx.
 */
export async function loadStrategy(spec: Pick<ModuleAgentSpec, 'path' | 'export'>, index: number): Promise<Strategy> {
  const field = `models[${index}].agent`;
  const s = await stat(spec.path).catch(() => undefined);
  if (!s) throw new InputError(`${field}.path: strategy file not found: ${spec.path}`);
  if (!s.isFile()) throw new InputError(`${field}.path: expected a strategy file, got a directory: ${spec.path}`);
  if (!MODULE_EXTENSIONS.includes(extname(spec.path))) {
    throw new InputError(`${field}.path: expected a TypeScript or JavaScript module (${MODULE_EXTENSIONS.join(', ')}), got ${spec.path}`);
  }
  let module: Record<string, unknown>;
  try {
    const { tsImport } = await import('tsx/esm/api');
    module = (await tsImport(pathToFileURL(spec.path).href, import.meta.url)) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`${field}.path: could not load strategy module ${spec.path}: ${messageOf(e)}`);
  }
  // A .ts file outside an ESM package ("type": "module") is compiled to CommonJS: its exports
  // arrive as `default` (marked __esModule), its own default export inside that.
  const inner = module.default as { __esModule?: unknown } | undefined;
  if (typeof inner === 'object' && inner !== null && inner.__esModule === true) module = inner as Record<string, unknown>;
  const strategy = module[spec.export];
  const exported = Object.keys(module).filter((k) => k !== 'module.exports' && k !== '__esModule').sort();
  const isStrategy = typeof strategy === 'object' && strategy !== null && typeof (strategy as { onSession?: unknown }).onSession === 'function';
  if (!isStrategy) {
    const got = strategy === undefined ? `no export "${spec.export}" (exports: ${exported.join(', ') || 'none'})` : `export "${spec.export}" is ${preview(strategy)}`;
    throw new InputError(`${field}.export: expected ${spec.path} to export "${spec.export}" as a strategy (an object with an onSession function), got ${got}`);
  }
  for (const hook of ['onFill', 'onQuote'] as const) {
    const h = (strategy as Record<string, unknown>)[hook];
    if (h !== undefined && typeof h !== 'function') {
      throw new InputError(`${field}.export: ${hook} of the strategy in ${spec.path} must be a function when present, got ${preview(h)}`);
    }
  }
  return strategy as Strategy;
}

/** The strategy's answer checked as a whole: every intent valid, or the first problem (which item, which field). */
export function checkIntents(out: unknown): { intents: OrderIntent[] } | { problem: string } {
  if (!Array.isArray(out)) return { problem: `onSession returned ${preview(out)}, expected a list (array) of intents` };
  const intents: OrderIntent[] = [];
  for (const [i, raw] of out.entries()) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { problem: `intents[${i}]: expected an intent object, got ${preview(raw)}` };
    const item = raw as Record<string, unknown>;
    // An Amount is the natural limit price in a strategy; the intent carries exact decimal text.
    const limitPrice = item.limitPrice;
    const candidate = Dec.isDecimal(limitPrice) ? { ...item, limitPrice: (limitPrice as Dec).toFixed() } : item;
    const parsed = OrderIntentSchema.safeParse(candidate);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const key = issue.path.map(String).join('.');
      const got = issue.path.length > 0 ? `, got ${preview(issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey], candidate))}` : '';
      return { problem: `intents[${i}]${key ? `.${key}` : ''}: ${issue.message}${got}` };
    }
    if (parsed.data.type === 'limit' && parsed.data.limitPrice === undefined) return { problem: `intents[${i}].limitPrice: required for a limit order` };
    intents.push(parsed.data);
  }
  return { intents };
}

export interface ModuleDeciderOptions {
  readonly market: Market;
  readonly frequency: Frequency;
  readonly params: Readonly<Record<string, unknown>>;
  /** An async hook must settle within this (wall ms). */
  readonly deadlineMs: number;
  readonly timers: WallTimers;
  /** Names the strategy in summaries (its file). */
  readonly name: string;
}

type Hold = { readonly reason: ReasonCode; readonly detail: string };
/** A hook's outcome: its value, or why the session holds. */
type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly hold: Hold };

const isPromiseLike = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

/** The account view as the strategy sees it: exact amounts. */
function accountOf(a: Message<'agent.decide'>['account']): StrategyAccount {
  const positions: Record<string, StrategyAccount['positions'][string]> = {};
  for (const [symbol, p] of Object.entries(a.positions)) positions[symbol] = { quantity: p.quantity, sellable: p.sellable, costBasis: dec(p.costBasis) };
  return { cash: dec(a.cash), equity: dec(a.equity), startOfDayEquity: dec(a.startOfDayEquity), positions };
}

function marketOf(view: PointInTimeView, at: DateTime): MarketView {
  return {
    at,
    symbols: () => view.symbols(),
    price: (symbol) => view.price(symbol)?.price,
    bars: (symbol, limit) => view.bars(symbol, limit),
    previousClose: (symbol) => view.previousClose(symbol)?.price,
  };
}

function fillOf(r: OrderResult, at: DateTime): StrategyFill {
  return {
    clientOrderId: r.clientOrderId,
    symbol: r.intent.symbol,
    side: r.intent.side,
    quantity: r.filledQuantity,
    price: dec(r.averagePrice ?? '0'),
    fees: dec(r.fees),
    status: r.status,
    at,
  };
}

interface SessionPlan {
  readonly sessionId: string;
  readonly ctx: SessionContext;
  /** undefined until onSession answered. */
  intents?: readonly OrderIntent[];
  /** Results already handed to onFill. */
  reported: number;
  hold?: Hold;
}

export function moduleDecider(strategy: Strategy, options: ModuleDeciderOptions): Decider {
  let current: SessionPlan | undefined;

  /** Run a hook; a sync one answers synchronously, an async one within the deadline. */
  function run<T>(what: string, call: () => T | PromiseLike<T>): Outcome<T> | Promise<Outcome<T>> {
    const thrown = (e: unknown): Outcome<T> => ({ ok: false, hold: { reason: 'MODULE_FAILED', detail: `${what} threw: ${messageOf(e)}` } });
    let out: T | PromiseLike<T>;
    try {
      out = call();
    } catch (e) {
      return thrown(e);
    }
    if (!isPromiseLike(out)) return { ok: true, value: out };
    const pending = out;
    return new Promise<Outcome<T>>((resolve) => {
      const cancel = options.timers.after(options.deadlineMs, () =>
        resolve({ ok: false, hold: { reason: 'MODULE_TIMEOUT', detail: `${what} did not settle within ${options.deadlineMs / 1000} s` } }),
      );
      Promise.resolve(pending).then(
        (value) => {
          cancel();
          resolve({ ok: true, value });
        },
        (e: unknown) => {
          cancel();
          resolve(thrown(e));
        },
      );
    });
  }

  /** Run `steps` in order until one holds; sync while every step is. */
  function sequence(plan: SessionPlan, steps: readonly (() => Outcome<unknown> | Promise<Outcome<unknown>>)[], then: () => Decision): Decision | Promise<Decision> {
    for (let i = 0; i < steps.length; i++) {
      const out = steps[i]!();
      if (isPromiseLike(out)) {
        return out.then((o) => {
          if (!o.ok) return holdOn(plan, o.hold);
          return sequence(plan, steps.slice(i + 1), then);
        });
      }
      if (!out.ok) return holdOn(plan, out.hold);
    }
    return then();
  }

  function holdOn(plan: SessionPlan, hold: Hold): Decision {
    plan.hold = hold;
    return { kind: 'done', summary: `HOLD (${hold.reason}): ${options.name}: ${hold.detail}`, reason: hold.reason };
  }

  function next(plan: SessionPlan, request: Message<'agent.decide'>): Decision {
    if (plan.hold) return holdOn(plan, plan.hold);
    const intents = plan.intents ?? [];
    const intent = intents[request.step];
    if (intent) return { kind: 'intent', intent };
    return { kind: 'done', summary: `${options.name}: ${intents.length === 0 ? 'no orders' : `asked ${intents.length} order${intents.length === 1 ? '' : 's'}`}` };
  }

  return {
    decide(request, view) {
      if (current?.sessionId !== request.sessionId) {
        const at = view.at.setZone(MARKETS[options.market].zone);
        const ctx: SessionContext = {
          at,
          market: options.market,
          frequency: options.frequency,
          signature: request.signature,
          lotSize: LOT_SIZES[options.market],
          view: marketOf(view, at),
          account: accountOf(request.account),
          params: options.params,
        };
        current = { sessionId: request.sessionId, ctx, reported: 0 };
      }
      const plan = current;
      if (plan.hold) return holdOn(plan, plan.hold);
      const steps: (() => Outcome<unknown> | Promise<Outcome<unknown>>)[] = [];
      if (plan.intents === undefined) {
        const onQuote = strategy.onQuote;
        if (onQuote) {
          for (const symbol of Object.keys(request.market.quotes).sort()) {
            const q = request.market.quotes[symbol]!;
            const quote: StrategyQuote = { symbol, price: dec(q.price), at: DateTime.fromISO(q.at, { setZone: true }), source: q.source };
            steps.push(() => run(`onQuote(${symbol})`, () => onQuote.call(strategy, quote, plan.ctx)));
          }
        }
        steps.push(() => {
          const answered = (out: Outcome<readonly Intent[]>): Outcome<unknown> => {
            if (!out.ok) return out;
            const checked = checkIntents(out.value);
            if ('problem' in checked) return { ok: false, hold: { reason: 'MODULE_BAD_OUTPUT', detail: checked.problem } };
            plan.intents = checked.intents;
            return { ok: true, value: undefined };
          };
          const out = run('onSession', () => strategy.onSession(plan.ctx));
          return isPromiseLike(out) ? out.then(answered) : answered(out);
        });
      }
      // Fills of the orders placed since the last step, in order; a restarted session hands them again.
      const onFill = strategy.onFill;
      for (const [i, r] of request.results.entries()) {
        if (i < plan.reported) continue;
        steps.push(() => {
          plan.reported = i + 1;
          if (!onFill || r.filledQuantity === 0) return { ok: true, value: undefined };
          return run(`onFill(${r.intent.symbol})`, () => onFill.call(strategy, fillOf(r, plan.ctx.at), plan.ctx));
        });
      }
      return sequence(plan, steps, () => next(plan, request));
    },
  };
}

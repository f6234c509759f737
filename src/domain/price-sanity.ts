/**
 * Price sanity: which prints may become a symbol's last price. Pure, no I/O; the quote feeds
 * (src/streams/sane-quote-feed.ts) and the bar loader (src/actors/market-data/alpha-vantage-file.ts)
 * run every print through it before anything prices an order, a stop-loss or a fill on it.
 *
 * The rules are ONE table, `PRICE_SANITY_RULES`, tried in order; the first that catches a print
 * decides what happens to it:
 *
 * | rule           | action     | catches a print ...                                                       |
 * |----------------|------------|---------------------------------------------------------------------------|
 * | `future`       | drop       | stamped later than now + `futureToleranceMs` (the injected clock)         |
 * | `out_of_order` | drop       | stamped before the last accepted print of the symbol                      |
 * | `price_band`   | quarantine | outside the A-share daily band: previous close ± the board's limit        |
 * | `deviation`    | quarantine | more than `maxDeviationRatio` away from the reference                     |
 * | `unreferenced` | quarantine | with nothing to compare it with (no accepted print, no previous close)    |
 *
 * - Reference: the median of the last `MEDIAN_WINDOW` accepted prints of the symbol; before the
 *   first one, the previous close (or another known price) the caller gives.
 * - A dropped print is forgotten. A quarantined print starts a *chain*: each further print within
 *   `maxDeviationRatio` of the chain's latest print, not older than it, and caught by the same rule
 *   (still away from the old reference, still outside the band; an exact repeat does not count)
 *   extends it, and the `confirmations`-th one confirms the move (for `deviation` and
 *   `price_band`, the first one once the chain has also held `confirmAfterMs` on the run's clock:
 *   a burst from one source confirms nothing): that print is accepted
 *   and the reference restarts from the chain's prices. A print that passes the rules while a
 *   chain is open discards the chain (the outlier was not followed); a print that starts a new
 *   chain discards the old one.
 * - `price_band` is waived for the rest of the exchange day once a move outside the band was
 *   confirmed (a wrong previous close, an ex-rights day), so the symbol does not flap.
 * - Alerts: one per symbol and episode. A quarantine episode runs from the first quarantined
 *   print to the next accepted print; a drop episode (per rule) likewise. `unreferenced` is
 *   counted only (every start without history would alert for every symbol).
 */
import { DateTime } from 'luxon';
import { priceBand } from './market-rules.js';
import { MARKETS, type Market } from './markets.js';
import { Dec, dec } from './money.js';
import { localDate } from './local-date.js';

export type PriceRuleName = 'future' | 'out_of_order' | 'price_band' | 'deviation' | 'unreferenced';
export type PrintOutcome = 'accepted' | 'dropped' | 'quarantined' | 'confirmed';
/** Every label value the metrics use: an outcome, or `discarded` for a chain given up. */
export type SanityOutcome = PrintOutcome | 'discarded';

export interface PriceSanityLimits {
  /** A print further than this fraction from its reference is quarantined (0.25 = 25%). */
  readonly maxDeviationRatio: number;
  /** Further prints near a quarantined one that confirm it. */
  readonly confirmations: number;
  /** A print stamped later than now + this is dropped. */
  readonly futureToleranceMs: number;
  /**
   * A move away from an established price (deviation, band) is confirmed only once it has also
   * held this long on the run's clock since its first print: a burst of bad prints from one
   * source confirms nothing, whatever the stamps it puts on them. Bar files are history: no wait.
   */
  readonly confirmAfterMs: number;
}

export const DEFAULT_PRICE_SANITY: PriceSanityLimits = { maxDeviationRatio: 0.25, confirmations: 3, futureToleranceMs: 5_000, confirmAfterMs: 60_000 };

/** The config's `data_source.price_sanity` (mirrored: domain/ does not import config/). */
export interface PriceSanityConfig {
  readonly max_deviation_ratio: number;
  readonly confirmations: number;
  readonly future_tolerance_seconds: number;
  readonly confirm_after_seconds: number;
}

export const limitsFromConfig = (c: PriceSanityConfig): PriceSanityLimits => ({
  maxDeviationRatio: c.max_deviation_ratio,
  confirmations: c.confirmations,
  futureToleranceMs: c.future_tolerance_seconds * 1000,
  confirmAfterMs: c.confirm_after_seconds * 1000,
});

/** Accepted prints the reference median is taken over. */
export const MEDIAN_WINDOW = 5;

export const PRICE_ALERT_CODES = { drop: 'PRICE_DROPPED', quarantine: 'PRICE_QUARANTINED' } as const;

/** One print: a trade, a quote's midpoint, a bar's open or close. */
export interface Print {
  readonly symbol: string;
  readonly price: Dec;
  readonly atMs: number;
}

/** What the caller knows about a symbol besides its prints (from the bars, if any). */
export interface ReferencePrices {
  /** The close of the last session before the print's exchange day: the band's base. */
  readonly previousClose?: Dec | undefined;
  /** Any other recent price (the latest bar), used as the reference when there is no accepted print. */
  readonly known?: Dec | undefined;
}

/** What a rule reads. */
export interface PrintContext {
  readonly print: Print;
  readonly market: Market;
  readonly nowMs: number;
  readonly limits: PriceSanityLimits;
  readonly lastAcceptedMs: number | undefined;
  readonly reference: { readonly price: Dec; readonly what: string } | undefined;
  readonly previousClose: Dec | undefined;
  /** Rules waived for this symbol now (a confirmed band move, for the rest of its day). */
  readonly waived: ReadonlySet<PriceRuleName>;
}

export interface PriceSanityRule {
  readonly rule: PriceRuleName;
  readonly action: 'drop' | 'quarantine';
  /** Alert level of an episode this rule starts; absent: counted, not alerted. */
  readonly alert?: 'warning' | 'critical';
  /**
   * A confirmation must still be caught by this rule (away from the old reference, outside the
   * band), so a print back at the old level confirms nothing. Off for `unreferenced`: the first
   * print's followers are judged by nearness alone.
   */
  readonly confirmOnlyWhileCaught?: boolean;
  /** After a confirmed move this rule caught, it is waived for the rest of the exchange day. */
  readonly waiveForDayOnConfirm?: boolean;
  /** A move it caught must also hold for `confirmAfterMs` (off for `unreferenced`: there is no price to move away from). */
  readonly confirmAfterHolding?: boolean;
  /** Why the print is caught (for people), or undefined when it passes. */
  readonly test: (ctx: PrintContext) => string | undefined;
}

const iso = (ms: number, market: Market): string => DateTime.fromMillis(ms, { zone: MARKETS[market].zone }).toISO() ?? String(ms);
const pct = (r: Dec): string => `${r.times(100).toDecimalPlaces(2).toFixed()}%`;

/** |p - ref| / ref */
const deviation = (p: Dec, ref: Dec): Dec => p.minus(ref).abs().dividedBy(ref);
const near = (p: Dec, ref: Dec, limits: PriceSanityLimits): boolean => ref.gt(0) && deviation(p, ref).lte(limits.maxDeviationRatio);

export const PRICE_SANITY_RULES: readonly PriceSanityRule[] = [
  {
    rule: 'future',
    action: 'drop',
    alert: 'warning',
    test: ({ print, nowMs, limits, market }) =>
      print.atMs > nowMs + limits.futureToleranceMs
        ? `stamped ${iso(print.atMs, market)}, after now ${iso(nowMs, market)} + ${limits.futureToleranceMs / 1000} s`
        : undefined,
  },
  {
    rule: 'out_of_order',
    action: 'drop',
    alert: 'warning',
    test: ({ print, lastAcceptedMs, market }) =>
      lastAcceptedMs !== undefined && print.atMs < lastAcceptedMs
        ? `stamped ${iso(print.atMs, market)}, before the last accepted print at ${iso(lastAcceptedMs, market)}`
        : undefined,
  },
  {
    rule: 'price_band',
    action: 'quarantine',
    alert: 'warning',
    confirmOnlyWhileCaught: true,
    waiveForDayOnConfirm: true,
    confirmAfterHolding: true,
    test: ({ print, market, previousClose, waived }) => {
      if (previousClose === undefined || waived.has('price_band')) return undefined;
      const band = priceBand(market, print.symbol, previousClose);
      if (!band || (print.price.lte(band.up) && print.price.gte(band.down))) return undefined;
      return `outside the daily band ${band.down.toFixed(2)}-${band.up.toFixed(2)} (previous close ${previousClose.toFixed()}, ${band.board.name} ±${pct(band.ratio)})`;
    },
  },
  {
    rule: 'deviation',
    action: 'quarantine',
    alert: 'warning',
    confirmOnlyWhileCaught: true,
    confirmAfterHolding: true,
    test: ({ print, reference, limits }) =>
      reference && !near(print.price, reference.price, limits)
        ? `${pct(deviation(print.price, reference.price))} away from ${reference.what} ${reference.price.toFixed()}, limit ${pct(dec(limits.maxDeviationRatio))}`
        : undefined,
  },
  {
    rule: 'unreferenced',
    action: 'quarantine',
    test: ({ reference }) => (reference === undefined ? 'no accepted print nor previous close to compare it with' : undefined),
  },
];

const RULES_BY_NAME = new Map(PRICE_SANITY_RULES.map((r) => [r.rule, r]));

export interface SanityAlert {
  readonly level: 'warning' | 'critical';
  readonly code: string;
  readonly message: string;
}

export interface PrintVerdict {
  readonly print: Print;
  readonly outcome: PrintOutcome;
  /** The rule that caught it (for `confirmed`, the rule that quarantined the move). */
  readonly rule?: PriceRuleName;
  /** For people: why. */
  readonly reason?: string;
  /** The first print of an episode an alert goes out for. */
  readonly alert?: SanityAlert;
  /** A quarantine chain this print ended without confirming it: its first print and rule. */
  readonly discarded?: OpenChain;
}

/** A quarantine chain: its first print, the rule that caught it and why. */
export interface OpenChain {
  readonly print: Print;
  readonly rule: PriceRuleName;
  readonly reason: string;
}

interface Chain {
  readonly rule: PriceRuleName;
  readonly reason: string;
  readonly first: Print;
  /** The run clock when the first print came (the wait of `confirmAfterMs` starts there). */
  readonly firstNowMs: number;
  last: Print;
  /** Prices of the chain, newest last (at most MEDIAN_WINDOW), to restart the reference from. */
  readonly prices: Dec[];
  confirmations: number;
}

interface SymbolState {
  lastAcceptedMs: number | undefined;
  /** Last accepted prices, newest last, at most MEDIAN_WINDOW. */
  readonly recent: Dec[];
  chain: Chain | undefined;
  /** Rules whose episode has alerted and not ended yet. */
  readonly alerted: Set<PriceRuleName | 'quarantine'>;
  /** Rule -> the exchange day it is waived on. */
  readonly waivedOn: Map<PriceRuleName, string>;
}

function median(values: readonly Dec[]): Dec {
  const sorted = [...values].sort((a, b) => a.comparedTo(b));
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : sorted[mid - 1]!.plus(sorted[mid]!).dividedBy(2);
}

const pushBounded = (list: Dec[], p: Dec): void => {
  list.push(p);
  if (list.length > MEDIAN_WINDOW) list.shift();
};

export interface PriceSanityOptions {
  readonly market: Market;
  readonly limits?: PriceSanityLimits;
  /** The previous close and any other known price of a symbol at an instant. */
  readonly reference?: (symbol: string, atMs: number) => ReferencePrices;
}

export function checkLimits(limits: PriceSanityLimits): PriceSanityLimits {
  if (!(limits.maxDeviationRatio > 0 && Number.isFinite(limits.maxDeviationRatio))) throw new RangeError('price sanity: maxDeviationRatio must be a number > 0');
  if (!(Number.isSafeInteger(limits.confirmations) && limits.confirmations >= 1)) throw new RangeError('price sanity: confirmations must be a whole number >= 1');
  if (!(limits.futureToleranceMs >= 0)) throw new RangeError('price sanity: futureToleranceMs must be >= 0');
  if (!(limits.confirmAfterMs >= 0)) throw new RangeError('price sanity: confirmAfterMs must be >= 0');
  return limits;
}

/** The rules' state for every symbol of one feed: feed it prints in arrival order. */
export class PriceSanity {
  readonly #market: Market;
  readonly #limits: PriceSanityLimits;
  readonly #reference: (symbol: string, atMs: number) => ReferencePrices;
  readonly #symbols = new Map<string, SymbolState>();

  constructor(options: PriceSanityOptions) {
    this.#market = options.market;
    this.#limits = checkLimits(options.limits ?? DEFAULT_PRICE_SANITY);
    this.#reference = options.reference ?? (() => ({}));
  }

  get limits(): PriceSanityLimits {
    return this.#limits;
  }

  /** Symbols with a quarantine chain open now (their last price is held back), sorted. */
  quarantined(): string[] {
    return [...this.#symbols].filter(([, s]) => s.chain !== undefined).map(([k]) => k).sort();
  }

  /** The quarantine chain open for a symbol, if any. */
  openChain(symbol: string): OpenChain | undefined {
    const c = this.#symbols.get(symbol)?.chain;
    return c && { print: c.first, rule: c.rule, reason: c.reason };
  }

  #state(symbol: string): SymbolState {
    let s = this.#symbols.get(symbol);
    if (!s) this.#symbols.set(symbol, (s = { lastAcceptedMs: undefined, recent: [], chain: undefined, alerted: new Set(), waivedOn: new Map() }));
    return s;
  }

  #day(atMs: number): string {
    return localDate(atMs, MARKETS[this.#market].zone);
  }

  #context(print: Print, nowMs: number, s: SymbolState): PrintContext {
    const given = this.#reference(print.symbol, print.atMs);
    const reference =
      s.recent.length > 0
        ? { price: median(s.recent), what: `the median of the last ${s.recent.length} accepted print(s)` }
        : given.previousClose
          ? { price: given.previousClose, what: 'the previous close' }
          : given.known
            ? { price: given.known, what: 'the last known price' }
            : undefined;
    const day = this.#day(print.atMs);
    const waived = new Set([...s.waivedOn].filter(([, d]) => d === day).map(([r]) => r));
    return { print, market: this.#market, nowMs, limits: this.#limits, lastAcceptedMs: s.lastAcceptedMs, reference, previousClose: given.previousClose, waived };
  }

  #alert(s: SymbolState, key: PriceRuleName | 'quarantine', rule: PriceSanityRule, print: Print, reason: string): SanityAlert | undefined {
    if (rule.alert === undefined || s.alerted.has(key)) return undefined;
    s.alerted.add(key);
    const what = rule.action === 'drop' ? 'dropped' : 'quarantined until confirmed';
    return {
      level: rule.alert,
      code: PRICE_ALERT_CODES[rule.action],
      message: `${print.symbol} print ${print.price.toFixed()} ${what} (${rule.rule}): ${reason}; the last price stays`,
    };
  }

  #accept(s: SymbolState, print: Print): void {
    s.lastAcceptedMs = Math.max(s.lastAcceptedMs ?? print.atMs, print.atMs);
    pushBounded(s.recent, print.price);
    s.alerted.clear(); // every episode ends with an accepted print
  }

  /** Judge one print; `nowMs` is the injected clock's now. */
  check(print: Print, nowMs: number): PrintVerdict {
    const s = this.#state(print.symbol);
    const ctx = this.#context(print, nowMs, s);
    const limits = this.#limits;

    for (const rule of PRICE_SANITY_RULES) {
      if (rule.action !== 'drop') continue;
      const reason = rule.test(ctx);
      if (reason === undefined) continue;
      const alert = this.#alert(s, rule.rule, rule, print, reason);
      return { print, outcome: 'dropped', rule: rule.rule, reason, ...(alert ? { alert } : {}) };
    }

    const chain = s.chain;
    // A confirmation is near the chain's latest print and, for most rules, still caught by it.
    const chainRule = chain && RULES_BY_NAME.get(chain.rule);
    const stillCaught = !chainRule?.confirmOnlyWhileCaught || chainRule.test(ctx) !== undefined;
    if (chain && print.atMs >= chain.last.atMs && near(print.price, chain.last.price, limits) && stillCaught) {
      const repeat = print.atMs === chain.last.atMs && print.price.eq(chain.last.price);
      if (!repeat) {
        chain.confirmations++;
        chain.last = print;
        pushBounded(chain.prices, print.price);
      }
      if (chain.confirmations < limits.confirmations) {
        return { print, outcome: 'quarantined', rule: chain.rule, reason: `${chain.confirmations} of ${limits.confirmations} confirmations of ${chain.first.price.toFixed()}` };
      }
      // Enough prints, but not yet for long enough on the run's clock (a file's bars: now is +Infinity).
      const heldUntil = chain.firstNowMs + limits.confirmAfterMs;
      if (chainRule?.confirmAfterHolding && Number.isFinite(nowMs) && nowMs < heldUntil) {
        const reason = `${chain.confirmations} confirmations of ${chain.first.price.toFixed()}, held until ${iso(heldUntil, this.#market)} (confirm_after_seconds ${limits.confirmAfterMs / 1000})`;
        return { print, outcome: 'quarantined', rule: chain.rule, reason };
      }
      s.chain = undefined;
      s.recent.splice(0, s.recent.length, ...chain.prices);
      s.lastAcceptedMs = Math.max(s.lastAcceptedMs ?? print.atMs, print.atMs);
      s.alerted.clear();
      if (RULES_BY_NAME.get(chain.rule)?.waiveForDayOnConfirm) s.waivedOn.set(chain.rule, this.#day(print.atMs));
      return { print, outcome: 'confirmed', rule: chain.rule, reason: `confirmed by ${limits.confirmations} further prints near ${chain.first.price.toFixed()}` };
    }

    const discarded = chain ? { discarded: { print: chain.first, rule: chain.rule, reason: chain.reason } } : {};
    for (const rule of PRICE_SANITY_RULES) {
      if (rule.action !== 'quarantine') continue;
      const reason = rule.test(ctx);
      if (reason === undefined) continue;
      s.chain = { rule: rule.rule, reason, first: print, firstNowMs: nowMs, last: print, prices: [print.price], confirmations: 0 };
      const alert = this.#alert(s, 'quarantine', rule, print, reason);
      return { print, outcome: 'quarantined', rule: rule.rule, reason, ...(alert ? { alert } : {}), ...discarded };
    }

    s.chain = undefined;
    this.#accept(s, print);
    return { print, outcome: 'accepted', ...discarded };
  }
}

// ---------------------------------------------------------------------------------------
// Bars: the same rules over a file's bars, at load

/** What the bar check needs of a bar (a `PriceBar`). */
export interface SanityBar {
  readonly symbol: string;
  readonly start: DateTime;
  readonly end: DateTime;
  readonly open: Dec;
  readonly close?: Dec | undefined;
  readonly complete: boolean;
}

export interface BarProblem {
  readonly symbol: string;
  readonly atMs: number;
  readonly price: Dec;
  readonly rule: PriceRuleName;
  /** For people: what is wrong and why it was not confirmed. */
  readonly message: string;
}

/**
 * Run a symbol's bars through the rules as prints (each open at its start, each close at its
 * end; no future rule: a file is history). A problem is a quarantined price that was never
 * confirmed: one the following bars did not follow, or one still unconfirmed at the end of the
 * data (the latest bar is the one agents trade at). A start with nothing to compare with is
 * accepted at the end of the data. Bars of one symbol, any order.
 */
export function checkBarPrints(market: Market, bars: readonly SanityBar[], limits: PriceSanityLimits = DEFAULT_PRICE_SANITY): BarProblem[] {
  const bySymbol = new Map<string, SanityBar[]>();
  for (const b of bars) {
    let list = bySymbol.get(b.symbol);
    if (!list) bySymbol.set(b.symbol, (list = []));
    list.push(b);
  }
  return [...bySymbol.values()].flatMap((list) => checkSymbolBars(market, list, limits));
}

function checkSymbolBars(market: Market, bars: readonly SanityBar[], limits: PriceSanityLimits): BarProblem[] {
  const zone = MARKETS[market].zone;
  const dayOf = (ms: number) => localDate(ms, zone);
  const sorted = [...bars].sort((a, b) => a.start.toMillis() - b.start.toMillis());
  // The band's base: the last ACCEPTED close of an earlier day (an absurd close is no base).
  let day: string | undefined;
  let previousClose: Dec | undefined;
  let acceptedClose: Dec | undefined;
  const sanity = new PriceSanity({ market, limits, reference: () => ({ previousClose }) });
  const problems: BarProblem[] = [];
  const problem = (c: OpenChain, why: string): void => {
    problems.push({ symbol: c.print.symbol, atMs: c.print.atMs, price: c.print.price, rule: c.rule, message: `${c.reason}, ${why}` });
  };
  for (const b of sorted) {
    const barDay = dayOf(b.start.toMillis());
    if (barDay !== day) {
      day = barDay;
      previousClose = acceptedClose;
    }
    const prints: Print[] = [{ symbol: b.symbol, price: b.open, atMs: b.start.toMillis() }];
    if (b.complete && b.close !== undefined) prints.push({ symbol: b.symbol, price: b.close, atMs: b.end.toMillis() });
    for (const p of prints) {
      const v = sanity.check(p, Number.POSITIVE_INFINITY);
      if (v.discarded) problem(v.discarded, 'and the next prices did not follow it');
      if (p !== prints[0] && (v.outcome === 'accepted' || v.outcome === 'confirmed')) acceptedClose = p.price;
    }
  }
  const left = sorted.length > 0 ? sanity.openChain(sorted[0]!.symbol) : undefined;
  if (left && left.rule !== 'unreferenced') problem(left, `and fewer than ${limits.confirmations} later prices confirm it`);
  return problems;
}

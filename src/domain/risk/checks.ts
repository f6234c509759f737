/**
 * Pre-trade risk checks, pure: ONE table of rules, run in order, each with its reason code.
 *
 * `runChecks(input)` prices the order (reference price from the latest quote, or the limit
 * price of a limit order), estimates its fees (`orderFees`) and runs the rows that apply to
 * the order's side and the mode, stopping at the first failure. The verdict lists every check
 * that ran with the value it measured and its limit (the audit trail sent with `risk.approved`
 * / `risk.rejected`) and the failure, if any, as `CODE: detail`.
 *
 * LIMITS: a value exactly AT its limit passes, everywhere: `value <= limit` for caps (position
 * ratio, daily loss, notional, order counts, quote age) and `cash after >= reserve` for the
 * cash reserve. The duplicate window is half-open: the same order exactly
 * `duplicate_window_seconds` later passes; the per-minute window likewise counts approved
 * orders with `now - at < 60 s`. Decisions are made on exact decimals (cross-multiplied, never
 * a rounded ratio); messages render ratios with one decimal, with more only when one decimal
 * would hide the breach (30.04% against a limit of 30% reads "30.04%", not "30.0%").
 *
 * PRICING: the venue's own estimate when it gives one (`venueEstimate`: its fill price and
 * its fees, by its rules: AI-Trader's venue fills at the labelled bar's open with no fees), so
 * risk and the venue cannot disagree about what an order costs. Without one (a broker that
 * cannot estimate) a limit order is valued at its limit price (the worst a buy pays, the least
 * a sell gets), a market order at the reference price, and fees by the configured table.
 * Shares already held are marked at the reference price (the order's price when there is none). Position ratio = (held x mark +
 * quantity x order price) / (equity - fees): the equity the account has right after the fill.
 *
 * GATE (STYLE.md: deny, or forward through an `active | halted | reducing` gate): the caller
 * passes the signature's gate; `halted` (kill switch) fails the first row for every order,
 * `reducing` (daily loss reached earlier today) fails the daily-loss row for buys only.
 * A daily loss seen by this check (`lossBreached`) turns the gate to `reducing` for the rest
 * of the exchange day; the caller remembers that (see book.ts).
 *
 * Choices beyond the issue, each a row's comment: the allow/deny list and the position ratio
 * bind buys only (selling out of a denied symbol reduces risk); the cash reserve binds a sell
 * only when its fees exceed its proceeds; the notional cap against equity binds buys only; the absolute
 * notional cap, the rate limits and the run's universe (data_source.symbols) bind both sides.
 * Lot sizes, T+1, price limits and plain cash sufficiency are the venue's rules
 * (market-rules.ts), not repeated here.
 */
import { DateTime } from 'luxon';
import { orderFees, type FeeBreakdown, type FeeRates, type OrderEstimate } from '../fees.js';
import { checkBoardQuantity, checkLot, checkPosition, checkPriceBand, checkPriceLimit, checkTick, checkTPlusOne, MARKET_RULES, tradesInLots, type RuleViolation } from '../market-rules.js';
import { MARKETS, type Market } from '../markets.js';
import type { AccountView, RiskCheckRecord } from '../messages.js';
import { Dec, dec } from '../money.js';
import type { OrderSide } from '../orders.js';
import { renderReason, type ReasonCode } from '../reasons.js';
import { localDate } from '../local-date.js';
import type { LiveRampCap } from './live-ramp.js';
import { actionsToday, capExceeded, inLastSecond, rollTo, type ActionTally, type ProgramTradingCaps } from './program-trading.js';

export type TradingMode = 'backtest' | 'paper' | 'live';

/** Per signature: trading allowed, halted by the kill switch, or only sells (daily loss). */
export type Gate = 'active' | 'halted' | 'reducing';

/**
 * The config's `risk_control` section (src/config/schema.ts), mirrored because domain/ does not
 * import config/: `config.risk_control` can be passed as it is (a test checks they agree).
 */
export interface RiskLimits {
  readonly max_single_position_ratio: number;
  readonly max_daily_loss_ratio: number;
  /** Cash kept after every buy, fees included (market currency). */
  readonly min_cash_reserve: number;
  readonly max_order_notional?: number | undefined;
  /** Largest order value as a multiple of the account's equity; absent: not checked. */
  readonly max_order_notional_ratio?: number | undefined;
  readonly max_orders_per_session: number;
  readonly max_orders_per_minute: number;
  /** 0 turns the duplicate guard off. */
  readonly duplicate_window_seconds: number;
  readonly allow_symbols?: readonly string[] | undefined;
  readonly deny_symbols?: readonly string[] | undefined;
}

/** What the agent asks for (an `OrderIntent`, read defensively: it may be malformed). */
export interface RiskIntent {
  readonly side: OrderSide;
  readonly symbol: string;
  readonly quantity: number;
  readonly type?: 'market' | 'limit' | undefined;
  readonly limitPrice?: string | undefined;
}

/** An order risk approved earlier (for the rate limits and the duplicate guard). */
export interface RecentOrder {
  readonly clientOrderId: string;
  readonly signature: string;
  readonly side: OrderSide;
  readonly symbol: string;
  readonly quantity: number;
  /** When it was approved (injected clock, epoch ms). */
  readonly atMs: number;
}

export interface RiskInput {
  readonly mode: TradingMode;
  readonly market: Market;
  readonly signature: string;
  readonly sessionId: string;
  readonly intent: RiskIntent;
  readonly account: AccountView;
  /** Latest quote of the symbol; undefined when none is known. */
  readonly quote?: { readonly price: Dec; readonly atMs: number } | undefined;
  /** The venue's price and fees for this order now (see PRICING); absent: quote, limit and `fees`. */
  readonly venueEstimate?: OrderEstimate | undefined;
  /** The market data knows the symbol (it has bars / a feed for it). */
  readonly knownSymbol: boolean;
  /** The symbols this run trades (data_source.symbols: streamed / polled in paper and live); absent: any known symbol. */
  readonly universe?: readonly string[] | undefined;
  readonly fees: FeeRates;
  readonly limits: RiskLimits;
  /** `data_source.stale_quote_seconds`. */
  readonly staleQuoteSeconds: number;
  readonly nowMs: number;
  /** Orders approved in this session before this one. */
  readonly ordersThisSession: number;
  /** Orders approved recently for this signature (older ones are ignored). */
  readonly recent: readonly RecentOrder[];
  readonly gate: Gate;
  /** Cash already promised to this signature's open buys (queued, resting, unfilled): not available to this order. */
  readonly committedCash?: Dec | undefined;
  /** Why the gate is halted (kill switch), for the message. */
  readonly halt?: { readonly reason: string; readonly at: string } | undefined;
  /** Live: today's cap on the signature's capital in use (`risk_control.live_ramp`); absent: no cap. */
  readonly liveRamp?: LiveRampCap | undefined;
  /** The broker account's buying power now (fetched before a buy); absent: the broker does not say. */
  readonly buyingPower?: Dec | undefined;
  /** The symbol's previous close (the exchange's daily band is set from it); absent: the band is not checked. */
  readonly prevClose?: Dec | undefined;
  /** The account's orders + cancels so far and its caps (program-trading.ts); absent: not checked. */
  readonly programTrading?: { readonly tally: ActionTally; readonly caps: ProgramTradingCaps; readonly wallMs: number; readonly day: string } | undefined;
}

/** The input with the order priced: what every row reads. */
export interface RiskContext extends RiskInput {
  readonly currency: string;
  readonly cash: Dec;
  readonly equity: Dec;
  readonly startOfDayEquity: Dec;
  /** Shares held of the symbol. */
  readonly held: number;
  /** The price the order is valued at: the limit price, else the reference price. */
  readonly orderPrice?: Dec | undefined;
  /** Held shares are marked at this: the reference price, else the order price. */
  readonly markPrice?: Dec | undefined;
  /** quantity x orderPrice. */
  readonly notional?: Dec | undefined;
  readonly estimatedFees?: FeeBreakdown | undefined;
  /** Positive = a loss; (startOfDayEquity - equity) / startOfDayEquity, 0 when sod <= 0. */
  readonly lossRatio: Dec;
}

/** What a row measured. `message` (the detail after `CODE: `) is present exactly when the check fails. */
export interface CheckOutcome {
  readonly value: string;
  readonly limit: string;
  readonly message?: string | undefined;
}

export interface RiskRule {
  /** The config key it enforces, or the guard's name. */
  readonly rule: string;
  readonly code: ReasonCode;
  readonly appliesTo: 'buy' | 'sell' | 'both';
  /** Modes it runs in; all when absent. */
  readonly modes?: readonly TradingMode[];
  /** Runs only when this holds (an optional limit that is not configured does not run). */
  readonly enabled?: (ctx: RiskContext) => boolean;
  readonly check: (ctx: RiskContext) => CheckOutcome;
}

export interface RiskFailure {
  readonly rule: string;
  readonly code: ReasonCode;
  /** `CODE: detail`. */
  readonly message: string;
  readonly value: string;
  readonly limit: string;
}

export interface RiskVerdict {
  readonly approved: boolean;
  /** Every check that ran, in order; the failing one (if any) last. */
  readonly checks: readonly RiskCheckRecord[];
  readonly failure?: RiskFailure | undefined;
  /** The account's loss today is beyond `max_daily_loss_ratio` (whatever the side): buys stop for the day. */
  readonly lossBreached: boolean;
}

// ---------------------------------------------------------------------------------------
// Rendering

const HUNDRED = dec(100);

/** 0.3 -> "30%", 0.125 -> "12.5%": a configured limit, exactly. */
export function limitPercent(ratio: number | Dec): string {
  return `${dec(ratio).times(HUNDRED).toFixed()}%`;
}

/**
 * A measured ratio as a percentage with one decimal (half-up); when it breaks a cap but one
 * decimal would not show it (30.04% vs 30%), with as many decimals as it takes (up to 6).
 */
export function ratioPercent(ratio: Dec, cap?: Dec): string {
  const pct = ratio.times(HUNDRED);
  const capPct = cap?.times(HUNDRED);
  let dp = 1;
  while (capPct !== undefined && pct.gt(capPct) && dp < 6 && dec(pct.toFixed(dp)).lte(capPct)) dp++;
  return `${pct.toFixed(dp)}%`;
}

/** Money with cents, or every decimal it has when it has more (so a value is never rounded onto its limit). */
export function money(amount: Dec): string {
  return amount.decimalPlaces() > 2 ? amount.toFixed() : amount.toFixed(2);
}

/** Milliseconds as seconds, exact: 31500 -> "31.5s". */
const seconds = (ms: number): string => `${dec(ms).dividedBy(1000).toFixed()}s`;

const list = (symbols: readonly string[], max = 10): string =>
  symbols.length <= max ? symbols.join(', ') : `${symbols.slice(0, max).join(', ')}, ... (${symbols.length} in all)`;

const need = <T>(v: T | undefined, what: string): T => {
  if (v === undefined) throw new Error(`risk check reached without ${what} (a row ran before its prerequisite)`);
  return v;
};

/** A market-rules check as a row's outcome (its detail without the code: the row renders it). */
const exchangeRow = (value: string, limit: string, broken: RuleViolation | undefined): CheckOutcome => ({ value, limit, message: broken?.message.slice(`${broken.reason}: `.length) });

const orderText = (ctx: RiskContext): string => `${ctx.intent.side === 'buy' ? 'buying' : 'selling'} ${ctx.intent.quantity} ${ctx.intent.symbol}`;

// ---------------------------------------------------------------------------------------
// The table

const MINUTE_MS = 60_000;

const isPositiveInt = (n: number) => Number.isSafeInteger(n) && n > 0;
const DECIMAL = /^\d+(\.\d+)?$/;

/** Approved orders of this signature inside `[now - windowMs, now]`, excluding the boundary (half-open). */
const inWindow = (ctx: RiskContext, windowMs: number) =>
  ctx.recent.filter((o) => o.signature === ctx.signature && ctx.nowMs - o.atMs < windowMs && o.atMs <= ctx.nowMs);

export const RISK_TABLE: readonly RiskRule[] = [
  {
    // First: a halted signature gets nothing else checked.
    rule: 'kill_switch',
    code: 'KILL_SWITCH',
    appliesTo: 'both',
    check: (ctx) => ({
      value: ctx.gate === 'halted' ? 'halted' : 'active',
      limit: 'active',
      message:
        ctx.gate === 'halted'
          ? `trading is halted for ${ctx.signature}${ctx.halt ? ` since ${ctx.halt.at} (${ctx.halt.reason})` : ''}; ` +
            'reset with `npm run cli -- kill --reset`'
          : undefined,
    }),
  },
  {
    rule: 'valid_order',
    code: 'INVALID_ORDER',
    appliesTo: 'both',
    check: (ctx) => {
      const { quantity, type, limitPrice, symbol } = ctx.intent;
      const value = `quantity ${quantity}${type === 'limit' || limitPrice !== undefined ? `, limit price ${limitPrice ?? 'none'}` : ''}`;
      const limit = 'a whole quantity > 0; limit orders priced > 0';
      const bad = (message: string) => ({ value, limit, message });
      if (typeof symbol !== 'string' || symbol === '') return bad('the order names no symbol');
      if (!isPositiveInt(quantity)) return bad(`quantity ${quantity} of ${symbol} is not a positive whole number of shares`);
      if (type === 'limit' && limitPrice === undefined) return bad(`the limit order for ${symbol} has no limit price`);
      if (limitPrice !== undefined && (!DECIMAL.test(limitPrice) || dec(limitPrice).lte(0))) {
        return bad(`limit price ${limitPrice} of ${symbol} is not a positive price`);
      }
      return { value, limit };
    },
  },
  {
    // Buys only: selling out of a symbol that was since denied reduces risk.
    rule: 'allow_symbols/deny_symbols',
    code: 'SYMBOL_NOT_ALLOWED',
    appliesTo: 'buy',
    enabled: (ctx) => ctx.limits.allow_symbols !== undefined || (ctx.limits.deny_symbols?.length ?? 0) > 0,
    check: (ctx) => {
      const { allow_symbols: allow, deny_symbols: deny = [] } = ctx.limits;
      const s = ctx.intent.symbol;
      const limit = [allow ? `allow ${list(allow, 5)}` : '', deny.length ? `deny ${list(deny, 5)}` : ''].filter(Boolean).join('; ');
      if (deny.includes(s)) return { value: s, limit, message: `${s} is on the deny list` };
      if (allow && !allow.includes(s)) return { value: s, limit, message: `${s} is not on the allow list (${list(allow)})` };
      return { value: s, limit };
    },
  },
  {
    rule: 'known_symbol',
    code: 'UNKNOWN_SYMBOL',
    appliesTo: 'both',
    check: (ctx) => ({
      value: ctx.knownSymbol ? 'known' : 'unknown',
      limit: 'known',
      message: ctx.knownSymbol ? undefined : `${ctx.intent.symbol} is not a ${MARKETS[ctx.market].name} symbol the market data knows`,
    }),
  },
  {
    // Both sides: outside the universe nothing is streamed, so in paper a price would be a bar's
    // open from the file, not a live one. A position held from before is sold by adding its
    // symbol back to data_source.symbols.
    rule: 'data_source.symbols',
    code: 'SYMBOL_NOT_TRADED',
    appliesTo: 'both',
    enabled: (ctx) => ctx.universe !== undefined,
    check: (ctx) => {
      const universe = need(ctx.universe, 'a universe');
      const s = ctx.intent.symbol;
      const limit = `${universe.length} symbol${universe.length === 1 ? '' : 's'}`;
      if (universe.includes(s)) return { value: s, limit };
      return { value: s, limit, message: `${s} is not one of the symbols this run trades (data_source.symbols: ${list(universe)})` };
    },
  },
  // Live: the exchange's own rules (market-rules.ts, the table the simulated venue reads) before a
  // real broker is asked: a refusal here costs no order and no cancel against the program-trading
  // caps, and says why in our words rather than the broker's.
  {
    rule: 'exchange.lot_size',
    code: 'LOT_SIZE',
    appliesTo: 'both',
    modes: ['live'],
    check: (ctx) => {
      const q = { side: ctx.intent.side, symbol: ctx.intent.symbol, quantity: ctx.intent.quantity };
      const withHolding = { ...q, available: ctx.account.positions[ctx.intent.symbol]?.sellable ?? 0 };
      return tradesInLots(ctx.market, q.symbol)
        ? exchangeRow(`${ctx.intent.quantity} shares`, `lots of ${MARKET_RULES[ctx.market].lotSize}`, checkLot(ctx.market, withHolding))
        : exchangeRow(`${ctx.intent.quantity} shares`, "the board's least order", checkBoardQuantity(ctx.market, withHolding));
    },
  },
  {
    rule: 'exchange.position',
    code: 'INSUFFICIENT_POSITION',
    appliesTo: 'sell',
    modes: ['live'],
    check: (ctx) => {
      const held = ctx.account.positions[ctx.intent.symbol]?.quantity ?? 0;
      return exchangeRow(`${ctx.intent.quantity} of ${held} held`, `${held} held`, checkPosition({ symbol: ctx.intent.symbol, quantity: ctx.intent.quantity, held }));
    },
  },
  {
    rule: 'exchange.t_plus_one',
    code: 'T_PLUS_ONE',
    appliesTo: 'sell',
    modes: ['live'],
    check: (ctx) => {
      const p = ctx.account.positions[ctx.intent.symbol];
      const held = p?.quantity ?? 0;
      const sellable = p?.sellable ?? 0;
      return exchangeRow(`${ctx.intent.quantity} of ${sellable} sellable`, `${sellable} sellable`, checkTPlusOne(ctx.market, { symbol: ctx.intent.symbol, quantity: ctx.intent.quantity, held, sellable, today: localDate(ctx.nowMs, MARKETS[ctx.market].zone) }));
    },
  },
  {
    rule: 'exchange.price_band',
    code: 'PRICE_LIMIT',
    appliesTo: 'both',
    modes: ['live'],
    enabled: (ctx) => ctx.prevClose !== undefined,
    check: (ctx) => {
      const limitPrice = ctx.intent.limitPrice !== undefined ? dec(ctx.intent.limitPrice) : undefined;
      const price = limitPrice ?? ctx.quote?.price;
      const value = price ? price.toFixed() : 'no price';
      const limit = `previous close ${need(ctx.prevClose, 'a previous close').toFixed()}`;
      if (!price) return { value, limit };
      const broken = limitPrice
        ? checkPriceBand(ctx.market, { symbol: ctx.intent.symbol, limitPrice, prevClose: ctx.prevClose })
        : checkPriceLimit(ctx.market, { symbol: ctx.intent.symbol, side: ctx.intent.side, price, prevClose: ctx.prevClose });
      return exchangeRow(value, limit, broken);
    },
  },
  {
    rule: 'exchange.tick',
    code: 'BROKER_REJECTED',
    appliesTo: 'both',
    modes: ['live'],
    enabled: (ctx) => ctx.intent.limitPrice !== undefined,
    check: (ctx) => exchangeRow(ctx.intent.limitPrice!, 'the tick grid', checkTick(ctx.market, { symbol: ctx.intent.symbol, limitPrice: dec(ctx.intent.limitPrice!) })),
  },
  {
    // Paper/live: a decision on an old price is a decision on a price that may be gone.
    rule: 'stale_quote_seconds',
    code: 'STALE_QUOTE',
    appliesTo: 'both',
    modes: ['paper', 'live'],
    check: (ctx) => {
      const limitMs = ctx.staleQuoteSeconds * 1000;
      const limit = seconds(limitMs);
      if (!ctx.quote) return { value: 'no quote', limit, message: `no quote of ${ctx.intent.symbol} has arrived, limit ${limit}` };
      const age = ctx.nowMs - ctx.quote.atMs;
      const value = seconds(age);
      if (age <= limitMs) return { value, limit };
      const at = DateTime.fromMillis(ctx.quote.atMs, { zone: MARKETS[ctx.market].zone }).toISO();
      return { value, limit, message: `the latest quote of ${ctx.intent.symbol} is ${value} old (at ${at}), limit ${limit}` };
    },
  },
  {
    // Every mode: the money rows below need a price (a backtest before a symbol's first bar has none).
    rule: 'reference_price',
    code: 'STALE_QUOTE',
    appliesTo: 'both',
    check: (ctx) =>
      ctx.orderPrice
        ? { value: ctx.orderPrice.toFixed(), limit: 'a price' }
        : { value: 'none', limit: 'a price', message: `no price is known for ${ctx.intent.symbol} to value the order` },
  },
  {
    // Buys only: sells that reduce stay allowed after the limit is reached.
    rule: 'max_daily_loss_ratio',
    code: 'DAILY_LOSS_LIMIT',
    appliesTo: 'buy',
    check: (ctx) => {
      const cap = dec(ctx.limits.max_daily_loss_ratio);
      const value = ratioPercent(ctx.lossRatio, cap);
      const limit = limitPercent(cap);
      const tail = 'only sells are allowed until the next trading day';
      if (lossBreached(ctx)) {
        return {
          value,
          limit,
          message: `equity ${money(ctx.equity)} ${ctx.currency} is ${value} below the start of day ${money(ctx.startOfDayEquity)} ${ctx.currency}, limit ${limit}; ${tail}`,
        };
      }
      if (ctx.gate === 'reducing') {
        return { value, limit, message: `the daily loss limit ${limit} was reached earlier today (now ${value}); ${tail}` };
      }
      return { value, limit };
    },
  },
  {
    rule: 'max_orders_per_session',
    code: 'MAX_ORDERS_PER_SESSION',
    appliesTo: 'both',
    check: (ctx) => {
      const n = ctx.ordersThisSession + 1;
      const max = ctx.limits.max_orders_per_session;
      return { value: String(n), limit: String(max), message: n > max ? `this would be order ${n} of session ${ctx.sessionId}, limit ${max}` : undefined };
    },
  },
  {
    rule: 'max_orders_per_minute',
    code: 'MAX_ORDERS_PER_MINUTE',
    appliesTo: 'both',
    check: (ctx) => {
      const n = inWindow(ctx, MINUTE_MS).length + 1;
      const max = ctx.limits.max_orders_per_minute;
      return { value: String(n), limit: String(max), message: n > max ? `this would be order ${n} of ${ctx.signature} in the last minute, limit ${max}` : undefined };
    },
  },
  {
    // China's program-trading rules: the whole account's orders + cancels, every agent on it.
    rule: 'program_trading',
    code: 'ORDER_RATE_LIMIT',
    appliesTo: 'both',
    enabled: (ctx) => ctx.programTrading !== undefined,
    check: (ctx) => {
      const pt = ctx.programTrading!;
      const over = capExceeded(pt.tally, pt.caps, pt.wallMs, pt.day);
      if (over) return over;
      const t = rollTo(pt.tally, pt.day);
      return { value: `${inLastSecond(t, pt.wallMs) + 1}/s, ${actionsToday(t) + 1}/day`, limit: `${pt.caps.maxPerSecond}/s, ${pt.caps.maxPerDay}/day` };
    },
  },
  {
    rule: 'duplicate_window_seconds',
    code: 'DUPLICATE_ORDER',
    appliesTo: 'both',
    enabled: (ctx) => ctx.limits.duplicate_window_seconds > 0,
    check: (ctx) => {
      const windowMs = ctx.limits.duplicate_window_seconds * 1000;
      const limit = seconds(windowMs);
      const { side, symbol, quantity } = ctx.intent;
      const same = inWindow(ctx, windowMs).filter((o) => o.side === side && o.symbol === symbol && o.quantity === quantity);
      const last = same.reduce<RecentOrder | undefined>((a, o) => (a === undefined || o.atMs > a.atMs ? o : a), undefined);
      if (!last) return { value: 'none', limit };
      const value = seconds(ctx.nowMs - last.atMs);
      return { value, limit, message: `${side} ${quantity} ${symbol} was approved ${value} ago (${last.clientOrderId}), window ${limit}` };
    },
  },
  {
    rule: 'max_order_notional',
    code: 'MAX_ORDER_NOTIONAL',
    appliesTo: 'both',
    enabled: (ctx) => ctx.limits.max_order_notional !== undefined,
    check: (ctx) => {
      const notional = need(ctx.notional, 'a notional');
      const cap = dec(need(ctx.limits.max_order_notional, 'max_order_notional'));
      const value = money(notional);
      const limit = money(cap);
      if (notional.lte(cap)) return { value, limit };
      return {
        value,
        limit,
        message: `${orderText(ctx)} at ${need(ctx.orderPrice, 'a price').toFixed()} is ${value} ${ctx.currency}, limit ${limit} ${ctx.currency}`,
      };
    },
  },
  {
    // Buys only: a buy worth many times the account is a price gone wrong, whatever else would
    // stop it. A sell is bounded by the shares held; refusing one because the price rose since
    // the ledger marked it would keep risk on.
    rule: 'max_order_notional_ratio',
    code: 'MAX_ORDER_NOTIONAL',
    appliesTo: 'buy',
    enabled: (ctx) => ctx.limits.max_order_notional_ratio !== undefined,
    check: (ctx) => {
      const notional = need(ctx.notional, 'a notional');
      const ratio = dec(need(ctx.limits.max_order_notional_ratio, 'max_order_notional_ratio'));
      const cap = ratio.times(ctx.equity);
      const limit = `${ratio.toFixed()} x equity ${money(ctx.equity)}`;
      const value = money(notional);
      // Exact: notional <= ratio x equity, never a rounded ratio.
      if (ctx.equity.gt(0) && notional.lte(cap)) return { value, limit };
      return {
        value,
        limit,
        message: `${orderText(ctx)} at ${need(ctx.orderPrice, 'a price').toFixed()} is ${value} ${ctx.currency}, more than ${ratio.toFixed()} x the account's equity ${money(ctx.equity)} ${ctx.currency}`,
      };
    },
  },
  {
    // Buys only: a sell makes the position smaller.
    rule: 'max_single_position_ratio',
    code: 'MAX_POSITION_RATIO',
    appliesTo: 'buy',
    check: (ctx) => {
      const cap = dec(ctx.limits.max_single_position_ratio);
      const limit = limitPercent(cap);
      const after = positionAfterBuy(ctx);
      if (after.equity.lte(0)) {
        return { value: 'no equity', limit, message: `equity after ${orderText(ctx)} would be ${money(after.equity)} ${ctx.currency}; no position fits` };
      }
      const value = ratioPercent(after.value.dividedBy(after.equity), cap);
      // Exact: value <= cap x equity, never a rounded ratio.
      if (after.value.lte(cap.times(after.equity))) return { value, limit };
      return { value, limit, message: `${ctx.intent.symbol} would be ${value} of equity, limit ${limit}` };
    },
  },
  {
    // Buys: cash after the buy and its fees. Sells: only one whose fees exceed its proceeds
    // (a tiny A-share sell under the 5 CNY minimum commission) can lower cash.
    rule: 'min_cash_reserve',
    code: 'MIN_CASH_RESERVE',
    appliesTo: 'both',
    check: (ctx) => {
      const reserve = dec(ctx.limits.min_cash_reserve);
      const notional = need(ctx.notional, 'a notional');
      const fees = need(ctx.estimatedFees, 'fees').total;
      const buy = ctx.intent.side === 'buy';
      const after = buy ? ctx.cash.minus(notional).minus(fees) : ctx.cash.plus(notional).minus(fees);
      const value = money(after);
      const limit = money(reserve);
      const ccy = ctx.currency;
      if (after.gte(reserve) || (!buy && after.gte(ctx.cash))) return { value, limit };
      return {
        value,
        limit,
        message: buy
          ? `${orderText(ctx)} for ${money(notional)} + ${money(fees)} fees would leave ${value} ${ccy} in cash${committedText(ctx)}, reserve ${limit} ${ccy}`
          : `${orderText(ctx)} brings ${money(notional)} but costs ${money(fees)} in fees, leaving ${value} ${ccy} in cash, reserve ${limit} ${ccy}`,
      };
    },
  },
  {
    // Live, buys only: a new account starts small (src/domain/risk/live-ramp.ts). Capital in use
    // is at cost, not marked: a position that gained does not shrink what may be added.
    rule: 'live_ramp',
    code: 'LIVE_RAMP_CAP',
    appliesTo: 'buy',
    enabled: (ctx) => ctx.liveRamp !== undefined,
    check: (ctx) => {
      const ramp = need(ctx.liveRamp, 'a live ramp');
      const held = Object.values(ctx.account.positions).reduce((sum, p) => sum.plus(p.costBasis), dec(0));
      const committed = ctx.committedCash ?? dec(0);
      const order = need(ctx.notional, 'a notional').plus(need(ctx.estimatedFees, 'fees').total);
      const after = held.plus(committed).plus(order);
      const value = money(after);
      const limit = money(ramp.cap);
      if (after.lte(ramp.cap)) return { value, limit };
      const { start_cap: start, growth_per_trading_day: growth, max } = ramp.ramp;
      const ccy = ctx.currency;
      return {
        value,
        limit,
        message:
          `${orderText(ctx)} would bring ${ctx.signature}'s capital in use to ${value} ${ccy} ` +
          `(positions at cost ${money(held)} + open buys ${money(committed)} + this order ${money(order)}), ` +
          `over today's live ramp cap ${limit} ${ccy} (trading day ${ramp.tradingDay} since ${ramp.firstDay}: ` +
          `${money(dec(start))} + ${money(dec(growth))} a trading day, at most ${money(dec(max))})`,
      };
    },
  },
  {
    // Buys: the account's real buying power, as the broker says it now (its own open orders
    // already held back there, so committed cash is not subtracted again).
    rule: 'buying_power',
    code: 'BUYING_POWER',
    appliesTo: 'buy',
    enabled: (ctx) => ctx.buyingPower !== undefined,
    check: (ctx) => {
      const power = need(ctx.buyingPower, 'the buying power');
      const cost = need(ctx.notional, 'a notional').plus(need(ctx.estimatedFees, 'fees').total);
      const value = money(cost);
      const limit = money(power);
      if (cost.lte(power)) return { value, limit };
      return { value, limit, message: `${orderText(ctx)} costs ${value} ${ctx.currency} with fees, the broker account's buying power is ${limit} ${ctx.currency}` };
    },
  },
];

// ---------------------------------------------------------------------------------------
// Running the table

/** The position and equity right after a buy fills at the order price. */
export function positionAfterBuy(ctx: RiskContext): { readonly value: Dec; readonly equity: Dec } {
  const price = need(ctx.orderPrice, 'a price');
  const mark = need(ctx.markPrice, 'a mark price');
  const fees = need(ctx.estimatedFees, 'fees').total;
  return { value: mark.times(ctx.held).plus(price.times(ctx.intent.quantity)), equity: ctx.equity.minus(fees) };
}

/** Loss beyond the cap: (sod - equity) > cap x sod, exactly. */
export function lossBreached(ctx: Pick<RiskContext, 'equity' | 'startOfDayEquity' | 'limits'>): boolean {
  if (ctx.startOfDayEquity.lte(0)) return false;
  return ctx.startOfDayEquity.minus(ctx.equity).gt(dec(ctx.limits.max_daily_loss_ratio).times(ctx.startOfDayEquity));
}

const decOrUndefined = (s: string | undefined): Dec | undefined => {
  if (s === undefined || !DECIMAL.test(s)) return undefined;
  const d = dec(s);
  return d.gt(0) ? d : undefined;
};

const committedText = (ctx: RiskContext): string =>
  ctx.committedCash && ctx.committedCash.gt(0) ? ` (${money(ctx.committedCash)} ${ctx.currency} already committed to open buys)` : '';

/** Price the order and read the account: the context every row reads. */
export function riskContext(input: RiskInput): RiskContext {
  const { intent, account } = input;
  const cash = dec(account.cash).minus(input.committedCash ?? 0);
  const equity = dec(account.equity);
  const startOfDayEquity = dec(account.startOfDayEquity);
  const held = account.positions[intent.symbol]?.quantity ?? 0;
  const limitPrice = decOrUndefined(intent.limitPrice);
  const ref = input.quote && input.quote.price.gt(0) ? input.quote.price : undefined;
  const venue = input.venueEstimate && input.venueEstimate.price.gt(0) ? input.venueEstimate : undefined;
  const orderPrice = venue?.price ?? limitPrice ?? ref;
  const markPrice = ref ?? orderPrice;
  const notional = orderPrice && isPositiveInt(intent.quantity) ? orderPrice.times(intent.quantity) : undefined;
  const estimatedFees = !notional
    ? undefined
    : (venue?.fees ?? orderFees(input.market, { side: intent.side, quantity: intent.quantity, notional }, input.fees));
  const loss = startOfDayEquity.gt(0) ? startOfDayEquity.minus(equity).dividedBy(startOfDayEquity) : dec(0);
  return {
    ...input,
    currency: MARKET_RULES[input.market].currency,
    cash,
    equity,
    startOfDayEquity,
    held,
    orderPrice,
    markPrice,
    notional,
    estimatedFees,
    lossRatio: Dec.max(loss, 0),
  };
}

/** The rows that apply to this order's side in this mode (config-dependent rows included only when configured). */
export function applicableRules(ctx: RiskContext, table: readonly RiskRule[] = RISK_TABLE): RiskRule[] {
  return table.filter(
    (r) =>
      (r.appliesTo === 'both' || r.appliesTo === ctx.intent.side) &&
      (r.modes === undefined || r.modes.includes(ctx.mode)) &&
      (r.enabled === undefined || r.enabled(ctx)),
  );
}

/** Run the table in order up to the first failure. */
export function runChecks(input: RiskInput, table: readonly RiskRule[] = RISK_TABLE): RiskVerdict {
  const ctx = riskContext(input);
  const checks: RiskCheckRecord[] = [];
  let failure: RiskFailure | undefined;
  for (const row of applicableRules(ctx, table)) {
    const out = row.check(ctx);
    const passed = out.message === undefined;
    checks.push({ rule: row.rule, code: row.code, passed, value: out.value, limit: out.limit });
    if (!passed) {
      failure = { rule: row.rule, code: row.code, message: renderReason(row.code, out.message), value: out.value, limit: out.limit };
      break;
    }
  }
  return { approved: failure === undefined, checks, failure, lossBreached: lossBreached(ctx) };
}

/** The gate of a signature: the kill switch wins, then today's daily-loss breach. */
export function gateOf(state: { readonly halted: boolean; readonly reducing: boolean }): Gate {
  return state.halted ? 'halted' : state.reducing ? 'reducing' : 'active';
}

/** The exchange-local date (YYYY-MM-DD) of an instant: the "day" a daily-loss breach lasts for. */
export function exchangeDay(market: Market, at: string | number): string {
  const ms = typeof at === 'number' ? at : DateTime.fromISO(at, { setZone: true }).toMillis();
  if (!Number.isFinite(ms)) throw new RangeError(`not an instant: ${JSON.stringify(at)}`);
  return localDate(ms, MARKETS[market].zone);
}

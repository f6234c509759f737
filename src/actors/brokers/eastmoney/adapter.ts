/**
 * EastMoney's web trading session as a VenueAdapter (EXPERIMENTAL; docs/brokers/eastmoney.md):
 * the protocol only. The order tracker (polled-broker.ts) polls `orders()` / `fills()` (the
 * site pushes nothing) and maps the entrust numbers (Wtbh) to our client order ids: the site
 * cannot carry ours, so `clientOrderId` is always undefined here.
 *
 * - Read-only unless `trading`: `place` and `cancel` are refused before anything is sent, and
 *   so is every order over a cap (`checkOrder`, which the runtime may call first). Limit orders
 *   only: the site's plain submit is a limit entrust, and the value cap needs the price.
 * - A dead session (VenueHalted) is latched: every later call throws the same error without a
 *   request, so nothing is retried against a session that is gone (a new session means a restart).
 * - Symbols: 600519.SH <-> Zqdm 600519 market HA, 000001.SZ <-> SA (Beijing is not supported for
 *   orders; its entrusts placed elsewhere are listed as .BJ).
 * - Times: the site's yyyyMMdd + HHmmss are Shanghai time; "today" is `now()` in Asia/Shanghai.
 * - account(): `cash` is the balance (Zjye: frozen cash of open buys included, as our ledger
 *   keeps cash until a fill), `buyingPower` the available funds (Kyzj: open buys held back).
 *   Where the site sends no Zjye, cash = Kyzj + Djzj (ASSUMED: balance = available + frozen).
 */
import { DateTime } from 'luxon';
import type { SchedulerLike } from 'rxjs';
import { dec } from '../../../domain/money.js';
import type { OrderRequest } from '../../../domain/orders.js';
import type { ReasonCode } from '../../../domain/reasons.js';
import type { BrokerPosition } from '../broker.js';
import { VenueHalted, VenueRefused, VenueUnavailable, type VenueAccount, type VenueAdapter, type VenueFill, type VenueOrder, type VenueOrderState } from '../venue-adapter.js';
import { EastMoneyClient, ROUTES } from './client.js';
import type { EastMoneyLimits, EastMoneySettings } from './settings.js';
import type { WireDeal, WireOrder } from './wire.js';

export const SHANGHAI = 'Asia/Shanghai';

/** The site's status words (Wtzt) -> ours. A word not here is read as `open`: never terminal on a guess. */
export const WTZT_STATES: Readonly<Record<string, VenueOrderState>> = {
  未报: 'pending',
  待报: 'pending',
  正报: 'pending',
  已报: 'open',
  部成: 'open',
  已报待撤: 'cancelling',
  部成待撤: 'cancelling',
  待撤: 'cancelling',
  正撤: 'cancelling',
  已成: 'filled',
  已撤: 'cancelled',
  部撤: 'cancelled',
  废单: 'rejected',
};

export function venueState(wtzt: string): VenueOrderState {
  return WTZT_STATES[wtzt.trim()] ?? 'open';
}

/** Our A-share symbol -> the site's code and market; undefined for what the adapter cannot trade. */
export function toEastMoney(symbol: string): { readonly code: string; readonly market: 'HA' | 'SA' } | undefined {
  const m = /^(\d{6})\.(SH|SZ)$/.exec(symbol);
  if (!m) return undefined;
  return { code: m[1]!, market: m[2] === 'SH' ? 'HA' : 'SA' };
}

/**
 * The site's code and market -> our symbol. HA/SA (A shares), B (Beijing); without a market,
 * by the code's first digit (ASSUMED for rows that omit it: 6/5/9 Shanghai, 4/8 Beijing, else Shenzhen).
 */
export function fromEastMoney(code: string, market?: string): string {
  const m = (market ?? '').toUpperCase();
  if (m === 'HA' || m === 'HB' || m === 'SH') return `${code}.SH`;
  if (m === 'SA' || m === 'SB' || m === 'SZ') return `${code}.SZ`;
  if (m === 'B' || m === 'BJ') return `${code}.BJ`;
  if (/^[569]/.test(code)) return `${code}.SH`;
  if (/^[48]/.test(code)) return `${code}.BJ`;
  return `${code}.SZ`;
}

export interface OrderProblem {
  readonly reason: ReasonCode;
  readonly message: string;
}

/**
 * Why this order may not go to EastMoney (undefined when it may): trading off, not a limit
 * order, a symbol the adapter cannot route, over a cap. The runtime may call it before handing
 * the order over; `place` calls it again and refuses with the same words.
 */
export function checkOrder(order: Pick<OrderRequest, 'symbol' | 'side' | 'quantity' | 'type' | 'limitPrice'>, limits: EastMoneyLimits): OrderProblem | undefined {
  if (!limits.trading) return { reason: 'BROKER_REJECTED', message: 'EastMoney: trading is off (broker.eastmoney.trading is false): the session is read-only' };
  if (!toEastMoney(order.symbol)) return { reason: 'UNKNOWN_SYMBOL', message: `EastMoney: ${order.symbol} is not a Shanghai or Shenzhen A share (like 600519.SH, 000001.SZ)` };
  if (!Number.isInteger(order.quantity) || order.quantity <= 0) return { reason: 'INVALID_ORDER', message: `EastMoney: quantity ${order.quantity} is not a whole number of shares > 0` };
  if (order.type !== 'limit' || order.limitPrice === undefined) return { reason: 'BROKER_REJECTED', message: 'EastMoney: limit orders only (the web submit is a limit entrust, and the value cap needs its price)' };
  if (!/^\d+(\.\d+)?$/.test(order.limitPrice) || dec(order.limitPrice).lte(0)) return { reason: 'INVALID_ORDER', message: `EastMoney: limit price ${order.limitPrice} is not a price > 0` };
  if (limits.maxOrderShares === undefined || limits.maxOrderValue === undefined) {
    return { reason: 'MAX_ORDER_NOTIONAL', message: 'EastMoney: trading needs broker.eastmoney.max_order_shares and max_order_value' };
  }
  if (order.quantity > limits.maxOrderShares) {
    return { reason: 'MAX_ORDER_NOTIONAL', message: `EastMoney: ${order.quantity} shares is over broker.eastmoney.max_order_shares (${limits.maxOrderShares})` };
  }
  const value = dec(order.limitPrice).times(order.quantity);
  if (value.gt(dec(limits.maxOrderValue))) {
    return { reason: 'MAX_ORDER_NOTIONAL', message: `EastMoney: the order's value ${value.toFixed()} CNY is over broker.eastmoney.max_order_value (${limits.maxOrderValue})` };
  }
  return undefined;
}

export interface EastMoneyAdapterOptions {
  readonly settings: EastMoneySettings;
  /** Deadlines run on it. */
  readonly scheduler: SchedulerLike;
  /** The instant "today" is taken from (cancel's date, rows without a date); default the scheduler's clock. */
  readonly now?: () => number;
  /** Rows per page of a list; default 100. */
  readonly pageSize?: number;
  readonly fetch?: typeof fetch;
}

export class EastMoneyAdapter implements VenueAdapter {
  readonly name = 'EastMoney';
  readonly #client: EastMoneyClient;
  readonly #limits: EastMoneyLimits;
  readonly #now: () => number;
  /** The entrust date (Wtrq) of each entrust seen, for its revoke. */
  readonly #entrustDate = new Map<string, string>();
  #halted: VenueHalted | undefined;
  #closed = false;

  constructor(options: EastMoneyAdapterOptions) {
    const s = options.settings;
    this.#client = new EastMoneyClient({
      baseUrl: s.baseUrl,
      cookie: s.cookie,
      validatekey: s.validatekey,
      scheduler: options.scheduler,
      timeoutMs: s.requestTimeoutMs,
      ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.#limits = { trading: s.trading, maxOrderShares: s.maxOrderShares, maxOrderValue: s.maxOrderValue };
    const scheduler = options.scheduler;
    this.#now = options.now ?? (() => scheduler.now());
  }

  /** One asset query: the session is alive (else VenueHalted). */
  async connect(): Promise<void> {
    await this.#guard(() => this.#client.asset());
  }

  close(): void {
    this.#closed = true;
    this.#client.close();
  }

  checkOrder(order: OrderRequest): OrderProblem | undefined {
    return checkOrder(order, this.#limits);
  }

  async place(order: OrderRequest): Promise<{ readonly brokerOrderId: string }> {
    const problem = checkOrder(order, this.#limits);
    if (problem) throw new VenueRefused(problem.message, problem.reason);
    const { code, market } = toEastMoney(order.symbol)!;
    const wtbh = await this.#guard(() => this.#client.submit({ stockCode: code, market, price: order.limitPrice!, amount: order.quantity, tradeType: order.side === 'buy' ? 'B' : 'S' }));
    this.#entrustDate.set(wtbh, this.#today());
    return { brokerOrderId: wtbh };
  }

  async cancel(order: { readonly brokerOrderId: string; readonly clientOrderId: string }): Promise<void> {
    if (!this.#limits.trading) throw new VenueRefused('EastMoney: trading is off (broker.eastmoney.trading is false): no cancel is sent from a read-only session');
    const date = this.#entrustDate.get(order.brokerOrderId) ?? this.#today();
    await this.#guard(() => this.#client.revoke(`${date}_${order.brokerOrderId}`));
  }

  async orders(): Promise<VenueOrder[]> {
    const rows = await this.#guard(() => this.#client.orders());
    const seen = new Map<string, VenueOrder>();
    rows.forEach((row, i) => {
      const order = this.#order(row, i);
      seen.set(order.brokerOrderId, order);
    });
    return [...seen.values()];
  }

  async fills(): Promise<VenueFill[]> {
    const rows = await this.#guard(() => this.#client.deals());
    const seen = new Map<string, VenueFill>();
    rows.forEach((row, i) => {
      const fill = this.#fill(row, i);
      if (fill) seen.set(fill.fillId, fill);
    });
    return [...seen.values()];
  }

  async account(): Promise<VenueAccount> {
    const a = await this.#guard(() => this.#client.asset());
    const where = `${ROUTES.asset} Data.0`;
    const available = decimal(a.Kyzj, `${where}.Kyzj`);
    const cash = a.Zjye !== undefined && a.Zjye !== '' ? decimal(a.Zjye, `${where}.Zjye`) : dec(available).plus(dec(decimal(a.Djzj || '0', `${where}.Djzj`))).toFixed();
    return { cash, buyingPower: available };
  }

  async positions(): Promise<BrokerPosition[]> {
    const a = await this.#guard(() => this.#client.asset());
    return a.positions.flatMap((p, i) => {
      const where = `${ROUTES.asset} Data.0.positions.${i}`;
      const quantity = whole(p.Zqsl, `${where}.Zqsl`);
      if (quantity <= 0) return [];
      return [{ symbol: fromEastMoney(p.Zqdm, p.Market), quantity, sellable: Math.min(quantity, whole(p.Kysl, `${where}.Kysl`)) }];
    });
  }

  #order(row: WireOrder, i: number): VenueOrder {
    const where = `${ROUTES.orders} Data.${i}`;
    const quantity = whole(row.Wtsl, `${where}.Wtsl`);
    if (quantity <= 0) throw unexpected(`${where}.Wtsl`, 'a whole number of shares > 0', row.Wtsl);
    const filledQuantity = whole(row.Cjsl, `${where}.Cjsl`);
    if (filledQuantity > quantity) throw unexpected(`${where}.Cjsl`, `0 to ${quantity} (the entrust's Wtsl)`, row.Cjsl);
    const avg = row.Cjjg !== undefined && row.Cjjg !== '' ? decimal(row.Cjjg, `${where}.Cjjg`) : undefined;
    const limit = row.Wtjg !== undefined && row.Wtjg !== '' ? decimal(row.Wtjg, `${where}.Wtjg`) : undefined;
    // A market entrust lists its price as 0; below 0 is a broken answer.
    if (limit !== undefined && dec(limit).lt(0)) throw unexpected(`${where}.Wtjg`, 'a price >= 0', row.Wtjg);
    const day = row.Wtrq || this.#today();
    this.#entrustDate.set(row.Wtbh, day);
    const state = venueState(row.Wtzt);
    return {
      brokerOrderId: row.Wtbh,
      clientOrderId: undefined,
      symbol: fromEastMoney(row.Zqdm, row.Market),
      side: side(row, where),
      quantity,
      limitPrice: limit,
      filledQuantity,
      avgFillPrice: filledQuantity > 0 && avg !== undefined && dec(avg).gt(0) ? avg : undefined,
      state,
      message: state === 'rejected' || state === 'cancelled' ? row.Wtzt : undefined,
      rawStatus: row.Wtzt,
      createdAtMs: this.#instant(day, row.Wtsj, `${where}.Wtsj`),
    };
  }

  #fill(row: WireDeal, i: number): VenueFill | undefined {
    const where = `${ROUTES.deals} Data.${i}`;
    const quantity = signedWhole(row.Cjsl, `${where}.Cjsl`);
    // Rows of 0 or fewer shares are the site's records of a cancel, not executions.
    if (quantity <= 0) return undefined;
    const day = row.Cjrq || this.#today();
    return {
      // The deal number alone is the exchange's, per market and day: the day and the entrust make it the account's.
      fillId: `${day}_${row.Wtbh}_${row.Cjbh}`,
      brokerOrderId: row.Wtbh,
      quantity,
      price: positivePrice(row.Cjjg, `${where}.Cjjg`),
      atMs: this.#instant(day, row.Cjsj, `${where}.Cjsj`),
    };
  }

  #today(): string {
    return DateTime.fromMillis(this.#now(), { zone: SHANGHAI }).toFormat('yyyyMMdd');
  }

  /** yyyyMMdd + HHmmss (Shanghai) -> epoch ms; a row without a time: now. */
  #instant(day: string, time: string | undefined, field: string): number {
    if (time === undefined || time === '') return this.#now();
    const t = DateTime.fromFormat(`${day}${time.replace(/:/g, '').padStart(6, '0')}`, 'yyyyMMddHHmmss', { zone: SHANGHAI });
    if (!t.isValid) throw new VenueUnavailable(`EastMoney: unexpected answer: ${field}: expected a time HHmmss on day ${day}, got ${JSON.stringify(time)}`);
    return t.toMillis();
  }

  /** Run a request unless the session is known dead; a VenueHalted is kept and thrown again from then on. */
  async #guard<T>(request: () => Promise<T>): Promise<T> {
    if (this.#halted) throw this.#halted;
    if (this.#closed) throw new VenueUnavailable('EastMoney: the adapter is closed', true);
    try {
      return await request();
    } catch (e) {
      if (e instanceof VenueHalted) this.#halted ??= e;
      throw e;
    }
  }
}

function side(row: WireOrder, where: string): 'buy' | 'sell' {
  const code = (row.Mmlb ?? '').toUpperCase();
  if (code.endsWith('B')) return 'buy';
  if (code.endsWith('S')) return 'sell';
  const words = row.Mmsm ?? '';
  if (words.includes('买')) return 'buy';
  if (words.includes('卖')) return 'sell';
  throw new VenueUnavailable(`EastMoney: unexpected answer: ${where}.Mmlb: expected B or S (or Mmsm 买入 / 卖出), got ${JSON.stringify(row.Mmlb ?? row.Mmsm ?? null)}`);
}

function whole(text: string, field: string): number {
  if (!/^\d+(\.0*)?$/.test(text)) throw new VenueUnavailable(`EastMoney: unexpected answer: ${field}: expected a whole number of shares, got ${JSON.stringify(text)}`);
  return Number.parseInt(text, 10);
}

function signedWhole(text: string, field: string): number {
  if (!/^-?\d+(\.0*)?$/.test(text)) throw new VenueUnavailable(`EastMoney: unexpected answer: ${field}: expected a whole number of shares, got ${JSON.stringify(text)}`);
  return Number.parseInt(text, 10);
}

function unexpected(field: string, expected: string, got: unknown): VenueUnavailable {
  return new VenueUnavailable(`EastMoney: unexpected answer: ${field}: expected ${expected}, got ${JSON.stringify(got)}`);
}

/** A deal's price: > 0, or the answer is broken (never a fill at 0 or below). */
function positivePrice(text: string, field: string): string {
  const price = decimal(text, field);
  if (!dec(price).gt(0)) throw unexpected(field, 'a price > 0', text);
  return price;
}

function decimal(text: string, field: string): string {
  if (!/^-?\d+(\.\d+)?$/.test(text)) throw new VenueUnavailable(`EastMoney: unexpected answer: ${field}: expected a decimal number, got ${JSON.stringify(text)}`);
  return text;
}

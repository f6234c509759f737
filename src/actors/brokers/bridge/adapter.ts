/**
 * BridgeAdapter: the A-share terminal bridge (easytrader's server shape) as a VenueAdapter. The
 * protocol only (venue-adapter.ts): the order tracker (polled-broker.ts) polls `orders()` /
 * `fills()`, maps entrust numbers to our client order ids (the terminal cannot carry ours:
 * `clientOrderId` stays undefined) and finds a lost /buy answer again among today's entrusts.
 *
 * - connect(): POST /prepare (easytrader's RemoteClient.prepare body: `broker` = the client type,
 *   user, password, exe_path, comm_password; miniQMT reads `kwargs.miniqmt_path` and
 *   `kwargs.stock_account`), skipped with `prepare: false`; then GET /balance, which must parse.
 *   A bridge that lost its login (easytrader keeps it in memory: a restart) answers
 *   `KeyError: 'user'`; the adapter prepares again, once, and repeats the request (nothing was
 *   carried out).
 * - place(): POST /buy or /sell `{security: "600519", price, amount}`. easytrader's server has
 *   no market-order route (market_buy exists on its trader objects, not on the server), so a
 *   market order is sent as a limit at `marketPrice(order)` (the caller's marketable price, e.g.
 *   the last price with a collar inside the daily limit); without it the bridge takes limit
 *   orders only and a market order is refused here.
 * - The terminal picks the exchange from the code, so a symbol whose suffix is not the one its
 *   code range says (600519.SZ) is refused before anything is sent.
 * - Times of day are read in Asia/Shanghai on today's date by the injected scheduler's clock.
 */
import type { SchedulerLike } from 'rxjs';
import { z } from 'zod';
import type { OrderRequest } from '../../../domain/orders.js';
import { dec } from '../../../domain/money.js';
import { parseCnSymbol } from '../../../streams/cn-quotes/symbols.js';
import type { BrokerPosition } from '../broker.js';
import { VenueRefused, VenueUnavailable, type VenueAccount, type VenueAdapter, type VenueFill, type VenueOrder } from '../venue-adapter.js';
import { BridgeClient, BridgeNotPrepared, type BridgeRoute } from './client.js';
import { BALANCE_COLUMNS, BridgeAnswerError, describe, ENTRUST_COLUMNS, isRecord, POSITION_COLUMNS, RowReader, rowsOf, TRADE_COLUMNS } from './columns.js';
import { CANCEL_REFUSED, refusalReason } from './errors.js';
import type { BridgeClient as BridgeClientType, BridgeLogin } from './settings.js';
import { bridgeDate, bridgeTime, shanghaiDay } from './times.js';
import { exchangeOfCode, parseBridgeCode, sideOf, venueState } from './words.js';

export interface BridgeAdapterOptions {
  readonly baseUrl: string;
  readonly client: BridgeClientType;
  readonly token?: string | undefined;
  /** Undefined: the user prepared the bridge (`prepare: false`). */
  readonly login?: BridgeLogin | undefined;
  readonly requestTimeoutMs?: number;
  /** Deadlines and "today" (the trading day times of day are read on). */
  readonly scheduler: SchedulerLike;
  readonly fetch?: typeof fetch;
  /** The limit price a market order is sent at; undefined: no price now (NO_PRICE). Absent: market orders are refused. */
  readonly marketPrice?: (order: OrderRequest) => string | undefined | Promise<string | undefined>;
}

/** What /buy and /sell answer: easytrader `{"entrust_no": "12345"}`, miniQMT a number (-1: not taken). */
const PlacedSchema = z.looseObject({ entrust_no: z.union([z.string().trim().min(1), z.number()]).optional(), failure: z.string().optional(), message: z.string().optional() });
const CancelSchema = z.looseObject({ success: z.boolean().optional(), message: z.string().optional() });

/** The clients whose /cancel_entrust wants the entrust number as a number (xtquant's cancel_order_stock takes an int). */
const NUMERIC_ENTRUST_NO: ReadonlySet<BridgeClientType> = new Set(['miniqmt']);

export class BridgeAdapter implements VenueAdapter {
  readonly name = 'the terminal bridge';
  readonly #http: BridgeClient;
  readonly #options: BridgeAdapterOptions;
  #closed = false;

  constructor(options: BridgeAdapterOptions) {
    this.#options = options;
    this.#http = new BridgeClient({ baseUrl: options.baseUrl, token: options.token, scheduler: options.scheduler, ...(options.requestTimeoutMs !== undefined ? { timeoutMs: options.requestTimeoutMs } : {}), ...(options.fetch ? { fetch: options.fetch } : {}) });
  }

  async connect(): Promise<void> {
    this.#closed = false;
    if (this.#options.login) await this.#prepare(this.#options.login);
    await this.account();
  }

  close(): void {
    this.#closed = true;
  }

  async place(order: OrderRequest): Promise<{ readonly brokerOrderId: string }> {
    const code = this.#codeOf(order.symbol);
    if (!Number.isSafeInteger(order.quantity) || order.quantity <= 0) throw new VenueRefused(`the terminal bridge takes whole shares: ${order.quantity} ${order.symbol}`, 'LOT_SIZE');
    const price = await this.#priceOf(order);
    // The price goes as a JSON number (xtquant's order_stock wants a float; easytrader rounds a
    // number to the tick), written from the decimal text so no binary float sits in between.
    const body = `{"security":${JSON.stringify(code)},"price":${dec(price).toFixed()},"amount":${order.quantity}}`;
    const route: BridgeRoute = order.side === 'buy' ? '/buy' : '/sell';
    const answer = await this.#call(() => this.#http.post(route, body));
    const placed = PlacedSchema.safeParse(answer);
    if (!placed.success) throw new BridgeAnswerError(`the terminal bridge POST ${route}: expected {"entrust_no": ...}, got ${describe(answer)}`);
    const { entrust_no: no, failure, message } = placed.data;
    if (no === undefined) {
      if (failure !== undefined) throw new VenueRefused(`the terminal refused the order: ${failure}`, refusalReason(failure));
      // easytrader answers {"message": "success"} when it saw no dialog it knows: the entrust may exist.
      throw new VenueUnavailable(`the terminal bridge POST ${route}: answered without an entrust number (${JSON.stringify(message ?? answer).slice(0, 120)}); the entrust may have been made`, false);
    }
    if (typeof no === 'number' && !(Number.isSafeInteger(no) && no > 0)) throw new VenueRefused(`the terminal did not take the order (entrust_no ${no})`, 'BROKER_REJECTED');
    return { brokerOrderId: String(no) };
  }

  async cancel(order: { readonly brokerOrderId: string; readonly clientOrderId: string }): Promise<void> {
    const no = order.brokerOrderId;
    const asNumber = NUMERIC_ENTRUST_NO.has(this.#options.client) && /^\d+$/.test(no);
    const answer = await this.#call(() => this.#http.post('/cancel_entrust', JSON.stringify({ entrust_no: asNumber ? Number(no) : no })));
    const parsed = CancelSchema.safeParse(answer);
    if (!parsed.success) throw new BridgeAnswerError(`the terminal bridge POST /cancel_entrust: expected {"message": ...}, got ${describe(answer)}`);
    const { success, message } = parsed.data;
    if (success === false || (message !== undefined && CANCEL_REFUSED.test(message))) {
      throw new VenueRefused(`the terminal refused to cancel entrust ${no}: ${message ?? 'failed'}`, 'BROKER_REJECTED');
    }
  }

  async orders(): Promise<VenueOrder[]> {
    const answer = await this.#call(() => this.#http.get('/today_entrusts'));
    const today = shanghaiDay(this.#options.scheduler.now());
    const out: VenueOrder[] = [];
    const seen = new Set<string>();
    rowsOf(answer, 'GET /today_entrusts').forEach((row, i) => {
      const r = new RowReader(row, ENTRUST_COLUMNS, `GET /today_entrusts row ${i}`);
      const side = sideOf(r.text('side'));
      if (side === undefined) throw r.error('side', 'expected a buy or a sell (买入 / 卖出)');
      if (side === null) return; // not a share order (a cancel row, an IPO subscription)
      const quantity = r.integer('quantity');
      if (quantity <= 0) throw r.error('quantity', 'expected a whole number of shares > 0');
      const filledQuantity = r.optionalInteger('filled') ?? 0;
      if (filledQuantity < 0 || filledQuantity > quantity) throw r.error('filled', `expected 0 to ${quantity} (the entrust's quantity)`);
      const entrustNo = r.text('entrustNo');
      if (seen.has(entrustNo)) throw r.error('entrustNo', `expected each entrust number once; ${entrustNo} is listed twice`);
      seen.add(entrustNo);
      const status = r.text('status');
      const cancelled = r.optionalInteger('cancelledQuantity') ?? 0;
      let { state, known } = venueState(status, quantity, filledQuantity);
      if (!known && cancelled > 0 && filledQuantity + cancelled >= quantity) state = 'cancelled';
      const limitPrice = positive(r.optionalDecimal('price'));
      const avgFillPrice = filledQuantity > 0 ? positive(r.optionalDecimal('avgFillPrice')) : undefined;
      const message = r.optionalText('message') ?? (state === 'rejected' || state === 'cancelled' ? status : undefined);
      out.push({
        brokerOrderId: entrustNo,
        clientOrderId: undefined,
        symbol: this.#symbolOf(r),
        side,
        quantity,
        ...(limitPrice !== undefined ? { limitPrice } : {}),
        filledQuantity,
        ...(avgFillPrice !== undefined ? { avgFillPrice } : {}),
        state,
        ...(message ? { message } : {}),
        rawStatus: status,
        createdAtMs: this.#timeOf(r, today),
      });
    });
    return out;
  }

  async fills(): Promise<VenueFill[]> {
    const answer = await this.#call(() => this.#http.get('/today_trades'));
    const today = shanghaiDay(this.#options.scheduler.now());
    const out: VenueFill[] = [];
    rowsOf(answer, 'GET /today_trades').forEach((row, i) => {
      const r = new RowReader(row, TRADE_COLUMNS, `GET /today_trades row ${i}`);
      if (r.has('side') && sideOf(r.text('side')) === null) return; // a cancel listed among the deals
      const quantity = r.integer('quantity');
      if (quantity <= 0) return; // some terminals list a cancel as a deal of 0 (or minus) shares
      const brokerOrderId = r.text('entrustNo');
      const day = r.has('date') ? (bridgeDate(r.value('date').value) ?? today) : today;
      out.push({
        // Deal numbers restart each day and per exchange: the day and the entrust make them unique on the account.
        fillId: `${day}.${brokerOrderId}.${r.text('dealNo')}`,
        brokerOrderId,
        quantity,
        price: positivePrice(r, 'price'),
        atMs: this.#timeOf(r, today),
      });
    });
    return out;
  }

  async account(): Promise<VenueAccount> {
    const answer = await this.#call(() => this.#http.get('/balance'));
    const r = new RowReader(balanceRow(answer), BALANCE_COLUMNS, 'GET /balance');
    const available = r.optionalDecimal('available');
    // miniQMT has no 资金余额: its `cash` is what is free, `frozen_cash` what open buys hold.
    const cash = r.has('cash') ? r.decimal('cash') : r.has('available') && r.has('frozen') ? dec(r.decimal('available')).plus(dec(r.decimal('frozen'))).toFixed() : r.decimal('cash');
    // A cash account has no debt: a negative balance is a broken answer, not a number to book.
    if (dec(cash).lt(0)) throw r.error('cash', 'expected cash >= 0');
    return { cash, ...(available !== undefined ? { buyingPower: available } : {}) };
  }

  async positions(): Promise<BrokerPosition[]> {
    const answer = await this.#call(() => this.#http.get('/position'));
    const out: BrokerPosition[] = [];
    rowsOf(answer, 'GET /position').forEach((row, i) => {
      const r = new RowReader(row, POSITION_COLUMNS, `GET /position row ${i}`);
      const quantity = r.integer('quantity');
      if (quantity <= 0) return; // sold out today, still listed
      const sellable = r.integer('sellable');
      if (sellable < 0 || sellable > quantity) throw r.error('sellable', `expected 0 to ${quantity} (the position)`);
      out.push({ symbol: this.#symbolOf(r), quantity, sellable });
    });
    return out;
  }

  // ---------------------------------------------------------------------------------------

  async #prepare(login: BridgeLogin): Promise<void> {
    const miniqmt = this.#options.client === 'miniqmt';
    const body = {
      broker: this.#options.client,
      ...(login.user !== undefined ? { user: login.user } : {}),
      ...(login.password !== undefined ? { password: login.password } : {}),
      ...(login.exePath !== undefined ? { exe_path: login.exePath } : {}),
      ...(login.commPassword !== undefined ? { comm_password: login.commPassword } : {}),
      ...(miniqmt ? { kwargs: { ...(login.miniqmtPath !== undefined ? { miniqmt_path: login.miniqmtPath } : {}), ...(login.user !== undefined ? { stock_account: login.user } : {}) } } : {}),
    };
    await this.#http.post('/prepare', JSON.stringify(body));
  }

  /** One request; a bridge that lost its login is prepared again and asked once more. */
  async #call<T>(request: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new VenueUnavailable(`${this.name}: the adapter is closed`, true);
    try {
      return await request();
    } catch (e) {
      if (!(e instanceof BridgeNotPrepared)) throw e;
      const login = this.#options.login;
      if (!login) throw new VenueUnavailable(`${e.message}; broker.bridge.prepare is false, so prepare (log in) the bridge again yourself`, true);
      await this.#prepare(login);
      return request();
    }
  }

  /** Our symbol -> the six digits the terminal takes (it picks the exchange from them). */
  #codeOf(symbol: string): string {
    let parsed;
    try {
      parsed = parseCnSymbol(symbol);
    } catch {
      throw new VenueRefused(`the terminal bridge trades A-shares only (600519.SH): ${symbol}`, 'UNKNOWN_SYMBOL');
    }
    if (exchangeOfCode(parsed.code) !== parsed.exchange) {
      throw new VenueRefused(`the terminal picks the exchange from the code, and ${parsed.code} is not on ${parsed.exchange}: ${symbol}`, 'UNKNOWN_SYMBOL');
    }
    return parsed.code;
  }

  async #priceOf(order: OrderRequest): Promise<string> {
    if (order.type === 'limit') {
      if (order.limitPrice === undefined) throw new VenueRefused(`a limit order without a limit price: ${order.clientOrderId}`, 'BROKER_REJECTED');
      return order.limitPrice;
    }
    const marketPrice = this.#options.marketPrice;
    if (!marketPrice) throw new VenueRefused("the terminal bridge takes limit orders only (easytrader's server has no market-order route)", 'BROKER_REJECTED');
    const price = await marketPrice(order);
    if (price === undefined) throw new VenueRefused(`no price to send the market order for ${order.symbol} at`, 'NO_PRICE');
    return price;
  }

  #symbolOf(r: RowReader<'code' | 'market'>): string {
    const parsed = parseBridgeCode(r.text('code'), r.optionalText('market'));
    if (!parsed) throw r.error('code', 'expected an A-share code (600519, 600519.SH)');
    return `${parsed.code}.${parsed.exchange}`;
  }

  #timeOf(r: RowReader<'date' | 'time'>, today: string): number {
    const day = r.has('date') ? bridgeDate(r.value('date').value) : today;
    if (day === undefined) throw r.error('date', 'expected a date (20251107, 2025-11-07)');
    const at = bridgeTime(r.value('time').value, day);
    if (at === undefined) throw r.error('time', 'expected a time (09:31:02, 093102, 2025-11-07 09:31:02, epoch seconds)');
    return at;
  }
}

/** /balance answers one object, or a list (one row per currency: the CNY one). */
function balanceRow(answer: unknown): Record<string, unknown> {
  if (isRecord(answer)) return answer;
  const rows = rowsOf(answer, 'GET /balance');
  const cny = rows.find((row) => /人民币|RMB|CNY/i.test(String(new RowReader(row, BALANCE_COLUMNS, 'GET /balance').raw('currency')?.value ?? '')));
  const row = cny ?? rows[0];
  if (row === undefined) throw new BridgeAnswerError('the terminal bridge GET /balance: an empty list (expected the account balance)');
  return row;
}

/** A deal's price: a price > 0, or the answer is broken (never a fill at 0 or below). */
function positivePrice<F extends string>(r: { decimal(f: F): string; error(f: F, detail: string): Error }, field: F): string {
  const price = r.decimal(field);
  if (!dec(price).gt(0)) throw r.error(field, 'expected a price > 0');
  return price;
}

/** A price of 0 is no price (a market order's 委托价格, nothing filled yet). */
function positive(price: string | undefined): string | undefined {
  return price !== undefined && dec(price).gt(0) ? price : undefined;
}

/**
 * Futu OpenD as a VenueAdapter (venue-adapter.ts): the protocol only; the order tracker
 * (polled-broker.ts) makes broker updates of it.
 *
 * Each connection's session (before it is 'listening'): GetAccList once (the account: the
 * configured `broker.account_id`, else the one account of the environment and market), then
 * UnlockTrade with the md5 of the trade password (real environment only: simulate needs none),
 * then SubAccPush for the account (OpenD pushes nothing before it).
 *
 * - place: PlaceOrder, `remark` = our client order id (<= 64 bytes UTF-8; Futu echoes it on the
 *   order, so a lost reply is found again in `orders()`), day orders, limit (OrderType_Normal,
 *   the price as a double, at most 3 decimals: Futu drops further ones silently) or market.
 * - cancel: ModifyOrder op 2 (ModifyOrderOp_Cancel).
 * - orders / fills / account / positions: GetOrderList, GetOrderFillList (real environment only:
 *   simulate has no fill list, so `fills` is absent there and the tracker makes fills from each
 *   order's cumulative quantity and average price), GetFunds, GetPositionList. OpenD answers these
 *   from its cache, which Futu's server keeps current by its own pushes (refreshCache is not set:
 *   Futu rate-limits it).
 * - pushes$: UpdateOrder (2208) and UpdateOrderFill (2218) of our account, passed on as they
 *   come (a push sent twice comes out twice: the tracker dedupes).
 */
import { createHash } from 'node:crypto';
import { filter, map, merge, mergeMap, Subject, type Observable, type SchedulerLike } from 'rxjs';
import type { z } from 'zod';
import type { OrderRequest } from '../../../domain/orders.js';
import type { ReconnectOptions } from '../../../streams/alpaca-quotes.js';
import type { BrokerPosition } from '../broker.js';
import { VenueHalted, VenueRefused, VenueUnavailable, type VenueAccount, type VenueAdapter, type VenueConnectionEvent, type VenueFill, type VenueOrder, type VenuePush } from '../venue-adapter.js';
import { FutuConnection, type FutuConnectionEvent } from './connection.js';
import { FUTU_CMDS, type FutuCmdName } from './protos.js';
import type { FutuSettings } from './settings.js';
import { FUTU_MARKETS, toFutu, type FutuMarketFacts } from './symbols.js';
import {
  GetAccListS2C,
  GetFundsS2C,
  GetOrderFillListS2C,
  GetOrderListS2C,
  GetPositionListS2C,
  PlaceOrderS2C,
  toBrokerPosition,
  toVenueAccount,
  toVenueFill,
  toVenueOrder,
  UpdateOrderFillS2C,
  UpdateOrderS2C,
  type TrdAccWire,
} from './wire.js';

export interface FutuAdapterOptions {
  readonly settings: FutuSettings;
  readonly scheduler: SchedulerLike;
  readonly reconnect?: ReconnectOptions;
  /** Opening handshake timeout (a `ws` option); default 10 000 ms. */
  readonly openTimeoutMs?: number;
}

export type FutuAdapterEvent = FutuConnectionEvent | { readonly type: 'account'; readonly accID: string };

/** Futu's `remark` holds at most 64 bytes (Trd_PlaceOrder.proto). */
export const REMARK_MAX_BYTES = 64;
/** Futu keeps 3 decimals of a security's price and drops the rest (Trd_PlaceOrder.proto). */
export const PRICE_MAX_DECIMALS = 3;

/** Trd_Common values we send. */
const TRD_SIDE = { buy: 1, sell: 2 } as const;
const ORDER_TYPE = { limit: 1 /* OrderType_Normal */, market: 2 /* OrderType_Market */ } as const;
const TIME_IN_FORCE_DAY = 0;
const MODIFY_CANCEL = 2;
const ACC_DISABLED = 1;
/** Simulate accounts for options or futures only (SimAccType 2, 3) cannot trade shares. */
const SIM_NOT_STOCK: ReadonlySet<number> = new Set([2, 3]);

const md5hex = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');
const envName = (trdEnv: number): string => (trdEnv === 0 ? 'simulate' : 'real');

export class FutuAdapter implements VenueAdapter {
  readonly name = 'Futu OpenD';
  /** Our client order id rides in the order's remark. */
  readonly carriesClientOrderId = true;
  readonly pushes$: Observable<VenuePush>;
  readonly connection$: Observable<VenueConnectionEvent>;
  /** Real environment only (simulate has no fill list): absent there, per the contract. */
  readonly fills?: () => Promise<VenueFill[]>;
  readonly #s: FutuSettings;
  readonly #facts: FutuMarketFacts;
  readonly #conn: FutuConnection;
  readonly #own = new Subject<FutuAdapterEvent>();
  /** Connection events and the adapter's own (the account chosen, pushes that did not parse): for logs. */
  readonly events$: Observable<FutuAdapterEvent>;
  #accID: string | undefined;

  constructor(options: FutuAdapterOptions) {
    this.#s = options.settings;
    this.#facts = FUTU_MARKETS[this.#s.market];
    this.#conn = new FutuConnection({
      url: this.#s.url,
      websocketKey: this.#s.websocketKey,
      scheduler: options.scheduler,
      requestTimeoutMs: this.#s.requestTimeoutMs,
      keepAliveIntervalMs: this.#s.keepAliveIntervalMs,
      ...(options.reconnect ? { reconnect: options.reconnect } : {}),
      ...(options.openTimeoutMs !== undefined ? { openTimeoutMs: options.openTimeoutMs } : {}),
      onSession: (c) => this.#session(c),
    });
    this.events$ = merge(this.#conn.events$, this.#own);
    const orders$ = this.#conn.pushesOf(FUTU_CMDS.Trd_UpdateOrder).pipe(
      mergeMap((s2c) => {
        const p = this.#parsePush(UpdateOrderS2C, s2c, 'Trd_UpdateOrder');
        return p ? [{ kind: 'order' as const, order: toVenueOrder(p.order, this.#s.market) }] : [];
      }),
    );
    const fills$ = this.#conn.pushesOf(FUTU_CMDS.Trd_UpdateOrderFill).pipe(
      mergeMap((s2c) => {
        const p = this.#parsePush(UpdateOrderFillS2C, s2c, 'Trd_UpdateOrderFill');
        const fill = p ? toVenueFill(p.orderFill, this.#s.market) : undefined;
        return fill ? [{ kind: 'fill' as const, fill }] : [];
      }),
    );
    this.pushes$ = merge(orders$, fills$);
    this.connection$ = this.#conn.events$.pipe(
      filter((e) => e.type === 'listening' || e.type === 'disconnected' || e.type === 'halted'),
      map((e): VenueConnectionEvent => (e.type === 'listening' ? { type: 'listening' } : { type: 'disconnected', message: e.type === 'halted' ? e.message : e.reason })),
    );
    if (this.#s.trdEnv === 1) this.fills = () => this.#fills();
  }

  /** The account in use (known once connected). */
  get accountId(): string | undefined {
    return this.#accID;
  }

  connect(): Promise<void> {
    return this.#conn.start();
  }

  close(): void {
    this.#conn.close();
    this.#own.complete();
  }

  async place(order: OrderRequest): Promise<{ readonly brokerOrderId: string }> {
    const sec = toFutu(order.symbol);
    if (!sec || !this.#facts.secMarkets.includes(sec.secMarket)) throw new VenueRefused(`Futu OpenD: ${order.symbol} is not a security a Futu ${this.#s.market} account trades`, 'UNKNOWN_SYMBOL');
    const remarkBytes = Buffer.byteLength(order.clientOrderId, 'utf8');
    if (remarkBytes > REMARK_MAX_BYTES) throw new VenueRefused(`Futu OpenD: the client order id is ${remarkBytes} bytes; Futu's remark holds ${REMARK_MAX_BYTES}`, 'INVALID_ORDER');
    let price: number | undefined;
    if (order.type === 'limit') {
      if (order.limitPrice === undefined) throw new VenueRefused('Futu OpenD: a limit order without a limit price', 'INVALID_ORDER');
      const decimals = order.limitPrice.split('.')[1]?.length ?? 0;
      if (decimals > PRICE_MAX_DECIMALS) throw new VenueRefused(`Futu OpenD: limit price ${order.limitPrice} has more than ${PRICE_MAX_DECIMALS} decimals (Futu would drop the rest)`, 'INVALID_ORDER');
      price = Number(order.limitPrice);
    }
    const s2c = await this.#conn.request(
      'Trd_PlaceOrder',
      {
        header: this.#header(),
        trdSide: TRD_SIDE[order.side],
        orderType: ORDER_TYPE[order.type],
        code: sec.code,
        qty: order.quantity,
        ...(price !== undefined ? { price } : {}),
        secMarket: sec.secMarket,
        remark: order.clientOrderId,
        timeInForce: TIME_IN_FORCE_DAY,
      },
      { packetID: true },
    );
    const placed = PlaceOrderS2C.safeParse(s2c);
    // Placed, but we cannot tell its number: the tracker finds it by remark in orders().
    if (!placed.success || !placed.data.orderID) throw new VenueUnavailable(`Futu OpenD: PlaceOrder answered without an order id (${placed.success ? 'none' : placed.error.message}); outcome unknown`, false);
    return { brokerOrderId: placed.data.orderID };
  }

  async cancel(order: { readonly brokerOrderId: string; readonly clientOrderId: string }): Promise<void> {
    if (!/^\d+$/.test(order.brokerOrderId)) throw new VenueRefused(`Futu OpenD: ${order.brokerOrderId} is not a Futu order id`, 'BROKER_REJECTED');
    await this.#conn.request('Trd_ModifyOrder', { header: this.#header(), orderID: order.brokerOrderId, modifyOrderOp: MODIFY_CANCEL, forAll: false }, { packetID: true });
  }

  async orders(): Promise<VenueOrder[]> {
    const s2c = this.#read(GetOrderListS2C, await this.#conn.request('Trd_GetOrderList', { header: this.#header() }), 'Trd_GetOrderList');
    return s2c.orderList.map((o) => toVenueOrder(o, this.#s.market));
  }

  async #fills(): Promise<VenueFill[]> {
    const s2c = this.#read(GetOrderFillListS2C, await this.#conn.request('Trd_GetOrderFillList', { header: this.#header() }), 'Trd_GetOrderFillList');
    return s2c.orderFillList.flatMap((f) => toVenueFill(f, this.#s.market) ?? []);
  }

  async account(): Promise<VenueAccount> {
    const s2c = this.#read(GetFundsS2C, await this.#conn.request('Trd_GetFunds', { header: this.#header(), currency: this.#facts.currency }), 'Trd_GetFunds');
    return toVenueAccount(s2c.funds, this.#s.market);
  }

  async positions(): Promise<BrokerPosition[]> {
    const s2c = this.#read(GetPositionListS2C, await this.#conn.request('Trd_GetPositionList', { header: this.#header() }), 'Trd_GetPositionList');
    return s2c.positionList.flatMap((p) => toBrokerPosition(p, this.#s.market) ?? []);
  }

  #header(): { trdEnv: number; accID: string; trdMarket: number } {
    if (this.#conn.status === 'halted') throw new VenueHalted('Futu OpenD: trading is halted (the websocket key or the trade password was refused); nothing sent');
    // Before the first session there is no account: nothing is sent (outcome known).
    if (this.#accID === undefined) throw new VenueUnavailable('Futu OpenD is not connected yet (no account chosen)', true);
    return { trdEnv: this.#s.trdEnv, accID: this.#accID, trdMarket: this.#facts.trdMarket };
  }

  #read<T>(schema: z.ZodType<T>, s2c: Record<string, unknown>, what: FutuCmdName): T {
    const r = schema.safeParse(s2c);
    // A read that does not parse commits nothing: asking again is safe.
    if (!r.success) throw new VenueUnavailable(`Futu OpenD: the reply to ${what} does not fit its schema: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, true);
    return r.data;
  }

  #parsePush<T extends { header: { trdEnv: number; accID: string } }>(schema: z.ZodType<T>, s2c: Record<string, unknown>, what: FutuCmdName): T | undefined {
    const r = schema.safeParse(s2c);
    if (!r.success) {
      this.#own.next({ type: 'malformed', reason: `a push of ${what} that does not fit its schema: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` });
      return undefined;
    }
    // Pushes of another account subscribed on the same OpenD (another program) are not ours.
    return r.data.header.accID === this.#accID && r.data.header.trdEnv === this.#s.trdEnv ? r.data : undefined;
  }

  async #session(c: FutuConnection): Promise<void> {
    if (this.#accID === undefined) {
      const list = this.#read(GetAccListS2C, await c.request('Trd_GetAccList', { userID: 0, needGeneralSecAccount: true }), 'Trd_GetAccList');
      this.#accID = this.#choose(list.accList);
      this.#own.next({ type: 'account', accID: this.#accID });
    }
    if (this.#s.trdEnv === 1) {
      // Unlock is per OpenD, not per connection, but a restarted OpenD is locked again: every session unlocks.
      await c.request('Trd_UnlockTrade', { unlock: true, pwdMD5: md5hex(this.#s.tradePassword ?? '') });
    }
    await c.request('Trd_SubAccPush', { accIDList: [this.#accID] });
  }

  #choose(accounts: readonly TrdAccWire[]): string {
    const env = envName(this.#s.trdEnv);
    const market = this.#s.market;
    const fits = (a: TrdAccWire): boolean =>
      a.trdEnv === this.#s.trdEnv && a.trdMarketAuthList.includes(this.#facts.trdMarket) && a.accStatus !== ACC_DISABLED && !(a.trdEnv === 0 && SIM_NOT_STOCK.has(a.simAccType ?? 0));
    const candidates = accounts.filter(fits);
    const listed = candidates.map((a) => a.accID).join(', ') || 'none';
    const wanted = this.#s.accountId;
    if (wanted !== undefined) {
      const a = accounts.find((x) => x.accID === wanted);
      if (!a) throw new VenueHalted(`Futu OpenD lists no account ${wanted} (broker.account_id); ${env} ${market} accounts: ${listed}`);
      if (!fits(a)) throw new VenueHalted(`Futu account ${wanted} (broker.account_id) is not an active ${env} account trading ${market} (it is ${envName(a.trdEnv)}, markets ${a.trdMarketAuthList.join(',') || 'none'}); ${env} ${market} accounts: ${listed}`);
      return a.accID;
    }
    if (candidates.length === 1) return candidates[0]!.accID;
    if (candidates.length === 0) throw new VenueHalted(`Futu OpenD lists no active ${env} account trading ${market} (broker.paper chooses simulate or real, broker.futu.trd_market the market)`);
    throw new VenueHalted(`Futu OpenD lists several ${env} accounts trading ${market} (${listed}): set broker.account_id to one of them`);
  }
}

/**
 * A fake Alpaca trading API (REST v2 + the trade_updates WebSocket), for tests that run it in a
 * child process (main.ts) and drive it over 127.0.0.1. It speaks the real protocol, as the
 * official SDK `@alpacahq/alpaca-trade-api` 4.x reads it (checked by
 * test/actors/alpaca-fake-conformance.test.ts):
 *
 * REST (auth headers `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`, else 401; JSON in snake_case,
 * decimals as strings, errors `{"code","message"}`, `X-RateLimit-Limit/Remaining/Reset` on every
 * answer):
 *   POST   /v2/orders                          200 the order | 403 buying power / qty | 422 validation,
 *                                              a reused client_order_id: 422 40010001 "client_order_id must be unique"
 *   GET    /v2/orders?status=open|closed|all   newest first, `limit` (default 50), `after` / `until`, `direction`
 *   GET    /v2/orders/{id}                     404 40410000 "order not found"
 *   GET    /v2/orders:by_client_order_id?client_order_id=
 *   DELETE /v2/orders/{id}                     204 (the `canceled` update follows on the stream) | 422 not cancelable
 *   GET    /v2/positions, /v2/account, /v2/clock, /v2/calendar?start&end
 *   GET    /v2/account/activities?activity_types=FILL, /v2/account/activities/FILL
 *          (`after`, `until`, `direction`, `page_size`, `page_token`); a FILL's id is
 *          `<yyyymmddHHMMSSmmm>::<execution_id>` (ASSUMED: the same execution id as on the stream)
 *
 * Stream at /stream, every server frame BINARY holding JSON (as the paper endpoint sends; text with
 * `textFrames`):
 *   client {"action":"authenticate","data":{"key_id","secret_key"}}
 *   server {"stream":"authorization","data":{"status":"authorized"|"unauthorized","action":"authenticate"}}  (then closes if unauthorized)
 *   client {"action":"listen","data":{"streams":["trade_updates"]}}   (may come again: answered again)
 *   server {"stream":"listening","data":{"streams":["trade_updates"]}}
 *          a listen before authorization: {"stream":"authorization","data":{"status":"unauthorized","action":"listen"}}
 *   server {"stream":"trade_updates","data":{"event","execution_id","order","timestamp","price","qty","position_qty"}}
 * Updates go to the clients listening when they happen and are lost for everyone else (Alpaca
 * does not replay them): a client that was disconnected must ask REST.
 *
 * Time: the fake never reads the wall clock; `nowMs` starts at `startMs` and moves 1 ms per
 * event (or where the test sets it), so every run gives the same timestamps and ids.
 *
 * Market orders fill at once at the symbol's price (set by the test) unless `fill` is `manual`
 * or the symbol has no price; limit orders rest until the test fills them. Only long positions,
 * a cash account (buying power = cash less what open buys hold).
 *
 * Control API (no auth; JSON bodies), for the test: see `#control`; `POST follow` makes prices and
 * the clock follow a replay server (quotes.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { Dec, dec } from '../../../src/domain/money.js';
import { followQuotes } from './quotes.js';

export interface FakeAlpacaOptions {
  readonly key: string;
  readonly secret: string;
  /** Starting cash, decimal string; default 100000. */
  readonly cash?: string;
  /** Epoch ms of the fake's clock at start; default 2025-11-07T15:00:00Z (10:00 New York). */
  readonly startMs?: number;
  /** Send stream frames as text instead of binary. */
  readonly textFrames?: boolean;
}

type Side = 'buy' | 'sell';
type Status = 'new' | 'partially_filled' | 'filled' | 'canceled' | 'expired' | 'rejected' | 'pending_cancel' | 'accepted' | 'pending_new' | 'done_for_day';

interface Order {
  readonly id: string;
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly qty: number;
  readonly side: Side;
  readonly type: 'market' | 'limit';
  readonly timeInForce: string;
  readonly limitPrice: string | null;
  readonly createdAt: number;
  updatedAt: number;
  status: Status;
  filledQty: number;
  filledNotional: Dec;
  filledAt: number | null;
  canceledAt: number | null;
  expiredAt: number | null;
  failedAt: number | null;
}

interface Activity {
  readonly id: string;
  readonly executionId: string;
  readonly orderId: string;
  readonly atMs: number;
  readonly type: 'fill' | 'partial_fill';
  readonly price: string;
  readonly qty: number;
  readonly cumQty: number;
  readonly leavesQty: number;
  readonly side: Side;
  readonly symbol: string;
  readonly orderStatus: Status;
}

interface Position {
  qty: number;
  /** Total cost of the shares held (average cost x qty). */
  cost: Dec;
}

/** A rule that answers matching requests some other way, `count` times. */
export type Fault =
  /** Answer with this error (nothing is committed). */
  | { readonly kind: 'status'; readonly status: number; readonly code?: number; readonly message?: string }
  /** 429 with Retry-After and X-RateLimit-* (nothing is committed). */
  | { readonly kind: 'rate_limit'; readonly retryAfterSeconds?: number }
  /** Never answer: `commit` first does what the request asks (a submit reaches the book), then the answer is withheld. */
  | { readonly kind: 'hang'; readonly commit?: boolean }
  /** Close the TCP connection without an answer (a network error to the client), after committing when `commit`. */
  | { readonly kind: 'reset'; readonly commit?: boolean };

interface FaultRule {
  readonly method: string;
  /** Path as sent (`/v2/orders`, `/v2/orders:by_client_order_id`, ...); a trailing `*` matches a prefix. */
  readonly path: string;
  remaining: number;
  readonly fault: Fault;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  /** The submitted client_order_id of a POST /v2/orders. */
  readonly clientOrderId?: string;
  /** What was answered (0: no answer). */
  status: number;
}

interface StreamClient {
  readonly ws: WebSocket;
  authenticated: boolean;
  listening: boolean;
}

const ERRORS = {
  unauthorized: { status: 401, code: 40110000, message: 'request is not authorized' },
  notFound: { status: 404, code: 40410000, message: 'order not found' },
  unique: { status: 422, code: 40010001, message: 'client_order_id must be unique' },
  buyingPower: { status: 403, code: 40310000, message: 'insufficient buying power' },
  rateLimit: { status: 429, code: 42910000, message: 'rate limit exceeded' },
} as const;

const OPEN: ReadonlySet<Status> = new Set(['new', 'accepted', 'pending_new', 'partially_filled', 'pending_cancel', 'done_for_day']);
const RATE_LIMIT = 200;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));
/** 20251107150000123: the time part of an activity id. */
const compactTime = (ms: number): string => iso(ms).replace(/[-:T.Z]/g, '').slice(0, 17);
/** A deterministic UUID-shaped id: `kind` (8 hex digits) and a counter. */
const uuid = (kind: string, n: number): string => `${kind}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

export class FakeAlpaca {
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #options: FakeAlpacaOptions;
  #key: string;
  #secret: string;
  #nowMs: number;
  #cash: Dec;
  readonly #prices = new Map<string, string>();
  #unfollow: () => void = () => undefined;
  readonly #positions = new Map<string, Position>();
  readonly #orders: Order[] = [];
  readonly #byId = new Map<string, Order>();
  readonly #byCid = new Map<string, Order>();
  readonly #activities: Activity[] = [];
  readonly #faults: FaultRule[] = [];
  readonly #requests: RequestRecord[] = [];
  readonly #clients = new Set<StreamClient>();
  readonly #sockets = new Set<Socket>();
  #fillMode: 'auto' | 'manual' = 'auto';
  #holdUpdates = false;
  readonly #held: unknown[] = [];
  #refuseStream = false;
  #answerPings = true;
  #pings = 0;
  #counters = { order: 0, execution: 0, asset: 0 };
  #rateRemaining = RATE_LIMIT;
  #streamConnections = 0;
  #streamFrames: unknown[] = [];

  private constructor(http: Server, wss: WebSocketServer, options: FakeAlpacaOptions) {
    this.#http = http;
    this.#wss = wss;
    this.#options = options;
    this.#key = options.key;
    this.#secret = options.secret;
    this.#nowMs = options.startMs ?? Date.UTC(2025, 10, 7, 15, 0, 0);
    this.#cash = dec(options.cash ?? '100000');
  }

  static async start(options: FakeAlpacaOptions): Promise<FakeAlpaca> {
    let fake: FakeAlpaca | undefined;
    const http = createServer((req, res) => void fake!.#onRequest(req, res));
    // Pings are answered by hand, so a test can play a half-open connection (`answer_pings: false`).
    const wss = new WebSocketServer({ noServer: true, autoPong: false });
    fake = new FakeAlpaca(http, wss, options);
    http.on('connection', (s) => {
      fake!.#sockets.add(s);
      s.on('close', () => fake!.#sockets.delete(s));
    });
    http.on('upgrade', (req, socket, head) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/stream' || fake!.#refuseStream) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => fake!.#onStream(ws));
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  /** The price market orders fill at from now on (quotes.ts feeds it from a replay server). */
  setPrice(symbol: string, price: string): void {
    this.#prices.set(symbol, price);
  }

  /** Move the fake's clock on to `atMs` (never back). */
  clockTo(atMs: number): void {
    this.#nowMs = Math.max(this.#nowMs, atMs);
  }

  async close(): Promise<void> {
    this.#unfollow();
    for (const c of this.#clients) c.ws.terminate();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------------
  // HTTP

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    const path = url.pathname;
    const query = Object.fromEntries(url.searchParams);
    try {
      if (path.startsWith('/__control/')) {
        const out = this.#control(req.method ?? 'GET', path.slice('/__control/'.length), parseJson(body));
        return send(res, 200, out ?? { ok: true });
      }
      const record: RequestRecord = { method: req.method ?? 'GET', path, query, status: 0 };
      let parsed: unknown;
      if (record.method === 'POST' && path === '/v2/orders') {
        parsed = parseJson(body);
        const cid = (parsed as { client_order_id?: unknown } | undefined)?.client_order_id;
        if (typeof cid === 'string') (record as { clientOrderId?: string }).clientOrderId = cid;
      }
      this.#requests.push(record);
      const rule = this.#faults.find((f) => f.remaining > 0 && f.method === record.method && (f.path.endsWith('*') ? path.startsWith(f.path.slice(0, -1)) : f.path === path));
      if (!this.#authorized(req)) return this.#error(res, record, ERRORS.unauthorized.status, ERRORS.unauthorized.code, ERRORS.unauthorized.message);
      if (rule) {
        rule.remaining--;
        const f = rule.fault;
        switch (f.kind) {
          case 'status':
            return this.#error(res, record, f.status, f.code ?? f.status * 100_000, f.message ?? `injected ${f.status}`);
          case 'rate_limit':
            this.#rateRemaining = 0;
            res.setHeader('Retry-After', String(f.retryAfterSeconds ?? 1));
            return this.#error(res, record, ERRORS.rateLimit.status, ERRORS.rateLimit.code, ERRORS.rateLimit.message);
          case 'hang':
            if (f.commit) this.#tryRoute(record.method, path, query, parsed ?? parseJson(body));
            return; // the answer never comes; the socket stays open until the client gives up
          case 'reset':
            if (f.commit) this.#tryRoute(record.method, path, query, parsed ?? parseJson(body));
            req.socket.destroy();
            return;
        }
      }
      const { status, json } = this.#route(record.method, path, query, parsed ?? parseJson(body));
      record.status = status;
      this.#rateHeaders(res);
      if (status === 204) {
        res.writeHead(204);
        res.end();
        return;
      }
      return send(res, status, json);
    } catch (e) {
      if (e instanceof HttpError) {
        const rec = this.#requests.at(-1);
        return this.#error(res, rec, e.status, e.code, e.message);
      }
      return send(res, 500, { code: 50010000, message: e instanceof Error ? e.message : String(e) });
    }
  }

  #authorized(req: IncomingMessage): boolean {
    return req.headers['apca-api-key-id'] === this.#key && req.headers['apca-api-secret-key'] === this.#secret;
  }

  #rateHeaders(res: ServerResponse): void {
    res.setHeader('X-RateLimit-Limit', String(RATE_LIMIT));
    res.setHeader('X-RateLimit-Remaining', String(this.#rateRemaining));
    res.setHeader('X-RateLimit-Reset', String(Math.ceil(this.#nowMs / 1000) + 60));
    this.#rateRemaining = RATE_LIMIT;
  }

  #error(res: ServerResponse, record: RequestRecord | undefined, status: number, code: number, message: string): void {
    if (record) record.status = status;
    this.#rateHeaders(res);
    send(res, status, { code, message });
  }

  /** A committed effect of a request whose answer is withheld: errors are the client's loss too. */
  #tryRoute(method: string, path: string, query: Record<string, string>, body: unknown): void {
    try {
      this.#route(method, path, query, body);
    } catch {
      // an invalid request commits nothing
    }
  }

  #route(method: string, path: string, query: Record<string, string>, body: unknown): { status: number; json?: unknown } {
    const orderPath = /^\/v2\/orders\/([^/]+)$/.exec(path);
    if (method === 'POST' && path === '/v2/orders') return { status: 200, json: this.#orderJson(this.#submit(body)) };
    if (method === 'GET' && path === '/v2/orders') return { status: 200, json: this.#listOrders(query).map((o) => this.#orderJson(o)) };
    if (method === 'GET' && path === '/v2/orders:by_client_order_id') {
      const o = this.#byCid.get(query['client_order_id'] ?? '');
      if (!o) throw new HttpError(ERRORS.notFound.status, ERRORS.notFound.code, ERRORS.notFound.message);
      return { status: 200, json: this.#orderJson(o) };
    }
    if (orderPath && method === 'GET') return { status: 200, json: this.#orderJson(this.#order(orderPath[1]!)) };
    if (orderPath && method === 'DELETE') {
      this.#requestCancel(this.#order(orderPath[1]!));
      return { status: 204 };
    }
    if (method === 'GET' && path === '/v2/positions') return { status: 200, json: [...this.#positions.keys()].sort().map((s) => this.#positionJson(s)) };
    if (method === 'GET' && path === '/v2/account') return { status: 200, json: this.#accountJson() };
    if (method === 'GET' && path === '/v2/clock') return { status: 200, json: this.#clockJson() };
    if (method === 'GET' && path === '/v2/calendar') return { status: 200, json: calendar(query['start'], query['end']) };
    if (method === 'GET' && (path === '/v2/account/activities' || path === '/v2/account/activities/FILL')) {
      const types = path.endsWith('/FILL') ? ['FILL'] : (query['activity_types'] ?? 'FILL').split(',');
      return { status: 200, json: types.includes('FILL') ? this.#listActivities(query) : [] };
    }
    throw new HttpError(404, 40410000, `no route ${method} ${path}`);
  }

  // -------------------------------------------------------------------------------------
  // Orders

  #submit(body: unknown): Order {
    const b = (body ?? {}) as Record<string, unknown>;
    const invalid = (message: string): never => {
      throw new HttpError(422, 40010001, message);
    };
    const symbol = typeof b['symbol'] === 'string' && b['symbol'] !== '' ? b['symbol'] : invalid('symbol is required');
    const qtyText = typeof b['qty'] === 'string' || typeof b['qty'] === 'number' ? String(b['qty']) : invalid('qty or notional is required');
    if (!/^\d+$/.test(qtyText) || Number(qtyText) <= 0) invalid('qty must be a positive whole number');
    const qty = Number(qtyText);
    const side = b['side'] === 'buy' || b['side'] === 'sell' ? b['side'] : invalid('invalid side');
    const type = b['type'] === 'market' || b['type'] === 'limit' ? b['type'] : invalid(`invalid order type`);
    const timeInForce = typeof b['time_in_force'] === 'string' && ['day', 'gtc', 'opg', 'cls', 'ioc', 'fok'].includes(b['time_in_force']) ? b['time_in_force'] : invalid('invalid time_in_force');
    const limitPrice = type === 'limit' ? (typeof b['limit_price'] === 'string' && /^\d+(\.\d+)?$/.test(b['limit_price']) ? b['limit_price'] : invalid('limit_price is required for limit orders')) : null;
    const cid = b['client_order_id'] === undefined ? uuid('c1d00000', this.#counters.order + 1) : typeof b['client_order_id'] === 'string' && b['client_order_id'].length <= 128 ? b['client_order_id'] : invalid('client_order_id must be at most 128 characters');
    if (this.#byCid.has(cid)) throw new HttpError(ERRORS.unique.status, ERRORS.unique.code, ERRORS.unique.message);
    if (!this.#prices.has(symbol)) invalid(`asset "${symbol}" not found`);
    if (side === 'buy') {
      const cost = dec(limitPrice ?? this.#prices.get(symbol)!).times(qty);
      if (cost.gt(this.#buyingPower())) throw new HttpError(ERRORS.buyingPower.status, ERRORS.buyingPower.code, ERRORS.buyingPower.message);
    } else {
      const available = this.#available(symbol);
      if (qty > available) throw new HttpError(403, 40310000, `insufficient qty available for order (requested: ${qty}, available: ${available})`);
    }
    return this.#place({ symbol, qty, side, type, timeInForce, limitPrice, clientOrderId: cid });
  }

  #place(p: { symbol: string; qty: number; side: Side; type: 'market' | 'limit'; timeInForce: string; limitPrice: string | null; clientOrderId: string }): Order {
    const t = this.#tick();
    const o: Order = { ...p, id: uuid('0a0e0000', ++this.#counters.order), createdAt: t, updatedAt: t, status: 'new', filledQty: 0, filledNotional: dec(0), filledAt: null, canceledAt: null, expiredAt: null, failedAt: null };
    this.#orders.push(o);
    this.#byId.set(o.id, o);
    this.#byCid.set(o.clientOrderId, o);
    this.#update(o, 'new', t);
    if (o.type === 'market' && this.#fillMode === 'auto') this.#fill(o, o.qty, this.#prices.get(o.symbol)!);
    return o;
  }

  #order(id: string): Order {
    const o = this.#byId.get(id);
    if (!o) throw new HttpError(ERRORS.notFound.status, ERRORS.notFound.code, ERRORS.notFound.message);
    return o;
  }

  #listOrders(query: Record<string, string>): Order[] {
    const status = query['status'] ?? 'open';
    const limit = Math.min(500, Number(query['limit'] ?? 50));
    // `after` / `until`: orders submitted strictly after / before these instants, as Alpaca filters them.
    const after = query['after'] ? Date.parse(query['after']) : -Infinity;
    const until = query['until'] ? Date.parse(query['until']) : Infinity;
    const which = this.#orders.filter((o) => (status === 'all' || (status === 'open') === OPEN.has(o.status)) && o.createdAt > after && o.createdAt < until);
    const sorted = query['direction'] === 'asc' ? which : [...which].reverse();
    return sorted.slice(0, limit);
  }

  /** Execute `qty` shares of an open order at `price`: position, cash, activity, update. */
  #fill(o: Order, qty: number, price: string): void {
    if (!OPEN.has(o.status)) throw new HttpError(422, 42210000, `order is already in "${o.status}" state`);
    const q = Math.min(qty, o.qty - o.filledQty);
    if (q <= 0) throw new HttpError(422, 42210000, 'nothing left to fill');
    const t = this.#tick();
    o.filledQty += q;
    o.filledNotional = o.filledNotional.plus(dec(price).times(q));
    o.updatedAt = t;
    const done = o.filledQty === o.qty;
    if (done) {
      o.status = 'filled';
      o.filledAt = t;
    } else if (o.status !== 'pending_cancel') {
      o.status = 'partially_filled';
    }
    this.#book(o.symbol, o.side, q, dec(price));
    const executionId = uuid('e0ec0000', ++this.#counters.execution);
    this.#activities.push({ id: `${compactTime(t)}::${executionId}`, executionId, orderId: o.id, atMs: t, type: done ? 'fill' : 'partial_fill', price, qty: q, cumQty: o.filledQty, leavesQty: o.qty - o.filledQty, side: o.side, symbol: o.symbol, orderStatus: o.status });
    this.#update(o, done ? 'fill' : 'partial_fill', t, { executionId, price, qty: q });
  }

  /**
   * Move shares and cash (an order's execution, or an external change). Cash moves by the
   * execution's value rounded to the cent, half to even (ASSUMED from Alpaca's forum: "other
   * transactions are rounded ... round half to even"): an account's cash is in cents.
   */
  #book(symbol: string, side: Side, qty: number, price: Dec): void {
    const p = this.#positions.get(symbol) ?? { qty: 0, cost: dec(0) };
    const value = price.times(qty).toDecimalPlaces(2, Dec.ROUND_HALF_EVEN);
    if (side === 'buy') {
      p.qty += qty;
      p.cost = p.cost.plus(price.times(qty));
      this.#cash = this.#cash.minus(value);
    } else {
      const avg = p.qty > 0 ? p.cost.div(p.qty) : dec(0);
      p.qty -= qty;
      p.cost = p.qty > 0 ? avg.times(p.qty) : dec(0);
      this.#cash = this.#cash.plus(value);
    }
    if (p.qty === 0) this.#positions.delete(symbol);
    else this.#positions.set(symbol, p);
  }

  /** DELETE /v2/orders/{id}: accepted (204) for an open order, whose `canceled` update follows. */
  #requestCancel(o: Order): void {
    if (!OPEN.has(o.status) || o.status === 'pending_cancel') throw new HttpError(422, 42210000, `order is already in "${o.status}" state`);
    this.#close(o, 'canceled');
  }

  #close(o: Order, status: 'canceled' | 'expired' | 'rejected'): void {
    if (!OPEN.has(o.status)) throw new HttpError(422, 42210000, `order is already in "${o.status}" state`);
    const t = this.#tick();
    o.status = status;
    o.updatedAt = t;
    if (status === 'canceled') o.canceledAt = t;
    if (status === 'expired') o.expiredAt = t;
    if (status === 'rejected') o.failedAt = t;
    this.#update(o, status, t);
  }

  #buyingPower(): Dec {
    let held = dec(0);
    for (const o of this.#orders) {
      if (!OPEN.has(o.status) || o.side !== 'buy') continue;
      held = held.plus(dec(o.limitPrice ?? this.#prices.get(o.symbol) ?? '0').times(o.qty - o.filledQty));
    }
    return Dec.max(0, this.#cash.minus(held));
  }

  /** Shares not held by open sells. */
  #available(symbol: string): number {
    let held = 0;
    for (const o of this.#orders) if (OPEN.has(o.status) && o.side === 'sell' && o.symbol === symbol) held += o.qty - o.filledQty;
    return (this.#positions.get(symbol)?.qty ?? 0) - held;
  }

  #tick(): number {
    return this.#nowMs++;
  }

  // -------------------------------------------------------------------------------------
  // JSON shapes (the real API's field set)

  #orderJson(o: Order): Record<string, unknown> {
    return {
      id: o.id,
      client_order_id: o.clientOrderId,
      created_at: iso(o.createdAt),
      updated_at: iso(o.updatedAt),
      submitted_at: iso(o.createdAt),
      filled_at: isoOrNull(o.filledAt),
      expired_at: isoOrNull(o.expiredAt),
      canceled_at: isoOrNull(o.canceledAt),
      failed_at: isoOrNull(o.failedAt),
      replaced_at: null,
      replaced_by: null,
      replaces: null,
      asset_id: this.#assetId(o.symbol),
      symbol: o.symbol,
      asset_class: 'us_equity',
      notional: null,
      qty: String(o.qty),
      filled_qty: String(o.filledQty),
      filled_avg_price: o.filledQty > 0 ? o.filledNotional.div(o.filledQty).toFixed() : null,
      order_class: 'simple',
      order_type: o.type,
      type: o.type,
      side: o.side,
      position_intent: o.side === 'buy' ? 'buy_to_open' : 'sell_to_close',
      time_in_force: o.timeInForce,
      limit_price: o.limitPrice,
      stop_price: null,
      status: o.status,
      extended_hours: false,
      legs: null,
      trail_percent: null,
      trail_price: null,
      hwm: null,
      expires_at: null,
    };
  }

  readonly #assets = new Map<string, string>();
  #assetId(symbol: string): string {
    let id = this.#assets.get(symbol);
    if (!id) this.#assets.set(symbol, (id = uuid('a55e7000', ++this.#counters.asset)));
    return id;
  }

  #positionJson(symbol: string): Record<string, unknown> {
    const p = this.#positions.get(symbol)!;
    const price = dec(this.#prices.get(symbol) ?? p.cost.div(p.qty));
    const value = price.times(p.qty);
    const pl = value.minus(p.cost);
    return {
      asset_id: this.#assetId(symbol),
      symbol,
      exchange: 'NASDAQ',
      asset_class: 'us_equity',
      asset_marginable: true,
      qty: String(p.qty),
      qty_available: String(this.#available(symbol)),
      avg_entry_price: p.cost.div(p.qty).toFixed(),
      side: 'long',
      market_value: value.toFixed(),
      cost_basis: p.cost.toFixed(),
      unrealized_pl: pl.toFixed(),
      unrealized_plpc: p.cost.isZero() ? '0' : pl.div(p.cost).toFixed(6),
      unrealized_intraday_pl: pl.toFixed(),
      unrealized_intraday_plpc: p.cost.isZero() ? '0' : pl.div(p.cost).toFixed(6),
      current_price: price.toFixed(),
      lastday_price: price.toFixed(),
      change_today: '0',
    };
  }

  #equity(): Dec {
    let value = this.#cash;
    for (const [s, p] of this.#positions) value = value.plus(dec(this.#prices.get(s) ?? p.cost.div(p.qty)).times(p.qty));
    return value;
  }

  #accountJson(): Record<string, unknown> {
    const equity = this.#equity().toFixed();
    const bp = this.#buyingPower().toFixed();
    return {
      id: 'f4ce0000-0000-4000-8000-000000000001',
      account_number: 'PA0FAKE00001',
      status: 'ACTIVE',
      crypto_status: 'INACTIVE',
      currency: 'USD',
      cash: this.#cash.toFixed(),
      buying_power: bp,
      regt_buying_power: bp,
      daytrading_buying_power: '0',
      non_marginable_buying_power: bp,
      effective_buying_power: bp,
      equity,
      last_equity: equity,
      portfolio_value: equity,
      long_market_value: this.#equity().minus(this.#cash).toFixed(),
      short_market_value: '0',
      initial_margin: '0',
      maintenance_margin: '0',
      last_maintenance_margin: '0',
      sma: '0',
      multiplier: '1',
      daytrade_count: 0,
      pattern_day_trader: false,
      trading_blocked: false,
      transfers_blocked: false,
      account_blocked: false,
      trade_suspended_by_user: false,
      shorting_enabled: false,
      accrued_fees: '0',
      pending_transfer_in: '0',
      pending_transfer_out: '0',
      created_at: '2024-01-02T14:30:00Z',
      balance_asof: iso(this.#nowMs).slice(0, 10),
    };
  }

  #clockJson(): Record<string, unknown> {
    // Eastern Time: a weekday 09:30-16:00; the fake's days are the test's and need no holidays.
    const t = new Date(this.#nowMs - 5 * 3_600_000);
    const minutes = t.getUTCHours() * 60 + t.getUTCMinutes();
    const weekday = t.getUTCDay() >= 1 && t.getUTCDay() <= 5;
    const day = t.toISOString().slice(0, 10);
    const open = weekday && minutes >= 570 && minutes < 960;
    return {
      timestamp: new Date(this.#nowMs).toISOString().replace('Z', '+00:00'),
      is_open: open,
      next_open: `${open || minutes >= 960 ? nextDay(day) : day}T09:30:00-05:00`,
      next_close: `${minutes >= 960 ? nextDay(day) : day}T16:00:00-05:00`,
    };
  }

  #listActivities(query: Record<string, string>): unknown[] {
    const after = query['after'] ? Date.parse(query['after']) : -Infinity;
    const until = query['until'] ? Date.parse(query['until']) : Infinity;
    const asc = query['direction'] === 'asc';
    let list = this.#activities.filter((a) => a.atMs > after && a.atMs < until);
    if (!asc) list = [...list].reverse();
    const token = query['page_token'];
    if (token) {
      const i = list.findIndex((a) => a.id === token);
      list = i < 0 ? [] : list.slice(i + 1);
    }
    const size = Math.min(100, Number(query['page_size'] ?? 100));
    return list.slice(0, size).map((a) => ({
      id: a.id,
      activity_type: 'FILL',
      transaction_time: iso(a.atMs),
      type: a.type,
      price: a.price,
      qty: String(a.qty),
      side: a.side,
      symbol: a.symbol,
      leaves_qty: String(a.leavesQty),
      order_id: a.orderId,
      cum_qty: String(a.cumQty),
      order_status: a.orderStatus,
    }));
  }

  // -------------------------------------------------------------------------------------
  // Stream

  #onStream(ws: WebSocket): void {
    const client: StreamClient = { ws, authenticated: false, listening: false };
    this.#clients.add(client);
    this.#streamConnections++;
    ws.on('close', () => this.#clients.delete(client));
    ws.on('ping', (data) => {
      this.#pings++;
      if (this.#answerPings) ws.pong(data);
    });
    ws.on('message', (data) => {
      let msg: { action?: unknown; data?: { key_id?: unknown; secret_key?: unknown; streams?: unknown } };
      try {
        msg = JSON.parse(data.toString()) as typeof msg;
      } catch {
        this.#sendTo(client, { stream: 'error', data: { error_message: 'invalid syntax' } });
        return;
      }
      this.#streamFrames.push(msg);
      if (msg.action === 'authenticate') {
        const ok = msg.data?.key_id === this.#key && msg.data?.secret_key === this.#secret;
        this.#sendTo(client, { stream: 'authorization', data: { status: ok ? 'authorized' : 'unauthorized', action: 'authenticate' } });
        if (ok) client.authenticated = true;
        else ws.close(1008, 'unauthorized');
      } else if (msg.action === 'listen') {
        if (!client.authenticated) {
          this.#sendTo(client, { stream: 'authorization', data: { status: 'unauthorized', action: 'listen' } });
          return;
        }
        const wanted = Array.isArray(msg.data?.streams) ? (msg.data.streams as unknown[]) : [];
        client.listening = wanted.includes('trade_updates');
        this.#sendTo(client, { stream: 'listening', data: { streams: client.listening ? ['trade_updates'] : [] } });
      } else {
        this.#sendTo(client, { stream: 'error', data: { error_message: `unknown action ${String(msg.action)}` } });
      }
    });
  }

  #sendTo(c: StreamClient, frame: unknown): void {
    const text = JSON.stringify(frame);
    c.ws.send(this.#options.textFrames ? text : Buffer.from(text), { binary: !this.#options.textFrames });
  }

  #update(o: Order, event: string, t: number, fill?: { executionId: string; price: string; qty: number }): void {
    const frame = {
      stream: 'trade_updates',
      data: {
        event,
        execution_id: fill?.executionId ?? uuid('e0e00000', ++this.#counters.execution),
        order: this.#orderJson(o),
        timestamp: iso(t),
        ...(fill ? { price: fill.price, qty: String(fill.qty), position_qty: String(this.#positions.get(o.symbol)?.qty ?? 0) } : {}),
      },
    };
    if (this.#holdUpdates) this.#held.push(frame);
    else this.#broadcast(frame);
  }

  #broadcast(frame: unknown): void {
    for (const c of this.#clients) if (c.listening) this.#sendTo(c, frame);
  }

  // -------------------------------------------------------------------------------------
  // Control API

  #control(method: string, what: string, body: unknown): unknown {
    const b = (body ?? {}) as Record<string, unknown>;
    const orderOf = (): Order => {
      const o = typeof b['client_order_id'] === 'string' ? this.#byCid.get(b['client_order_id']) : this.#byId.get(String(b['order_id']));
      if (!o) throw new HttpError(404, 40410000, 'order not found');
      return o;
    };
    switch (`${method} ${what}`) {
      case 'GET state':
        return this.#state();
      /** { symbol, price }: the price market orders fill at (and a position is valued at). */
      case 'POST price':
        this.#prices.set(String(b['symbol']), String(b['price']));
        return undefined;
      /** { at_ms }: set the fake's clock. */
      case 'POST clock':
        this.#nowMs = Number(b['at_ms']);
        return undefined;
      /** { fill: 'auto' | 'manual' }: manual leaves market orders resting until `fill`. */
      case 'POST mode':
        this.#fillMode = b['fill'] === 'manual' ? 'manual' : 'auto';
        return undefined;
      /** { key, secret }: accept other credentials from now on (the old ones get 401). */
      case 'POST credentials':
        this.#key = String(b['key']);
        this.#secret = String(b['secret']);
        return undefined;
      /** { method, path, count?, fault }: the next `count` (default 1) matching requests get `fault`. */
      case 'POST faults':
        this.#faults.push({ method: String(b['method']), path: String(b['path']), remaining: Number(b['count'] ?? 1), fault: b['fault'] as Fault });
        return undefined;
      case 'DELETE faults':
        this.#faults.length = 0;
        return undefined;
      /** { client_order_id | order_id, qty?, price? }: execute (part of) an open order. */
      case 'POST fill': {
        const o = orderOf();
        this.#fill(o, Number(b['qty'] ?? o.qty - o.filledQty), String(b['price'] ?? this.#prices.get(o.symbol)));
        return this.#orderJson(o);
      }
      /** { client_order_id | order_id, status: canceled | expired | rejected }: the broker ends an open order itself. */
      case 'POST end': {
        const o = orderOf();
        const s = b['status'];
        this.#close(o, s === 'expired' || s === 'rejected' ? s : 'canceled');
        return this.#orderJson(o);
      }
      /** { symbol, side, qty, price?, client_order_id? }: an order placed by someone else (the user's app), filled at once. */
      case 'POST external-order': {
        const saved = this.#fillMode;
        this.#fillMode = 'auto';
        if (b['price'] !== undefined) this.#prices.set(String(b['symbol']), String(b['price']));
        try {
          const o = this.#place({
            symbol: String(b['symbol']),
            qty: Number(b['qty']),
            side: b['side'] === 'sell' ? 'sell' : 'buy',
            type: 'market',
            timeInForce: 'day',
            limitPrice: null,
            clientOrderId: typeof b['client_order_id'] === 'string' ? b['client_order_id'] : uuid('e7e00000', this.#counters.order + 1),
          });
          return this.#orderJson(o);
        } finally {
          this.#fillMode = saved;
        }
      }
      /** { symbol, qty (signed change), price? }: shares appear or go without an order (a transfer, a corporate action). */
      case 'POST position': {
        const qty = Number(b['qty']);
        const price = dec(String(b['price'] ?? this.#prices.get(String(b['symbol'])) ?? '0'));
        const cash = this.#cash;
        this.#book(String(b['symbol']), qty >= 0 ? 'buy' : 'sell', Math.abs(qty), price);
        this.#cash = cash; // a transfer in kind moves no cash
        return undefined;
      }
      /** { hold?, refuse?, answer_pings? }: hold updates back (to release them in any order), refuse new stream connections, stop answering pings (a dead peer). */
      case 'POST stream':
        if (typeof b['hold'] === 'boolean') this.#holdUpdates = b['hold'];
        if (typeof b['refuse'] === 'boolean') this.#refuseStream = b['refuse'];
        if (typeof b['answer_pings'] === 'boolean') this.#answerPings = b['answer_pings'];
        return undefined;
      /** { sequence?: number[] }: send the held updates, by index, in this order (repeats allowed); default all in order. Clears them. */
      case 'POST stream/release': {
        const seq = Array.isArray(b['sequence']) ? (b['sequence'] as number[]) : this.#held.map((_, i) => i);
        for (const i of seq) this.#broadcast(this.#held[i]);
        this.#held.length = 0;
        return undefined;
      }
      /** { url }: follow a replay server's trades and clock (quotes.ts). */
      case 'POST follow':
        this.#unfollow();
        this.#unfollow = followQuotes(this, String(b['url']));
        return undefined;
      /** Drop every stream connection without a closing handshake. */
      case 'POST stream/drop':
        for (const c of this.#clients) c.ws.terminate();
        return undefined;
      default:
        throw new HttpError(404, 40410000, `no control ${method} ${what}`);
    }
  }

  #state(): unknown {
    return {
      now_ms: this.#nowMs,
      cash: this.#cash.toFixed(),
      positions: Object.fromEntries([...this.#positions].map(([s, p]) => [s, p.qty])),
      orders: this.#orders.map((o) => this.#orderJson(o)),
      activities: this.#activities.length,
      requests: this.#requests,
      held: this.#held.length,
      stream: {
        connections: this.#streamConnections,
        open: this.#clients.size,
        listening: [...this.#clients].filter((c) => c.listening).length,
        pings: this.#pings,
        frames: this.#streamFrames,
      },
    };
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (text += d));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 40010000, 'request body format is invalid');
  }
}

function send(res: ServerResponse, status: number, json: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(json));
}

function nextDay(day: string): string {
  const d = new Date(`${day}T12:00:00Z`);
  do d.setUTCDate(d.getUTCDate() + 1);
  while (d.getUTCDay() === 0 || d.getUTCDay() === 6);
  return d.toISOString().slice(0, 10);
}

/** /v2/calendar: weekdays 09:30-16:00 from `start` to `end` (the fake knows no holidays). */
function calendar(start: string | undefined, end: string | undefined): unknown[] {
  const from = new Date(`${(start ?? '2025-11-03').slice(0, 10)}T12:00:00Z`);
  const to = new Date(`${(end ?? start ?? '2025-11-07').slice(0, 10)}T12:00:00Z`);
  const out: unknown[] = [];
  for (const d = from; d <= to && out.length < 1000; d.setUTCDate(d.getUTCDate() + 1)) {
    if (d.getUTCDay() === 0 || d.getUTCDay() === 6) continue;
    const date = d.toISOString().slice(0, 10);
    out.push({ date, open: '09:30', close: '16:00', session_open: '0400', session_close: '2000', settlement_date: nextDay(date) }); // US equities settle T+1 since 2024-05-28
  }
  return out;
}

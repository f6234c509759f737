/**
 * A fake A-share terminal bridge in the shape of easytrader's `easytrader.server` (Flask, port
 * 1430), for tests that run it in a child process (main.ts) and drive it over 127.0.0.1:
 *
 *   POST /prepare         {broker, user, password, exe_path, comm_password, kwargs?}  201 {"msg": "login success"}
 *   GET  /balance         the 资金股票 page: one object (a list per currency in `alt`, miniQMT's list of one)
 *   GET  /position        rows 证券代码 证券名称 股票余额 可用余额 成本价 市值 ...
 *   GET  /today_entrusts  rows 合同编号 证券代码 操作 委托数量 成交数量 委托价格 成交均价 备注 委托时间 ...
 *   GET  /today_trades    rows 成交编号 合同编号 证券代码 操作 成交数量 成交价格 成交时间 ...
 *   POST /buy, /sell      {security, price, amount}  201 {"entrust_no": "1001"}
 *   POST /cancel_entrust  {entrust_no}               201 {"message": ...} (a refused cancel is a 201 too)
 * Every failure is easytrader's: 400 {"error": "<class 'Module.Class'>: message"}; before
 * /prepare every route answers `<class 'KeyError'>: 'user'` (its login lives in memory). With a
 * `token`, a guard in front answers 401 {"error"} without `Authorization: Bearer <token>`.
 *
 * A real counter's rules, so refusals come as the terminal's: buys in lots of 100 (STAR 688: 200
 * and up), sells in lots unless the whole odd remainder; T+1 (today's buys are not 可用余额);
 * cash (可用金额 = 资金余额 less what open buys freeze); daily price limits when a previous close
 * is set (10%, 20% on ChiNext / STAR, 30% Beijing); trading hours 09:15-11:30, 13:00-15:00 on
 * weekdays (Shanghai). No fees.
 *
 * `columns`: `ths` (the default: THS-family grids, numbers as JSON numbers), `alt` (another
 * client's column names: 委托编号, 买卖标志, 委托状态, 当前持仓, 可卖数量, 委托日期 + 委托时间
 * "HHMMSS", every value a string), `miniqmt` (easytrader's miniQMT trader: English keys,
 * xtquant status numbers, epoch seconds; its rule refusals become 废单 entrusts, as xtquant's
 * asynchronous order errors do, and /buy answers the number).
 *
 * Time: the fake never reads the wall clock for what it reports: `nowMs` starts at `startMs` and
 * moves only by the control API (or a followed replay server).
 *
 * Control API under /__control/ (no auth; JSON): see `#control`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DateTime } from 'luxon';
import { Dec, dec } from '../../../src/domain/money.js';
import { followQuotes } from '../fake-alpaca/quotes.js';

export type Columns = 'ths' | 'alt' | 'miniqmt';

export interface FakeBridgeOptions {
  /** The client type /prepare must name (`broker`); default universal_client. */
  readonly client?: string;
  /** When set, /prepare must carry this user / password. */
  readonly user?: string;
  readonly password?: string;
  /** When set, every route but the control API wants `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Starting 资金余额, decimal string; default 1000000. */
  readonly cash?: string;
  /** Epoch ms; default 2025-11-07 10:00 Shanghai (a Friday). */
  readonly startMs?: number;
  readonly columns?: Columns;
}

type Side = 'buy' | 'sell';
type Exchange = 'SH' | 'SZ' | 'BJ';
type State = 'reported' | 'cancel_pending' | 'filled' | 'cancelled' | 'rejected';

interface Entrust {
  readonly no: number;
  readonly code: string;
  readonly side: Side;
  readonly qty: number;
  readonly price: string;
  readonly createdMs: number;
  filled: number;
  filledValue: Dec;
  state: State;
  reason?: string;
}

interface Trade {
  readonly dealNo: number;
  readonly entrust: Entrust;
  readonly qty: number;
  readonly price: string;
  readonly atMs: number;
}

interface Holding {
  qty: number;
  /** Shares bought before today (T+1): what may be sold, open sells not yet held back. */
  sellable: number;
  cost: Dec;
}

/** A rule that answers matching requests some other way, `count` times. */
export type Fault =
  /** Make the entrust (or whatever the request asks), then never answer: "timeout after commit". */
  | { readonly kind: 'hold'; readonly commit?: boolean }
  /** Answer this status and body (default 500 {"error": "injected"}); nothing is carried out. */
  | { readonly kind: 'status'; readonly status: number; readonly body?: unknown }
  /** Answer 200 with this body (JSON) or this raw text, instead of the route's: a malformed answer. */
  | { readonly kind: 'body'; readonly body?: unknown; readonly raw?: string }
  /** Close the connection without an answer, after carrying the request out when `commit`. */
  | { readonly kind: 'drop'; readonly commit?: boolean };

interface FaultRule {
  /** `/buy`, `/today_entrusts`, ... or `*` (every route). */
  readonly path: string;
  remaining: number;
  readonly fault: Fault;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  /** 0: no answer (held or dropped). */
  status: number;
}

class BridgeError extends Error {
  constructor(
    readonly pythonClass: string,
    message: string,
  ) {
    super(message);
  }
}

class NotFound extends Error {}

const TRADE_ERROR = 'easytrader.exceptions.TradeError';
const ZONE = 'Asia/Shanghai';
const NAMES: Readonly<Record<string, string>> = { '600519': '贵州茅台', '000001': '平安银行', '300750': '宁德时代', '688981': '中芯国际', '601318': '中国平安' };
const MARKET_NAMES: Readonly<Record<Exchange, string>> = { SH: '上海A股', SZ: '深圳A股', BJ: '北交所' };

const exchangeOf = (code: string): Exchange => (/^(4|8|92)/.test(code) ? 'BJ' : /^(5|6|9|11)/.test(code) ? 'SH' : 'SZ');
const limitRatio = (code: string): string => (exchangeOf(code) === 'BJ' ? '0.3' : /^(30|688)/.test(code) ? '0.2' : '0.1');
const num = (d: Dec | string): number => Number(dec(d).toFixed());

export class FakeBridge {
  readonly #http: Server;
  readonly #options: FakeBridgeOptions;
  readonly #sockets = new Set<Socket>();
  #columns: Columns;
  #nowMs: number;
  #prepared = false;
  #cash: Dec;
  readonly #prices = new Map<string, string>();
  readonly #prevClose = new Map<string, string>();
  readonly #holdings = new Map<string, Holding>();
  #entrusts: Entrust[] = [];
  #trades: Trade[] = [];
  readonly #faults: FaultRule[] = [];
  readonly #requests: RequestRecord[] = [];
  #fillMode: 'manual' | 'auto' = 'manual';
  #cancelMode: 'immediate' | 'pending' = 'immediate';
  #nextEntrust = 1001;
  #nextDeal = 5001;
  #held = 0;
  #unfollow: () => void = () => undefined;

  private constructor(http: Server, options: FakeBridgeOptions) {
    this.#http = http;
    this.#options = options;
    this.#columns = options.columns ?? 'ths';
    this.#nowMs = options.startMs ?? Date.UTC(2025, 10, 7, 2, 0, 0);
    this.#cash = dec(options.cash ?? '1000000');
  }

  static async start(options: FakeBridgeOptions = {}): Promise<FakeBridge> {
    let fake: FakeBridge | undefined;
    const http = createServer((req, res) => void fake!.#onRequest(req, res));
    fake = new FakeBridge(http, options);
    http.on('connection', (s) => {
      fake!.#sockets.add(s);
      s.on('close', () => fake!.#sockets.delete(s));
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

  /** The market price (`600519` or `600519.SH`): auto fills happen at it, resting orders that cross it fill. */
  setPrice(symbol: string, price: string): void {
    const code = symbol.slice(0, 6);
    this.#prices.set(code, price);
    if (this.#fillMode === 'auto') for (const e of this.#entrusts) if (this.#open(e)) this.#maybeCross(e);
  }

  /** Move the clock on to `atMs` (never back). */
  clockTo(atMs: number): void {
    this.#nowMs = Math.max(this.#nowMs, atMs);
  }

  async close(): Promise<void> {
    this.#unfollow();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------------
  // HTTP

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const text = await readBody(req);
    const method = req.method ?? 'GET';
    if (path.startsWith('/__control/')) {
      try {
        return send(res, 200, this.#control(method, path.slice('/__control/'.length), text === '' ? {} : JSON.parse(text)) ?? { ok: true });
      } catch (e) {
        return send(res, 400, { error: e instanceof Error ? e.message : String(e) });
      }
    }
    const record: RequestRecord = { method, path, ...(text !== '' ? { body: safeJson(text) } : {}), status: 0 };
    this.#requests.push(record);
    const answer = (status: number, json: unknown): void => {
      record.status = status;
      send(res, status, json);
    };
    if (this.#options.token !== undefined && req.headers['authorization'] !== `Bearer ${this.#options.token}`) return answer(401, { error: 'unauthorized' });
    const rule = this.#faults.find((f) => f.remaining > 0 && (f.path === '*' || f.path === path));
    if (rule) {
      rule.remaining--;
      const f = rule.fault;
      switch (f.kind) {
        case 'hold':
          if (f.commit !== false) this.#tryRoute(method, path, text);
          this.#held++;
          return; // the answer never comes; the client's deadline ends it
        case 'drop':
          if (f.commit) this.#tryRoute(method, path, text);
          req.socket.destroy();
          return;
        case 'status':
          return answer(f.status, f.body ?? { error: `<class 'Exception'>: injected ${f.status}` });
        case 'body':
          record.status = 200;
          if (f.raw !== undefined) {
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.end(f.raw);
            return;
          }
          return send(res, 200, f.body ?? null);
      }
    }
    try {
      const { status, json } = this.#route(method, path, text);
      return answer(status, json);
    } catch (e) {
      if (e instanceof BridgeError) return answer(400, { error: `<class '${e.pythonClass}'>: ${e.message}` });
      if (e instanceof NotFound) {
        record.status = 404;
        res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end('<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>');
        return;
      }
      // Flask's own answer to a crash in the view (easytrader catches everything, so rare).
      return answer(500, { error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** A request whose answer is withheld still happens; its errors are the client's loss too. */
  #tryRoute(method: string, path: string, text: string): void {
    try {
      this.#route(method, path, text);
    } catch {
      // a refused request carries nothing out
    }
  }

  #route(method: string, path: string, text: string): { status: number; json: unknown } {
    const route = `${method} ${path}`;
    const known = ['POST /prepare', 'GET /balance', 'GET /position', 'GET /today_entrusts', 'GET /today_trades', 'POST /buy', 'POST /sell', 'POST /cancel_entrust', 'GET /exit'];
    if (!known.includes(route)) {
      // Flask's own 404 page; easytrader's views never see it.
      throw new NotFound(route);
    }
    if (route === 'POST /prepare') return { status: 201, json: this.#prepare(parseBody(text)) };
    if (!this.#prepared) throw new BridgeError('KeyError', "'user'");
    switch (route) {
      case 'GET /balance':
        return { status: 200, json: this.#balanceJson() };
      case 'GET /position':
        return { status: 200, json: [...this.#holdings.keys()].sort().map((c) => this.#positionJson(c)) };
      case 'GET /today_entrusts':
        return { status: 200, json: this.#entrusts.map((e) => this.#entrustJson(e)) };
      case 'GET /today_trades':
        return { status: 200, json: this.#trades.map((t) => this.#tradeJson(t)) };
      case 'POST /buy':
      case 'POST /sell':
        return { status: 201, json: this.#placeFromBody(path === '/buy' ? 'buy' : 'sell', parseBody(text)) };
      case 'POST /cancel_entrust':
        return { status: 201, json: this.#cancelFromBody(parseBody(text)) };
      default:
        this.#prepared = false;
        return { status: 200, json: { msg: 'exit success' } };
    }
  }

  #prepare(b: Record<string, unknown>): unknown {
    const client = this.#options.client ?? 'universal_client';
    if (b['broker'] !== client) throw new BridgeError('NotImplementedError', '');
    if (this.#options.user !== undefined || this.#options.password !== undefined) {
      const user = client === 'miniqmt' ? (b['kwargs'] as Record<string, unknown> | undefined)?.['stock_account'] : b['user'];
      const passwordOk = client === 'miniqmt' || b['password'] === this.#options.password;
      if ((this.#options.user !== undefined && user !== this.#options.user) || !passwordOk) throw new BridgeError('Exception', '登录失败: 账号或密码错误');
    }
    this.#prepared = true;
    return { msg: 'login success' };
  }

  // -------------------------------------------------------------------------------------
  // The counter

  #placeFromBody(side: Side, b: Record<string, unknown>): unknown {
    const security = b['security'];
    const price = b['price'];
    const amount = b['amount'];
    if (typeof security !== 'string' || !/^\d{6}$/.test(security.slice(-6))) throw new BridgeError(TRADE_ERROR, '证券代码错误');
    if (typeof price !== 'number' && typeof price !== 'string') throw new BridgeError('TypeError', "buy() missing 1 required positional argument: 'price'");
    if (typeof amount !== 'number' && typeof amount !== 'string') throw new BridgeError('TypeError', "buy() missing 1 required positional argument: 'amount'");
    const code = security.slice(-6);
    const priceText = dec(price).toFixed();
    const qty = Math.trunc(Number(amount)); // easytrader types str(int(amount))
    if (this.#columns !== 'miniqmt') {
      const e = this.#place(side, code, qty, priceText);
      return { entrust_no: String(e.no) };
    }
    // xtquant takes the order and reports its refusal later (on_order_error): a 废单 entrust.
    try {
      return { entrust_no: this.#place(side, code, qty, priceText).no };
    } catch (err) {
      if (!(err instanceof BridgeError)) throw err;
      const e = this.#newEntrust(side, code, qty, priceText);
      e.state = 'rejected';
      e.reason = err.message;
      return { entrust_no: e.no };
    }
  }

  /** The counter's checks, in its order; a refusal is the terminal's 提示 dialog: TradeError. */
  #place(side: Side, code: string, qty: number, price: string): Entrust {
    const refuse = (message: string): never => {
      throw new BridgeError(TRADE_ERROR, message);
    };
    if (!this.#tradingTime()) refuse('[251005][非交易时间，不能委托]');
    if (qty <= 0) refuse('委托数量必须大于0');
    const available = this.#sellableNow(code);
    const lotOk = side === 'buy' ? (code.startsWith('688') ? qty >= 200 : qty % 100 === 0) : qty % 100 === 0 || qty === available;
    if (!lotOk) refuse(code.startsWith('688') ? '科创板委托数量不能小于200股' : '委托数量必须是100股的整数倍');
    if (dec(price).lte(0) || dec(price).decimalPlaces() > 2) refuse('委托价格的小数部分应为2位');
    const prev = this.#prevClose.get(code);
    if (prev !== undefined) {
      const r = dec(limitRatio(code));
      const up = dec(prev).times(dec(1).plus(r)).toDecimalPlaces(2, Dec.ROUND_HALF_UP);
      const down = dec(prev).times(dec(1).minus(r)).toDecimalPlaces(2, Dec.ROUND_HALF_UP);
      if (dec(price).gt(up)) refuse(`委托价格超出涨停价格${up.toFixed(2)}`);
      if (dec(price).lt(down)) refuse(`委托价格超出跌停价格${down.toFixed(2)}`);
    }
    if (side === 'buy' && dec(price).times(qty).gt(this.#availableCash())) refuse('可用资金不足');
    if (side === 'sell' && qty > available) refuse(`可用股份不足 (可用 ${available})`);
    const e = this.#newEntrust(side, code, qty, price);
    if (this.#fillMode === 'auto') this.#maybeCross(e);
    return e;
  }

  #newEntrust(side: Side, code: string, qty: number, price: string): Entrust {
    const e: Entrust = { no: this.#nextEntrust++, code, side, qty, price, createdMs: this.#nowMs, filled: 0, filledValue: dec(0), state: 'reported' };
    this.#entrusts.push(e);
    return e;
  }

  #maybeCross(e: Entrust): void {
    const market = this.#prices.get(e.code);
    if (market === undefined) return;
    const crosses = e.side === 'buy' ? dec(e.price).gte(market) : dec(e.price).lte(market);
    if (crosses) this.#fill(e, e.qty - e.filled, market);
  }

  #open(e: Entrust): boolean {
    return e.state === 'reported' || e.state === 'cancel_pending';
  }

  #fill(e: Entrust, qty: number, price: string): void {
    if (!this.#open(e)) throw new Error(`entrust ${e.no} is ${e.state}`);
    const q = Math.min(qty, e.qty - e.filled);
    if (q <= 0) throw new Error('nothing left to fill');
    e.filled += q;
    e.filledValue = e.filledValue.plus(dec(price).times(q));
    const value = dec(price).times(q);
    const h = this.#holdings.get(e.code) ?? { qty: 0, sellable: 0, cost: dec(0) };
    if (e.side === 'buy') {
      h.qty += q; // not sellable before the next day: T+1
      h.cost = h.cost.plus(value);
      this.#cash = this.#cash.minus(value);
    } else {
      const avg = h.qty > 0 ? h.cost.div(h.qty) : dec(0);
      h.qty -= q;
      h.sellable -= q;
      h.cost = avg.times(h.qty);
      this.#cash = this.#cash.plus(value);
    }
    this.#holdings.set(e.code, h);
    this.#trades.push({ dealNo: this.#nextDeal++, entrust: e, qty: q, price, atMs: this.#nowMs });
    if (e.filled === e.qty) e.state = 'filled';
  }

  #cancelFromBody(b: Record<string, unknown>): unknown {
    const raw = b['entrust_no'];
    if (this.#columns === 'miniqmt') {
      if (typeof raw !== 'number') throw new BridgeError('TypeError', 'cancel_order_stock(): incompatible function arguments');
      const e = this.#entrusts.find((x) => x.no === raw);
      if (!e || !this.#open(e) || e.state === 'cancel_pending') return { success: false, message: 'failed' };
      this.#requestCancel(e);
      return { success: true, message: 'success' };
    }
    // easytrader matches the 撤单 grid's 合同编号 (text) against entrust_no as sent.
    const e = this.#entrusts.find((x) => String(x.no) === raw);
    if (!e || !this.#open(e) || e.state === 'cancel_pending') return { message: '委托单状态错误不能撤单, 该委托单可能已经成交或者已撤' };
    this.#requestCancel(e);
    return { message: 'success' };
  }

  #requestCancel(e: Entrust): void {
    if (this.#cancelMode === 'pending') e.state = 'cancel_pending';
    else e.state = 'cancelled';
  }

  #tradingTime(): boolean {
    const t = DateTime.fromMillis(this.#nowMs, { zone: ZONE });
    const m = t.hour * 60 + t.minute;
    return t.weekday <= 5 && ((m >= 9 * 60 + 15 && m < 11 * 60 + 30) || (m >= 13 * 60 && m < 15 * 60));
  }

  /** 可用金额: 资金余额 less what open buys freeze (their price x what is left). */
  #availableCash(): Dec {
    let frozen = dec(0);
    for (const e of this.#entrusts) if (this.#open(e) && e.side === 'buy') frozen = frozen.plus(dec(e.price).times(e.qty - e.filled));
    return this.#cash.minus(frozen);
  }

  /** 可用余额: yesterday's shares less what open sells hold. */
  #sellableNow(code: string): number {
    let held = 0;
    for (const e of this.#entrusts) if (this.#open(e) && e.side === 'sell' && e.code === code) held += e.qty - e.filled;
    return Math.max(0, (this.#holdings.get(code)?.sellable ?? 0) - held);
  }

  #marketValue(): Dec {
    let v = dec(0);
    for (const [code, h] of this.#holdings) v = v.plus(dec(this.#prices.get(code) ?? (h.qty > 0 ? h.cost.div(h.qty) : 0)).times(h.qty));
    return v;
  }

  // -------------------------------------------------------------------------------------
  // Answers, in each client's columns

  #statusWord(e: Entrust): string {
    const partial = e.filled > 0;
    const words: Record<Columns, Record<State, string>> = {
      ths: { reported: partial ? '部成' : '已报', cancel_pending: partial ? '部成待撤' : '已报待撤', filled: '已成', cancelled: partial ? '部撤' : '已撤', rejected: '废单' },
      alt: { reported: partial ? '部分成交' : '已报', cancel_pending: partial ? '部成待撤' : '已报待撤', filled: '全部成交', cancelled: partial ? '部分撤单' : '已撤单', rejected: '废单' },
      miniqmt: { reported: partial ? '部成' : '已报', cancel_pending: partial ? '部成待撤' : '已报待撤', filled: '已成', cancelled: partial ? '部撤' : '已撤', rejected: '废单' },
    };
    return words[this.#columns][e.state];
  }

  /** xtquant's order_status numbers for the words above. */
  #statusNumber(e: Entrust): number {
    const partial = e.filled > 0;
    return { reported: partial ? 55 : 50, cancel_pending: partial ? 52 : 51, filled: 56, cancelled: partial ? 53 : 54, rejected: 57 }[e.state];
  }

  #clockText(ms: number, format: string): string {
    return DateTime.fromMillis(ms, { zone: ZONE }).toFormat(format);
  }

  #balanceJson(): unknown {
    const available = this.#availableCash();
    const mv = this.#marketValue();
    const total = this.#cash.plus(mv);
    switch (this.#columns) {
      case 'ths':
        return { 资金余额: num(this.#cash), 可用金额: num(available), 可取金额: num(available), 股票市值: num(mv), 总资产: num(total) };
      case 'alt':
        return [
          { 币种: '港币', 资金余额: '0.00', 可用资金: '0.00', 冻结资金: '0.00', 参考市值: '0.00', 总资产: '0.00' },
          { 币种: '人民币', 资金余额: this.#cash.toFixed(2), 可用资金: available.toFixed(2), 冻结资金: this.#cash.minus(available).toFixed(2), 参考市值: mv.toFixed(2), 总资产: total.toFixed(2) },
        ];
      case 'miniqmt':
        return [{ total_asset: num(total), market_value: num(mv), cash: num(available), frozen_cash: num(this.#cash.minus(available)), account_type: 2, account_id: this.#options.user ?? '8880000001' }];
    }
  }

  #positionJson(code: string): unknown {
    const h = this.#holdings.get(code)!;
    const ex = exchangeOf(code);
    const price = dec(this.#prices.get(code) ?? (h.qty > 0 ? h.cost.div(h.qty) : 0));
    const cost = h.qty > 0 ? h.cost.div(h.qty).toDecimalPlaces(3) : dec(0);
    const sellable = this.#sellableNow(code);
    switch (this.#columns) {
      case 'ths':
        return { 证券代码: code, 证券名称: NAMES[code] ?? code, 股票余额: h.qty, 可用余额: sellable, 冻结数量: h.qty - sellable, 成本价: num(cost), 市价: num(price), 市值: num(price.times(h.qty)), 交易市场: MARKET_NAMES[ex], 股东代码: 'A000000001' };
      case 'alt':
        return { 证券代码: code, 证券名称: NAMES[code] ?? code, 当前持仓: String(h.qty), 可卖数量: String(sellable), 参考成本价: cost.toFixed(3), 参考市值: price.times(h.qty).toFixed(2), 交易市场: ex === 'SH' ? '沪A' : ex === 'SZ' ? '深A' : '京A' };
      case 'miniqmt':
        return { stock_code: `${code}.${ex}`, security: code, volume: h.qty, can_use_volume: sellable, open_price: num(cost), market_value: num(price.times(h.qty)), frozen_volume: h.qty - sellable, on_road_volume: 0, yesterday_volume: h.sellable, avg_price: num(cost), direction: 48, account_type: 2, account_id: this.#options.user ?? '8880000001' };
    }
  }

  #entrustJson(e: Entrust): unknown {
    const avg = e.filled > 0 ? e.filledValue.div(e.filled) : dec(0);
    const word = this.#statusWord(e);
    const cancelled = e.state === 'cancelled' ? e.qty - e.filled : 0;
    const ex = exchangeOf(e.code);
    switch (this.#columns) {
      case 'ths':
        return { 委托时间: this.#clockText(e.createdMs, 'HH:mm:ss'), 证券代码: e.code, 证券名称: NAMES[e.code] ?? e.code, 操作: e.side === 'buy' ? '买入' : '卖出', 备注: word, 委托数量: e.qty, 成交数量: e.filled, 委托价格: num(e.price), 成交均价: num(avg.toDecimalPlaces(3)), 合同编号: String(e.no), 交易市场: MARKET_NAMES[ex], 股东代码: 'A000000001', ...(e.state === 'rejected' ? { 废单原因: e.reason ?? '交易所拒绝' } : {}) };
      case 'alt':
        return { 委托日期: this.#clockText(e.createdMs, 'yyyyLLdd'), 委托时间: this.#clockText(e.createdMs, 'HHmmss'), 委托编号: String(e.no), 证券代码: e.code, 证券名称: NAMES[e.code] ?? e.code, 买卖标志: e.side === 'buy' ? '证券买入' : '证券卖出', 委托数量: String(e.qty), 成交数量: String(e.filled), 撤单数量: String(cancelled), 委托价格: dec(e.price).toFixed(2), 成交均价: avg.toFixed(3), 委托状态: word, 交易市场: MARKET_NAMES[ex] };
      case 'miniqmt':
        return { security: e.code, stock_code: `${e.code}.${ex}`, order_id: e.no, order_sysid: String(90000 + e.no), order_time: Math.floor(e.createdMs / 1000), order_type: e.side === 'buy' ? 23 : 24, order_type_name: e.side === 'buy' ? '买入' : '卖出', order_volume: e.qty, price_type: 50, price_type_name: '限价', price: num(e.price), traded_volume: e.filled, traded_price: num(avg.toDecimalPlaces(3)), order_status: this.#statusNumber(e), order_status_name: word, status_msg: e.state === 'rejected' ? (e.reason ?? '') : '', offset_flag: e.side === 'buy' ? 48 : 49, offset_flag_name: e.side === 'buy' ? '买入' : '卖出', strategy_name: '', order_remark: '', direction: 48, direction_name: '多', account_type: 2, account_id: this.#options.user ?? '8880000001' };
    }
  }

  #tradeJson(t: Trade): unknown {
    const e = t.entrust;
    const value = dec(t.price).times(t.qty);
    switch (this.#columns) {
      case 'ths':
        return { 成交时间: this.#clockText(t.atMs, 'HH:mm:ss'), 证券代码: e.code, 证券名称: NAMES[e.code] ?? e.code, 操作: e.side === 'buy' ? '买入' : '卖出', 成交数量: t.qty, 成交价格: num(t.price), 成交金额: num(value), 合同编号: String(e.no), 成交编号: String(t.dealNo), 交易市场: MARKET_NAMES[exchangeOf(e.code)] };
      case 'alt':
        return { 成交日期: this.#clockText(t.atMs, 'yyyyLLdd'), 成交时间: this.#clockText(t.atMs, 'HH:mm:ss'), 成交编号: String(t.dealNo), 委托编号: String(e.no), 证券代码: e.code, 买卖标志: e.side === 'buy' ? '证券买入' : '证券卖出', 成交数量: String(t.qty), 成交均价: dec(t.price).toFixed(3), 成交金额: value.toFixed(2) };
      case 'miniqmt':
        return { security: e.code, stock_code: `${e.code}.${exchangeOf(e.code)}`, traded_id: String(t.dealNo), traded_time: Math.floor(t.atMs / 1000), traded_price: num(t.price), traded_volume: t.qty, traded_amount: num(value), order_id: e.no, order_type: e.side === 'buy' ? 23 : 24, order_type_name: e.side === 'buy' ? '买入' : '卖出', offset_flag: e.side === 'buy' ? 48 : 49, offset_flag_name: e.side === 'buy' ? '买入' : '卖出', account_id: this.#options.user ?? '8880000001', account_type: 2, order_sysid: String(90000 + e.no), strategy_name: '', order_remark: '' };
    }
  }

  // -------------------------------------------------------------------------------------
  // Control API

  #control(method: string, what: string, b: Record<string, unknown>): unknown {
    const entrust = (): Entrust => {
      const e = this.#entrusts.find((x) => String(x.no) === String(b['entrust_no']));
      if (!e) throw new Error(`no entrust ${String(b['entrust_no'])}`);
      return e;
    };
    switch (`${method} ${what}`) {
      case 'GET state':
        return this.#state();
      /** { symbol, price?, prev_close? }: the market price (auto fills, valuation) and the previous close (price limits). */
      case 'POST price':
        if (b['prev_close'] !== undefined) this.#prevClose.set(String(b['symbol']).slice(0, 6), String(b['prev_close']));
        if (b['price'] !== undefined) this.setPrice(String(b['symbol']), String(b['price']));
        return undefined;
      /** { at_ms }: set the clock (may go back: a test's own day). */
      case 'POST clock':
        this.#nowMs = Number(b['at_ms']);
        return undefined;
      /** { fill?: manual | auto, cancel?: immediate | pending, columns?: ths | alt | miniqmt } */
      case 'POST mode':
        if (b['fill'] === 'auto' || b['fill'] === 'manual') this.#fillMode = b['fill'];
        if (b['cancel'] === 'immediate' || b['cancel'] === 'pending') this.#cancelMode = b['cancel'];
        if (b['columns'] === 'ths' || b['columns'] === 'alt' || b['columns'] === 'miniqmt') this.#columns = b['columns'];
        return undefined;
      /** { entrust_no, qty?, price? }: the exchange executes (part of) an open entrust (default: all left, at the market price). */
      case 'POST fill': {
        const e = entrust();
        const price = b['price'] !== undefined ? String(b['price']) : (this.#prices.get(e.code) ?? e.price);
        this.#fill(e, Number(b['qty'] ?? e.qty - e.filled), price);
        return this.#entrustJson(e);
      }
      /** { entrust_no }: the exchange confirms a pending cancel (已报待撤 -> 已撤, 部成待撤 -> 部撤). */
      case 'POST confirm-cancel': {
        const e = entrust();
        if (e.state !== 'cancel_pending') throw new Error(`entrust ${e.no} is ${e.state}`);
        e.state = 'cancelled';
        return this.#entrustJson(e);
      }
      /** { entrust_no }: the exchange cancels an open entrust itself (the close, a halt). */
      case 'POST exchange-cancel': {
        const e = entrust();
        if (!this.#open(e)) throw new Error(`entrust ${e.no} is ${e.state}`);
        e.state = 'cancelled';
        return this.#entrustJson(e);
      }
      /** { entrust_no, reason? }: the exchange refuses an entrust already reported (废单). */
      case 'POST reject': {
        const e = entrust();
        if (!this.#open(e) || e.filled > 0) throw new Error(`entrust ${e.no} is ${e.state}`);
        e.state = 'rejected';
        e.reason = String(b['reason'] ?? '交易所拒绝');
        return this.#entrustJson(e);
      }
      /** { path: '/buy' | '*' ..., fault, count? }: the next `count` (default 1) matching requests get `fault`. */
      case 'POST faults':
        this.#faults.push({ path: String(b['path']), remaining: Number(b['count'] ?? 1), fault: b['fault'] as Fault });
        return undefined;
      case 'DELETE faults':
        this.#faults.length = 0;
        return undefined;
      /** { security, side, price, amount }: someone at the terminal places an entrust (the counter's rules apply). */
      case 'POST external-order': {
        const code = String(b['security']).slice(0, 6);
        const e = this.#place(b['side'] === 'sell' ? 'sell' : 'buy', code, Number(b['amount']), dec(String(b['price'])).toFixed());
        return { entrust_no: String(e.no) };
      }
      /** { security, qty, sellable?, cost? }: a holding from before today (sellable defaults to all of it). */
      case 'POST position': {
        const code = String(b['security']).slice(0, 6);
        const qty = Number(b['qty']);
        this.#holdings.set(code, { qty, sellable: Number(b['sellable'] ?? qty), cost: dec(String(b['cost'] ?? this.#prices.get(code) ?? '0')).times(qty) });
        return undefined;
      }
      /** { cash }: set 资金余额. */
      case 'POST cash':
        this.#cash = dec(String(b['cash']));
        return undefined;
      /**
       * The bridge process restarts: its login is gone (easytrader keeps it in memory), the
       * account is the broker's and stays. Connections are left alone (a lost connection is the
       * `drop` fault's), so what the next request meets is certain.
       */
      case 'POST restart':
        this.#prepared = false;
        return undefined;
      /** { at_ms }: the next trading day: today's entrusts and deals are history, every share is sellable (T+1). */
      case 'POST next-day':
        this.#entrusts = [];
        this.#trades = [];
        for (const h of this.#holdings.values()) h.sellable = h.qty;
        for (const [code, h] of [...this.#holdings]) if (h.qty === 0) this.#holdings.delete(code);
        if (b['at_ms'] !== undefined) this.#nowMs = Number(b['at_ms']);
        return undefined;
      /** { url }: follow a replay server's trades (prices) and clock (../fake-alpaca/quotes.ts). */
      case 'POST follow':
        this.#unfollow();
        this.#unfollow = followQuotes(this, String(b['url']));
        return undefined;
      default:
        throw new Error(`no control ${method} ${what}`);
    }
  }

  #state(): unknown {
    return {
      now_ms: this.#nowMs,
      prepared: this.#prepared,
      cash: this.#cash.toFixed(),
      available: this.#availableCash().toFixed(),
      holdings: Object.fromEntries([...this.#holdings].map(([c, h]) => [c, { qty: h.qty, sellable: this.#sellableNow(c) }])),
      entrusts: this.#entrusts.map((e) => ({ entrust_no: String(e.no), code: e.code, side: e.side, qty: e.qty, price: e.price, filled: e.filled, state: e.state })),
      trades: this.#trades.length,
      requests: this.#requests,
      held: this.#held,
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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Flask's request.get_json(force=True): a body that is not a JSON object fails in the view. */
function parseBody(text: string): Record<string, unknown> {
  const json = safeJson(text);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new BridgeError('werkzeug.exceptions.BadRequest', '400 Bad Request: Failed to decode JSON object');
  return json as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, json: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(json));
}

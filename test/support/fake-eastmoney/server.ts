/**
 * A fake of EastMoney's web trading routes (jywg.18.cn), for tests that run it in a child
 * process (main.ts) and drive it over 127.0.0.1. It speaks the site's shape as public clients
 * read it (src/actors/brokers/eastmoney/wire.ts): form posts with `?validatekey=`, the session
 * cookie, `X-Requested-With: XMLHttpRequest` (without it: the HTML page a browser would get),
 * numbers as STRINGS, entrust numbers (Wtbh) and deal numbers (Cjbh) from counters.
 *
 *   POST /Trade/SubmitTradeV2           {Status:0, Data:[{Wtbh}]} | {Status:-1, Message} (the counter's rules)
 *   POST /Trade/RevokeOrders            text "<Wtbh>: 您的撤单委托已提交，可至当日委托查看撤单结果" | "<Wtbh>: 撤单失败，..."
 *   POST /Search/GetOrdersData          today's entrusts, paged by qqhs / dwc (the cursor in each row's Dwc)
 *   POST /Search/GetDealData            today's deals, paged the same way
 *   POST /Search/GetHisDealData         deals from st to et (yyyy-MM-dd), paged
 *   POST /Com/queryAssetAndPositionV1   {Status:0, Data:[{Zzc, Zjye, Kyzj, Kqzj, Djzj, Zxsz, positions:[...]}]}
 *
 * A dead session (wrong cookie or validatekey, or `expire`) answers every route the way the
 * site does: a 302 to the login page (`redirect`), the login page itself (`html`), or
 * `{Status:-2, Message:"会话已超时，请重新登录"}` (`status`, ASSUMED).
 *
 * The counter's rules, as refusal Messages: buys in lots of 100; sells up to the sellable
 * shares (T+1: today's buys are sellable from the next day; an odd lot only whole); buys up to
 * the available cash (no fees in the fake); the price inside the day's band when the test set
 * a previous close (10%, 20% for 300/301/688); orders only 09:15-11:30 and 13:00-15:00 Shanghai
 * time on weekdays. Fills: `auto` fills an entrust at once when its limit crosses the symbol's
 * price (at that price), `manual` waits for the control API (whole or partial, at a price).
 *
 * Time: the fake never reads the wall clock; `nowMs` moves only by the control API (or a
 * followed replay server, quotes.ts). Moving it to a new Shanghai day ends the open entrusts
 * (已撤), makes every share sellable and starts empty lists of today.
 *
 * State is plain JSON (decimal strings), so `snapshot()` / `restore()` carry it across a restart
 * of the process (main.ts: FAKE_EASTMONEY_STATE_FILE).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Dec, dec } from '../../../src/domain/money.js';
import { followQuotes } from '../fake-alpaca/quotes.js';

export interface FakeEastMoneyOptions {
  readonly cookie: string;
  readonly validatekey: string;
  /** Starting cash (CNY), decimal string; default 1000000. */
  readonly cash?: string;
  /** Epoch ms at start; default 2025-11-07 10:00 Shanghai. */
  readonly startMs?: number;
  readonly port?: number;
  /** A snapshot to start from (a restart). */
  readonly state?: FakeEastMoneyState;
}

type Wtzt = '未报' | '已报' | '部成' | '已成' | '已撤' | '部撤' | '废单' | '已报待撤' | '部成待撤';
type Market = 'HA' | 'SA';

export interface FakeOrder {
  readonly wtbh: string;
  readonly code: string;
  readonly market: Market;
  readonly name: string;
  readonly side: 'B' | 'S';
  readonly qty: number;
  readonly price: string;
  filled: number;
  filledValue: string;
  status: Wtzt;
  readonly wtrq: string;
  readonly wtsj: string;
  /** Placed at another terminal (the user's app), not through the routes. */
  readonly external: boolean;
}

export interface FakeDeal {
  readonly cjbh: string;
  readonly wtbh: string;
  readonly code: string;
  readonly market: Market;
  readonly name: string;
  readonly side: 'B' | 'S';
  readonly qty: number;
  readonly price: string;
  readonly cjrq: string;
  readonly cjsj: string;
}

export interface FakePosition {
  readonly code: string;
  readonly market: Market;
  name: string;
  qty: number;
  sellable: number;
  /** Total cost of the shares held. */
  cost: string;
}

export type ExpiredAs = 'redirect' | 'html' | 'status';

/** A rule that answers the next matching requests some other way. */
export type Fault =
  /** Never answer; `commit` first does what the request asks (a submit's entrust IS made). */
  | { readonly kind: 'hold'; readonly commit?: boolean }
  /** Answer with this HTTP status and an HTML error page (nothing is committed). */
  | { readonly kind: 'status'; readonly status: number }
  /** Close the connection without an answer, after committing when `commit`. */
  | { readonly kind: 'reset'; readonly commit?: boolean }
  /** Answer this raw body (a malformed answer), after committing when `commit`. */
  | { readonly kind: 'body'; readonly body: string; readonly contentType?: string; readonly commit?: boolean };

interface FaultRule {
  /** Route path, e.g. /Trade/SubmitTradeV2; `*` matches every route. */
  readonly path: string;
  remaining: number;
  readonly fault: Fault;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  /** The form fields (the validatekey is not recorded). */
  readonly form: Record<string, string>;
  readonly validatekeyOk: boolean;
  readonly cookieOk: boolean;
  readonly xhr: boolean;
  /** What was answered (0: no answer). */
  status: number;
}

export interface FakeEastMoneyState {
  nowMs: number;
  cash: string;
  cookie: string;
  validatekey: string;
  expired: ExpiredAs | null;
  fill: 'auto' | 'manual';
  revoke: 'immediate' | 'pending';
  marketHours: boolean;
  orders: FakeOrder[];
  deals: FakeDeal[];
  positions: FakePosition[];
  prices: Record<string, string>;
  prevClose: Record<string, string>;
  counters: { wtbh: number; cjbh: number };
  requests: RequestRecord[];
}

const ROUTES = new Set(['/Trade/SubmitTradeV2', '/Trade/RevokeOrders', '/Search/GetOrdersData', '/Search/GetDealData', '/Search/GetHisDealData', '/Com/queryAssetAndPositionV1']);
const OPEN: ReadonlySet<Wtzt> = new Set(['未报', '已报', '部成', '已报待撤', '部成待撤']);
const HOUR = 3_600_000;
const LOGIN_PAGE = '<!DOCTYPE html><html><head><title>东方财富证券 - 网上交易登录</title></head><body><form id="loginForm" action="/Login/Authentication"><input id="txtZjzh" name="userId" /><input id="txtPwd" type="password" /><img id="imgValidCode" src="/Login/YZM" /></form></body></html>';

/** Shanghai (UTC+8, no DST) calendar parts of an instant. */
function shanghai(ms: number): { day: string; time: string; weekday: number; minutes: number } {
  const t = new Date(ms + 8 * HOUR);
  const p = (n: number) => String(n).padStart(2, '0');
  return {
    day: `${t.getUTCFullYear()}${p(t.getUTCMonth() + 1)}${p(t.getUTCDate())}`,
    time: `${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}`,
    weekday: t.getUTCDay(),
    minutes: t.getUTCHours() * 60 + t.getUTCMinutes(),
  };
}

const px = (d: Dec): string => d.toFixed(d.decimalPlaces() > 2 ? 3 : 2);
const money = (d: Dec): string => d.toFixed(2);
const symbolOf = (code: string, market: Market): string => `${code}.${market === 'HA' ? 'SH' : 'SZ'}`;

class Refusal extends Error {}

function freshState(options: Pick<FakeEastMoneyOptions, 'cookie' | 'validatekey' | 'cash' | 'startMs'>): FakeEastMoneyState {
  return {
    nowMs: options.startMs ?? Date.UTC(2025, 10, 7, 2, 0, 0),
    cash: dec(options.cash ?? '1000000').toFixed(2),
    cookie: options.cookie,
    validatekey: options.validatekey,
    expired: null,
    fill: 'auto',
    revoke: 'immediate',
    marketHours: true,
    orders: [],
    deals: [],
    positions: [],
    prices: {},
    prevClose: {},
    counters: { wtbh: 1000, cjbh: 50000 },
    requests: [],
  };
}

export class FakeEastMoney {
  readonly #http: Server;
  readonly #sockets = new Set<Socket>();
  readonly #faults: FaultRule[] = [];
  #s: FakeEastMoneyState;
  #unfollow: () => void = () => undefined;

  private constructor(http: Server, state: FakeEastMoneyState) {
    this.#http = http;
    this.#s = state;
  }

  static async start(options: FakeEastMoneyOptions): Promise<FakeEastMoney> {
    const state = options.state ?? freshState(options);
    let fake: FakeEastMoney | undefined;
    const http = createServer((req, res) => void fake!.#onRequest(req, res));
    fake = new FakeEastMoney(http, state);
    http.on('connection', (s) => {
      fake!.#sockets.add(s);
      s.on('close', () => fake!.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  snapshot(): FakeEastMoneyState {
    return structuredClone(this.#s);
  }

  /** The price entrusts fill at (auto mode fills the resting ones that cross it). */
  setPrice(symbol: string, price: string): void {
    this.#s.prices[symbol] = dec(price).toFixed();
    if (this.#s.fill === 'auto') for (const o of this.#s.orders) if (OPEN.has(o.status) && symbolOf(o.code, o.market) === symbol) this.#autoFill(o);
  }

  /** Move the clock on to `atMs` (never back); a new Shanghai day ends the old one. */
  clockTo(atMs: number): void {
    if (atMs <= this.#s.nowMs) return;
    const before = shanghai(this.#s.nowMs).day;
    this.#s.nowMs = atMs;
    if (shanghai(atMs).day !== before) this.#newDay();
  }

  async close(): Promise<void> {
    this.#unfollow();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------------
  // HTTP

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    const path = url.pathname;
    try {
      if (path.startsWith('/__control/')) {
        const out = this.#control(req.method ?? 'GET', path.slice('/__control/'.length), body === '' ? {} : (JSON.parse(body) as Record<string, unknown>));
        return sendJson(res, 200, out ?? { ok: true });
      }
      if (path.startsWith('/Login')) return sendHtml(res, 200, LOGIN_PAGE);
      const form = Object.fromEntries(new URLSearchParams(body));
      const record: RequestRecord = {
        method: req.method ?? 'GET',
        path,
        form,
        validatekeyOk: url.searchParams.get('validatekey') === this.#s.validatekey,
        cookieOk: this.#cookieOk(req.headers.cookie ?? ''),
        xhr: req.headers['x-requested-with'] === 'XMLHttpRequest',
        status: 0,
      };
      this.#s.requests.push(record);
      if (!ROUTES.has(path)) return this.#answerHtml(res, record, 404, '<html><body>404</body></html>');
      if (!record.validatekeyOk || !record.cookieOk || this.#s.expired) return this.#dead(res, record, this.#s.expired ?? 'redirect');
      // A navigation, not the page's script: the site serves the page.
      if (!record.xhr || record.method !== 'POST') return this.#answerHtml(res, record, 200, '<!DOCTYPE html><html><body><input id="em_validatekey" type="hidden" value="" /></body></html>');
      const rule = this.#faults.find((f) => f.remaining > 0 && (f.path === '*' || f.path === path));
      if (rule) {
        rule.remaining--;
        const f = rule.fault;
        if ('commit' in f && f.commit) this.#tryRoute(path, form);
        switch (f.kind) {
          case 'hold':
            return; // the answer never comes; the socket stays open until the client gives up
          case 'reset':
            req.socket.destroy();
            return;
          case 'status':
            return this.#answerHtml(res, record, f.status, `<html><body>${f.status} Server Error</body></html>`);
          case 'body':
            record.status = 200;
            res.writeHead(200, { 'Content-Type': f.contentType ?? 'application/json; charset=utf-8' });
            res.end(f.body);
            return;
        }
      }
      const answer = this.#route(path, form);
      record.status = 200;
      if (typeof answer === 'string') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(answer);
        return;
      }
      return sendJson(res, 200, answer);
    } catch (e) {
      return sendJson(res, 500, { Status: -1, Message: e instanceof Error ? e.message : String(e) });
    }
  }

  #cookieOk(header: string): boolean {
    const sent = new Set(header.split(';').map((p) => p.trim()));
    return this.#s.cookie.split(';').every((p) => p.trim() === '' || sent.has(p.trim()));
  }

  #dead(res: ServerResponse, record: RequestRecord, how: ExpiredAs): void {
    if (how === 'redirect') {
      record.status = 302;
      res.writeHead(302, { Location: `/Login/ExitIframe?returnurl=${encodeURIComponent(record.path)}`, 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<html><body>Object moved</body></html>');
      return;
    }
    if (how === 'html') return this.#answerHtml(res, record, 200, LOGIN_PAGE);
    record.status = 200;
    sendJson(res, 200, { Status: -2, Message: '会话已超时，请重新登录', Errcode: 0 });
  }

  #answerHtml(res: ServerResponse, record: RequestRecord, status: number, html: string): void {
    record.status = status;
    sendHtml(res, status, html);
  }

  /** A committed effect of a request whose answer is withheld. */
  #tryRoute(path: string, form: Record<string, string>): void {
    try {
      this.#route(path, form);
    } catch {
      // a refused request commits nothing
    }
  }

  #route(path: string, form: Record<string, string>): unknown {
    switch (path) {
      case '/Trade/SubmitTradeV2':
        try {
          return { Status: 0, Count: 1, Message: null, Errcode: 0, Data: [{ Wtbh: this.#submit(form).wtbh }] };
        } catch (e) {
          if (e instanceof Refusal) return { Status: -1, Count: 0, Message: e.message, Errcode: -1, Data: [] };
          throw e;
        }
      case '/Trade/RevokeOrders':
        return this.#revoke(form['revokes'] ?? '');
      case '/Search/GetOrdersData':
        return this.#page(this.#today(this.#s.orders, (o) => o.wtrq).map((o) => this.#orderJson(o)), form);
      case '/Search/GetDealData':
        return this.#page(this.#today(this.#s.deals, (d) => d.cjrq).map((d) => this.#dealJson(d)), form);
      case '/Search/GetHisDealData': {
        const st = (form['st'] ?? '').replace(/-/g, '');
        const et = (form['et'] ?? '').replace(/-/g, '');
        return this.#page(this.#s.deals.filter((d) => (!st || d.cjrq >= st) && (!et || d.cjrq <= et)).map((d) => this.#dealJson(d)), form);
      }
      case '/Com/queryAssetAndPositionV1':
        return { Status: 0, Message: null, Errcode: 0, Data: [this.#assetJson()] };
      default:
        throw new Error(`no route ${path}`);
    }
  }

  #today<T>(rows: readonly T[], dayOf: (r: T) => string): T[] {
    const today = shanghai(this.#s.nowMs).day;
    return rows.filter((r) => dayOf(r) === today);
  }

  /** `qqhs` rows after the cursor `dwc`; each row carries its own cursor in Dwc (its 1-based index). */
  #page(rows: Record<string, string>[], form: Record<string, string>): unknown {
    const size = Math.max(1, Number(form['qqhs'] ?? 20) || 20);
    const from = Number(form['dwc'] || 0) || 0;
    const data = rows.slice(from, from + size).map((r, i) => ({ ...r, Dwc: String(from + i + 1) }));
    return { Status: 0, Count: data.length, Message: null, Errcode: 0, Data: data };
  }

  // -------------------------------------------------------------------------------------
  // The counter

  #submit(form: Record<string, string>): FakeOrder {
    const code = form['stockCode'] ?? '';
    const market = form['market'];
    const side = form['tradeType'];
    const priceText = form['price'] ?? '';
    const amountText = form['amount'] ?? '';
    if (!/^\d{6}$/.test(code)) throw new Refusal('证券代码错误');
    if (market !== 'HA' && market !== 'SA') throw new Refusal('股东账号不存在');
    if ((market === 'HA') !== /^[569]/.test(code)) throw new Refusal('证券代码与市场不符');
    if (side !== 'B' && side !== 'S') throw new Refusal('买卖类别错误');
    if (!/^\d+(\.\d+)?$/.test(priceText) || dec(priceText).lte(0)) throw new Refusal('委托价格错误');
    if (!/^\d+$/.test(amountText) || Number(amountText) <= 0) throw new Refusal('委托数量错误');
    const price = dec(priceText);
    const qty = Number(amountText);
    if (this.#s.marketHours && !this.#inHours()) throw new Refusal('当前时间不允许委托，非交易时间');
    const symbol = symbolOf(code, market);
    const prev = this.#s.prevClose[symbol];
    if (prev !== undefined) {
      const band = /^(300|301|688)/.test(code) ? '0.2' : '0.1';
      const up = dec(prev).times(dec(1).plus(band)).toDecimalPlaces(2, Dec.ROUND_HALF_UP);
      const down = dec(prev).times(dec(1).minus(band)).toDecimalPlaces(2, Dec.ROUND_HALF_UP);
      if (price.gt(up) || price.lt(down)) throw new Refusal(`委托价格超过涨跌幅限制(${px(down)}-${px(up)})`);
    }
    if (side === 'B') {
      if (qty % 100 !== 0) throw new Refusal('买入数量必须是100股的整数倍');
      if (price.times(qty).gt(this.#available())) throw new Refusal('可用资金不足');
    } else {
      const p = this.#position(code);
      const sellable = p?.sellable ?? 0;
      if (qty > sellable) throw new Refusal(`可用股份不足，可卖数量${sellable}`);
      if (qty % 100 !== 0 && qty !== sellable) throw new Refusal('卖出零股须一次性卖出，否则须为100股的整数倍');
      p!.sellable -= qty;
    }
    const order = this.#newOrder({ code, market, side, qty, price: px(price), name: form['zqmc'] || code, external: false });
    if (this.#s.fill === 'auto') this.#autoFill(order);
    return order;
  }

  #inHours(): boolean {
    const t = shanghai(this.#s.nowMs);
    if (t.weekday === 0 || t.weekday === 6) return false;
    return (t.minutes >= 9 * 60 + 15 && t.minutes < 11 * 60 + 30) || (t.minutes >= 13 * 60 && t.minutes < 15 * 60);
  }

  #newOrder(o: { code: string; market: Market; side: 'B' | 'S'; qty: number; price: string; name: string; external: boolean }): FakeOrder {
    const t = shanghai(this.#s.nowMs);
    const order: FakeOrder = { ...o, wtbh: String(++this.#s.counters.wtbh), filled: 0, filledValue: '0', status: '已报', wtrq: t.day, wtsj: t.time };
    this.#s.orders.push(order);
    return order;
  }

  #position(code: string): FakePosition | undefined {
    return this.#s.positions.find((p) => p.code === code);
  }

  /** Cash a buy may spend now: the balance less what open buys hold back (at their limit). */
  #available(): Dec {
    return dec(this.#s.cash).minus(this.#frozen());
  }

  #frozen(): Dec {
    let frozen = dec(0);
    for (const o of this.#s.orders) if (o.side === 'B' && OPEN.has(o.status)) frozen = frozen.plus(dec(o.price).times(o.qty - o.filled));
    return frozen;
  }

  #autoFill(o: FakeOrder): void {
    const market = this.#s.prices[symbolOf(o.code, o.market)];
    if (market === undefined || !OPEN.has(o.status)) return;
    const crosses = o.side === 'B' ? dec(o.price).gte(market) : dec(o.price).lte(market);
    if (crosses) this.#fill(o, o.qty - o.filled, dec(market));
  }

  #fill(o: FakeOrder, qty: number, price: Dec): void {
    if (!OPEN.has(o.status)) throw new Error(`entrust ${o.wtbh} is ${o.status}`);
    if (qty <= 0 || qty > o.qty - o.filled) throw new Error(`cannot fill ${qty} of entrust ${o.wtbh} (${o.qty - o.filled} open)`);
    const t = shanghai(this.#s.nowMs);
    this.#s.deals.push({ cjbh: String(++this.#s.counters.cjbh), wtbh: o.wtbh, code: o.code, market: o.market, name: o.name, side: o.side, qty, price: px(price), cjrq: t.day, cjsj: t.time });
    o.filled += qty;
    o.filledValue = dec(o.filledValue).plus(price.times(qty)).toFixed();
    const value = price.times(qty);
    let p = this.#position(o.code);
    if (o.side === 'B') {
      this.#s.cash = money(dec(this.#s.cash).minus(value));
      if (!p) this.#s.positions.push((p = { code: o.code, market: o.market, name: o.name, qty: 0, sellable: 0, cost: '0' }));
      p.qty += qty; // T+1: sellable from the next day
      p.cost = dec(p.cost).plus(value).toFixed();
    } else {
      this.#s.cash = money(dec(this.#s.cash).plus(value));
      if (p) {
        const avg = p.qty > 0 ? dec(p.cost).div(p.qty) : dec(0);
        p.qty -= qty;
        p.cost = avg.times(p.qty).toFixed();
      }
    }
    const pendingCancel = o.status === '已报待撤' || o.status === '部成待撤';
    o.status = o.filled === o.qty ? '已成' : pendingCancel ? '部成待撤' : '部成';
  }

  /** The entrust ends without (more) fills: its held shares go back (its held cash goes with its status). */
  #end(o: FakeOrder, status: '已撤' | '废单'): void {
    if (!OPEN.has(o.status)) throw new Error(`entrust ${o.wtbh} is ${o.status}`);
    if (o.side === 'S') {
      const p = this.#position(o.code);
      if (p) p.sellable += o.qty - o.filled;
    }
    o.status = status === '已撤' && o.filled > 0 ? '部撤' : status;
  }

  #revoke(revokes: string): string {
    return revokes
      .split(',')
      .filter((r) => r.trim() !== '')
      .map((r) => {
        const [wtrq, wtbh] = r.trim().split('_');
        const o = this.#s.orders.find((x) => x.wtbh === wtbh && x.wtrq === wtrq);
        if (!o) return `${wtbh ?? r}: 委托序号与委托人不符`;
        if (!OPEN.has(o.status) || o.status === '已报待撤' || o.status === '部成待撤') return `${wtbh}: 撤单失败，该笔委托已经全部成交或全部撤单`;
        if (this.#s.revoke === 'immediate') this.#end(o, '已撤');
        else o.status = o.filled > 0 ? '部成待撤' : '已报待撤';
        return `${wtbh}: 您的撤单委托已提交，可至当日委托查看撤单结果`;
      })
      .join('   ');
  }

  #newDay(): void {
    for (const o of this.#s.orders) if (OPEN.has(o.status)) this.#end(o, '已撤');
    for (const p of this.#s.positions) p.sellable = p.qty;
    this.#s.positions = this.#s.positions.filter((p) => p.qty > 0);
  }

  // -------------------------------------------------------------------------------------
  // Answers (every number a string)

  #orderJson(o: FakeOrder): Record<string, string> {
    return {
      Wtrq: o.wtrq,
      Wtsj: o.wtsj,
      Wtbh: o.wtbh,
      Zqdm: o.code,
      Zqmc: o.name,
      Mmsm: o.side === 'B' ? '证券买入' : '证券卖出',
      Mmlb: o.side,
      Wtsl: String(o.qty),
      Wtjg: o.price,
      Cjsl: String(o.filled),
      Cjjg: o.filled > 0 ? px(dec(o.filledValue).div(o.filled).toDecimalPlaces(3, Dec.ROUND_HALF_UP)) : '0.000',
      Cjje: money(dec(o.filledValue)),
      Wtzt: o.status,
      Market: o.market,
      Gddm: o.market === 'HA' ? 'A123456789' : '0123456789',
    };
  }

  #dealJson(d: FakeDeal): Record<string, string> {
    return {
      Cjrq: d.cjrq,
      Cjsj: d.cjsj,
      Cjbh: d.cjbh,
      Wtbh: d.wtbh,
      Zqdm: d.code,
      Zqmc: d.name,
      Mmlb: d.side,
      Mmsm: d.side === 'B' ? '证券买入' : '证券卖出',
      Cjsl: String(d.qty),
      Cjjg: d.price,
      Cjje: money(dec(d.price).times(d.qty)),
      Market: d.market,
    };
  }

  #assetJson(): Record<string, unknown> {
    let value = dec(0);
    const positions = this.#s.positions
      .filter((p) => p.qty > 0)
      .map((p) => {
        const last = dec(this.#s.prices[symbolOf(p.code, p.market)] ?? dec(p.cost).div(p.qty));
        value = value.plus(last.times(p.qty));
        return {
          Zqdm: p.code,
          Zqmc: p.name,
          Market: p.market,
          Zqsl: String(p.qty),
          Kysl: String(p.sellable),
          Cbjg: px(dec(p.cost).div(p.qty).toDecimalPlaces(3, Dec.ROUND_HALF_UP)),
          Zxjg: px(last),
          Zxsz: money(last.times(p.qty)),
          Ljyk: money(last.times(p.qty).minus(p.cost)),
        };
      });
    const cash = dec(this.#s.cash);
    const available = this.#available();
    return {
      Zzc: money(cash.plus(value)),
      Zxsz: money(value),
      Zjye: money(cash),
      Kyzj: money(available),
      Kqzj: money(available),
      Djzj: money(this.#frozen()),
      Dryk: '0.00',
      Ljyk: '0.00',
      Otcsz: '0.00',
      positions,
    };
  }

  // -------------------------------------------------------------------------------------
  // Control API

  #control(method: string, what: string, b: Record<string, unknown>): unknown {
    const orderOf = (): FakeOrder => {
      const o = this.#s.orders.find((x) => x.wtbh === String(b['wtbh']));
      if (!o) throw new Error(`no entrust ${String(b['wtbh'])}`);
      return o;
    };
    switch (`${method} ${what}`) {
      /** { cookie, validatekey, cash?, start_ms? }: forget everything (a fresh account, a new session). */
      case 'POST reset':
        this.#faults.length = 0;
        this.#unfollow();
        this.#s = freshState({
          cookie: String(b['cookie']),
          validatekey: String(b['validatekey']),
          ...(b['cash'] !== undefined ? { cash: String(b['cash']) } : {}),
          ...(b['start_ms'] !== undefined ? { startMs: Number(b['start_ms']) } : {}),
        });
        return undefined;
      case 'GET state':
        return { ...this.snapshot(), faults: this.#faults.map((f) => ({ ...f })) };
      /** { symbol, price?, prev_close? }: the market price (fills in auto mode) and the previous close (the price band). */
      case 'POST price':
        if (b['prev_close'] !== undefined) this.#s.prevClose[String(b['symbol'])] = String(b['prev_close']);
        if (b['price'] !== undefined) this.setPrice(String(b['symbol']), String(b['price']));
        return undefined;
      /** { at_ms }: move the clock on. */
      case 'POST clock':
        this.clockTo(Number(b['at_ms']));
        return { now_ms: this.#s.nowMs };
      /** { fill?: auto | manual, revoke?: immediate | pending, market_hours?: boolean }. */
      case 'POST mode':
        if (b['fill'] === 'auto' || b['fill'] === 'manual') this.#s.fill = b['fill'];
        if (b['revoke'] === 'immediate' || b['revoke'] === 'pending') this.#s.revoke = b['revoke'];
        if (typeof b['market_hours'] === 'boolean') this.#s.marketHours = b['market_hours'];
        return undefined;
      /** { wtbh, qty?, price? }: execute (part of) an open entrust; default all, at its limit. */
      case 'POST fill': {
        const o = orderOf();
        this.#fill(o, Number(b['qty'] ?? o.qty - o.filled), dec(String(b['price'] ?? o.price)));
        return this.#orderJson(o);
      }
      /** { wtbh }: the exchange cancels the entrust (or confirms a pending revoke). */
      case 'POST exchange-cancel': {
        const o = orderOf();
        this.#end(o, '已撤');
        return this.#orderJson(o);
      }
      /** { wtbh }: the exchange refuses the entrust after it was reported (废单). */
      case 'POST reject': {
        const o = orderOf();
        this.#end(o, '废单');
        return this.#orderJson(o);
      }
      /** { path, count?, fault }: the next `count` (default 1) requests to `path` get `fault`. */
      case 'POST faults':
        this.#faults.push({ path: String(b['path']), remaining: Number(b['count'] ?? 1), fault: b['fault'] as Fault });
        return undefined;
      case 'DELETE faults':
        this.#faults.length = 0;
        return undefined;
      /** { how: redirect | html | status }: the session dies; every route answers like the site for a dead one. */
      case 'POST expire':
        this.#s.expired = b['how'] === 'html' || b['how'] === 'status' ? b['how'] : 'redirect';
        return undefined;
      /** { cookie, validatekey }: a new session (the user logged in again). */
      case 'POST session':
        this.#s.cookie = String(b['cookie']);
        this.#s.validatekey = String(b['validatekey']);
        this.#s.expired = null;
        return undefined;
      /** { symbol, side: buy | sell, qty, price }: an entrust placed at another terminal (filled when it crosses, in auto mode). */
      case 'POST external-order': {
        const m = /^(\d{6})\.(SH|SZ)$/.exec(String(b['symbol']));
        if (!m) throw new Error(`not an A share: ${String(b['symbol'])}`);
        const o = this.#newOrder({ code: m[1]!, market: m[2] === 'SH' ? 'HA' : 'SA', side: b['side'] === 'sell' ? 'S' : 'B', qty: Number(b['qty']), price: px(dec(String(b['price']))), name: m[1]!, external: true });
        if (this.#s.fill === 'auto') this.#autoFill(o);
        return this.#orderJson(o);
      }
      /** { symbol, qty, sellable?, cost? }: set a holding (shares bought before today: all sellable unless said). */
      case 'POST position': {
        const m = /^(\d{6})\.(SH|SZ)$/.exec(String(b['symbol']));
        if (!m) throw new Error(`not an A share: ${String(b['symbol'])}`);
        const qty = Number(b['qty']);
        this.#s.positions = this.#s.positions.filter((p) => p.code !== m[1]);
        this.#s.positions.push({ code: m[1]!, market: m[2] === 'SH' ? 'HA' : 'SA', name: m[1]!, qty, sellable: Number(b['sellable'] ?? qty), cost: dec(String(b['cost'] ?? '0')).toFixed() });
        return undefined;
      }
      /** { cash }: set the balance. */
      case 'POST cash':
        this.#s.cash = dec(String(b['cash'])).toFixed(2);
        return undefined;
      /** { url }: follow a replay server's trades and clock (../fake-alpaca/quotes.ts). */
      case 'POST follow':
        this.#unfollow();
        this.#unfollow = followQuotes(this, String(b['url']));
        return undefined;
      /** Close every open connection (held answers included) without an answer. */
      case 'POST drop':
        for (const s of this.#sockets) s.destroy();
        return undefined;
      default:
        throw new Error(`no control ${method} ${what}`);
    }
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

function sendJson(res: ServerResponse, status: number, json: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(json));
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(html);
}

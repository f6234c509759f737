/**
 * A fake Futu OpenD WebSocket port, for tests that run it in a child process (main.ts) and drive
 * it over 127.0.0.1. It speaks the real frames (futu-api 10.11.7108's base.js: "ft-v1.0\0", cmd
 * u32 BE, section u64 BE, then on replies error i32 BE + errmsg[20]; written here by hand, not
 * with src/'s frame.ts, so a symmetric mistake shows) and protobuf bodies from the same vendored
 * protos (src/actors/brokers/futu/proto/, encoded with protobufjs).
 *
 *   1     InitWebSocket   md5hex(websocket key) checked: a wrong one gets retType -1 (ASSUMED wording)
 *   1004  KeepAlive       s2c {time}
 *   2001  GetAccList      the accounts (simulate and real)
 *   2005  UnlockTrade     pwdMD5 checked: wrong -> retType -1; OpenD-wide, lost on `restart`
 *   2008  SubAccPush      the connection gets 2208/2218 pushes of these accounts (real env only:
 *                         the simulate environment pushes nothing, its orders are polled)
 *   2101  GetFunds        cash, power = netCashPower = cash less open buys, marketVal, totalAssets
 *   2102  GetPositionList qty, canSellQty (CN/HKCC: today's buys excluded, T+1; open sells held)
 *   2201  GetOrderList    today's orders of the account, with remark
 *   2202  PlaceOrder      checks (account, unlock in real env, market, lot of 100 for A-share
 *                         buys, cash, sellable, remark <= 64 bytes, packetID never reused);
 *                         status 5; a market order fills at once at the set price unless `manual`
 *   2205  ModifyOrder     op 2 cancels an open order (14/15; via 12/13 with `slow_cancel`)
 *   2211  GetOrderFillList real env only (simulate: retType -1)
 *   3001  Qot_Sub         SubType_Basic of securities with a price (else the whole request is
 *                         refused, "Unknown stock"); isRegOrUnRegPush registers the connection
 *                         for their 3005 pushes; isSubOrUnSub false unsubscribes
 *   3004  Qot_GetBasicQot the basic quotes of subscribed securities (not subscribed: refused)
 *   3005  Qot_UpdateBasicQot pushed to each registered connection on every `setPrice` of a
 *                         security it subscribed to (the control API's `price`, a followed
 *                         replay's trades): a trade, stamped with the fake's clock
 *
 * Ids are uint64 above 2^53 (order ids from 4611686018427387905, fill ids from
 * 9223372036854775001, the real account 281756479845123456), so a client that reads them as JS
 * numbers fails.
 *
 * Time: the fake never reads the wall clock; `nowMs` starts at `startMs` and moves 1 ms per
 * event (or where the control API sets it), so every run gives the same timestamps.
 *
 * Control API over HTTP on the same port, under /__control/ (see `#control`): prices, fills,
 * cancels, rejections, faults by cmd (hold the reply after committing, drop the connection after
 * committing, reply an error, reply garbage), pushes sent twice, raw frames, restart (drop every
 * connection, keep the state, lock trading again), `follow` a replay server (quotes.ts).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DateTime } from 'luxon';
import { WebSocketServer, type WebSocket } from 'ws';
import { Dec, dec } from '../../../src/domain/money.js';
import { futuProtos, type FutuCmdName } from '../../../src/actors/brokers/futu/protos.js';
import { followQuotes, type FollowsMarket } from '../fake-alpaca/quotes.js';

export interface FakeAccountSpec {
  readonly accID: string;
  readonly trdEnv: 0 | 1;
  /** TrdMarket values (1 HK, 2 US, 3 CN, 4 HKCC). */
  readonly markets: readonly number[];
  readonly simAccType?: number;
  readonly cash?: string;
}

export interface FakeFutuOptions {
  /** OpenD's websocket key; undefined: OpenD has none (any key accepted). */
  readonly websocketKey?: string;
  readonly tradePassword: string;
  readonly startMs?: number;
  readonly accounts?: readonly FakeAccountSpec[];
}

export const DEFAULT_ACCOUNTS: readonly FakeAccountSpec[] = [
  { accID: '1001', trdEnv: 0, markets: [3], simAccType: 1 },
  { accID: '1002', trdEnv: 0, markets: [2], simAccType: 1 },
  { accID: '1003', trdEnv: 0, markets: [1], simAccType: 1 },
  { accID: '1009', trdEnv: 0, markets: [2], simAccType: 2 }, // options only: not a candidate for shares
  { accID: '281756479845123456', trdEnv: 1, markets: [1, 4] },
  { accID: '281756479845123457', trdEnv: 1, markets: [2] },
];

const SIGN = Buffer.from('ft-v1.0\0', 'latin1');
const md5hex = (t: string): string => createHash('md5').update(t, 'utf8').digest('hex');
const ZONES: Readonly<Record<number, string>> = { 1: 'Asia/Hong_Kong', 2: 'America/New_York', 3: 'Asia/Shanghai', 4: 'Asia/Shanghai' };
const T_PLUS_ONE: ReadonlySet<number> = new Set([3, 4]);
const OPEN: ReadonlySet<number> = new Set([5, 10, 12, 13]);
const CANCELLABLE: ReadonlySet<number> = new Set([5, 10]);

interface Position {
  qty: number;
  cost: Dec;
  boughtDay: string;
  boughtToday: number;
}

interface Account {
  readonly spec: FakeAccountSpec;
  cash: Dec;
  readonly positions: Map<string, Position>;
}

interface Order {
  readonly orderID: string;
  readonly accID: string;
  readonly trdMarket: number;
  readonly code: string;
  readonly secMarket: number;
  readonly side: 1 | 2;
  readonly orderType: number;
  readonly qty: number;
  readonly price: string | undefined;
  readonly remark: string | undefined;
  readonly createMs: number;
  updateMs: number;
  status: number;
  fillQty: number;
  fillNotional: Dec;
  lastErrMsg: string;
}

interface FillRec {
  readonly fillID: string;
  readonly orderID: string;
  readonly accID: string;
  readonly trdMarket: number;
  readonly code: string;
  readonly secMarket: number;
  readonly side: 1 | 2;
  readonly qty: number;
  readonly price: string;
  readonly atMs: number;
}

interface Client {
  readonly ws: WebSocket;
  readonly connID: string;
  initialized: boolean;
  subs: Set<string>;
  /** Quote subscriptions (SubType_Basic), by key(secMarket, code). */
  readonly qotSubs: Set<string>;
  /** Registered for the pushes of its quote subscriptions. */
  qotPush: boolean;
}

/** Qot_Common.QotMarket <-> TrdSecMarket (the fake keys securities by the latter). */
const QOT_TO_SEC: Readonly<Record<number, number>> = { 1: 1, 11: 2, 21: 31, 22: 32 };
const SEC_TO_QOT: Readonly<Record<number, number>> = { 1: 1, 2: 11, 31: 21, 32: 22 };
const SEC_ZONES: Readonly<Record<number, string>> = { 1: 'Asia/Hong_Kong', 2: 'America/New_York', 31: 'Asia/Shanghai', 32: 'Asia/Shanghai' };

interface QuoteRec {
  price: string;
  atMs: number;
  volume: number;
}

export type FakeFault =
  /** Carry the request out, then withhold the reply (a "timeout after commit"); `release` sends it late. */
  | { readonly kind: 'hold' }
  /** Carry the request out, then drop the connection without a reply. */
  | { readonly kind: 'drop' }
  /** Reply with this retType / retMsg / errCode, carrying nothing out. */
  | { readonly kind: 'error'; readonly retType?: number; readonly retMsg?: string; readonly errCode?: number }
  /** Reply with a header error (the WebSocket layer's), carrying nothing out. */
  | { readonly kind: 'header_error'; readonly error: number; readonly errmsg?: string }
  /** Reply with a body that does not decode, carrying nothing out. */
  | { readonly kind: 'garbage' };

interface FaultRule {
  readonly cmd: number;
  remaining: number;
  readonly fault: FakeFault;
}

export interface FakeRequestRecord {
  readonly cmd: number;
  readonly connID: string;
  readonly section: string;
  readonly remark?: string;
  /** 'replied' | 'held' | 'dropped' | 'faulted' */
  outcome: string;
  retType?: number;
}

class Refusal extends Error {
  constructor(
    message: string,
    readonly retType = -1,
    readonly errCode?: number,
  ) {
    super(message);
  }
}

const CMD_NAMES: Readonly<Record<number, FutuCmdName>> = {
  1: 'InitWebSocket',
  1004: 'KeepAlive',
  2001: 'Trd_GetAccList',
  2005: 'Trd_UnlockTrade',
  2008: 'Trd_SubAccPush',
  2101: 'Trd_GetFunds',
  2102: 'Trd_GetPositionList',
  2201: 'Trd_GetOrderList',
  2202: 'Trd_PlaceOrder',
  2205: 'Trd_ModifyOrder',
  2211: 'Trd_GetOrderFillList',
  3001: 'Qot_Sub',
  3004: 'Qot_GetBasicQot',
};

/** Our symbol -> {code, secMarket}: the fake's own parse (not src's table). */
function security(symbol: string): { code: string; secMarket: number } {
  const m = /^(.+)\.(SH|SZ|HK)$/i.exec(symbol);
  if (!m) return { code: symbol.toUpperCase(), secMarket: 2 };
  return { code: m[1]!, secMarket: { SH: 31, SZ: 32, HK: 1 }[m[2]!.toUpperCase() as 'SH' | 'SZ' | 'HK'] };
}

const key = (secMarket: number, code: string): string => `${secMarket}:${code}`;
const symbolOf = (secMarket: number, code: string): string => (secMarket === 31 ? `${code}.SH` : secMarket === 32 ? `${code}.SZ` : secMarket === 1 ? `${code}.HK` : code);
const fitsMarket = (trdMarket: number, secMarket: number): boolean => (trdMarket === 1 ? secMarket === 1 : trdMarket === 2 ? secMarket === 2 : secMarket === 31 || secMarket === 32);

export class FakeFutu implements FollowsMarket {
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  #websocketKey: string | undefined;
  #tradePassword: string;
  #nowMs: number;
  #unlocked = false;
  #fillMode: 'immediate' | 'manual' = 'immediate';
  #slowCancel = false;
  #dupPushes = 0;
  #refuse = false;
  #refused = 0;
  #unfollow: () => void = () => undefined;
  readonly #accounts = new Map<string, Account>();
  readonly #prices = new Map<string, string>();
  readonly #orders: Order[] = [];
  readonly #fills: FillRec[] = [];
  readonly #clients = new Set<Client>();
  readonly #sockets = new Set<Socket>();
  readonly #faults: FaultRule[] = [];
  readonly #requests: FakeRequestRecord[] = [];
  readonly #held: { client: Client; frame: Buffer }[] = [];
  readonly #packetIDs = new Set<string>();
  #connections = 0;
  #counters = { order: 0n, fill: 0n, conn: 0n };
  #pushesSent = 0;
  #quotePushesSent = 0;
  /** false: quotes carry updateTime only (no updateTimestamp), as an older OpenD might. */
  #quoteTimestamps = true;
  readonly #quotes = new Map<string, QuoteRec>();

  private constructor(http: Server, wss: WebSocketServer, options: FakeFutuOptions) {
    this.#http = http;
    this.#wss = wss;
    this.#websocketKey = options.websocketKey;
    this.#tradePassword = options.tradePassword;
    this.#nowMs = options.startMs ?? Date.UTC(2025, 10, 7, 2, 0, 0); // 10:00 Shanghai
    for (const spec of options.accounts ?? DEFAULT_ACCOUNTS) this.#accounts.set(spec.accID, { spec, cash: dec(spec.cash ?? '1000000'), positions: new Map() });
  }

  static async start(options: FakeFutuOptions): Promise<FakeFutu> {
    let fake: FakeFutu | undefined;
    const http = createServer((req, res) => void fake!.#onHttp(req, res));
    const wss = new WebSocketServer({ noServer: true });
    fake = new FakeFutu(http, wss, options);
    http.on('connection', (s) => {
      fake!.#sockets.add(s);
      s.on('close', () => fake!.#sockets.delete(s));
    });
    http.on('upgrade', (req, socket, head) => {
      if (fake!.#refuse) {
        fake!.#refused++;
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => fake!.#onConnection(ws));
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

  setPrice(symbol: string, price: string): void {
    const s = security(symbol);
    const k = key(s.secMarket, s.code);
    this.#prices.set(k, price);
    // A trade: the quote moves, stamped now (without moving the clock: orders keep their stamps), and its subscribers hear of it.
    const q = this.#quotes.get(k);
    this.#quotes.set(k, { price, atMs: this.#nowMs, volume: (q?.volume ?? 0) + 100 });
    this.#pushQuote(k);
    // Resting limits the new price reaches fill, as at an exchange.
    if (this.#fillMode === 'immediate') for (const o of this.#orders) if (o.code === s.code && o.secMarket === s.secMarket) this.#cross(o, price);
  }

  clockTo(ms: number): void {
    this.#nowMs = Math.max(this.#nowMs, ms);
  }

  async close(): Promise<void> {
    this.#unfollow();
    for (const c of this.#clients) c.ws.terminate();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------------
  // WebSocket

  #onConnection(ws: WebSocket): void {
    this.#connections++;
    const client: Client = { ws, connID: String(7_000_000_000_000_000_000n + ++this.#counters.conn), initialized: false, subs: new Set(), qotSubs: new Set(), qotPush: false };
    this.#clients.add(client);
    ws.on('close', () => this.#clients.delete(client));
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) return; // OpenD ignores text (ASSUMED)
      this.#onFrame(client, data);
    });
  }

  #reply(cmd: number, section: bigint, body: Uint8Array, error = 0, errmsg = ''): Buffer {
    const out = Buffer.alloc(44 + body.length);
    SIGN.copy(out, 0);
    out.writeUInt32BE(cmd, 8);
    out.writeBigUInt64BE(section, 12);
    out.writeInt32BE(error, 20);
    Buffer.from(errmsg, 'utf8').subarray(0, 20).copy(out, 24);
    Buffer.from(body).copy(out, 44);
    return out;
  }

  #onFrame(client: Client, data: Buffer): void {
    // A request that does not start with the sign is dropped, as OpenD would not know what it is.
    if (data.length < 20 || !SIGN.equals(data.subarray(0, 8))) return;
    const cmd = data.readUInt32BE(8);
    const section = data.readBigUInt64BE(12);
    const body = data.subarray(20);
    const name = CMD_NAMES[cmd];
    const record: FakeRequestRecord = { cmd, connID: client.connID, section: String(section), outcome: 'replied' };
    this.#requests.push(record);
    if (!name) {
      // an unknown cmd: an error reply (ASSUMED: OpenD answers "unknown protocol")
      record.outcome = 'faulted';
      client.ws.send(this.#reply(cmd, section, Buffer.alloc(0), -1, 'unknown cmd'));
      return;
    }
    const send = (res: Record<string, unknown>): void => {
      record.retType = res['retType'] as number;
      client.ws.send(this.#reply(cmd, section, futuProtos().encodeResponse(name, res)));
    };
    let req: Record<string, unknown>;
    try {
      req = futuProtos().decodeRequest(name, body);
    } catch (e) {
      return send({ retType: -500, retMsg: `invalid packet: ${(e as Error).message}` });
    }
    const c2s = (req['c2s'] ?? {}) as Record<string, unknown>;
    if (typeof c2s['remark'] === 'string') (record as { remark?: string }).remark = c2s['remark'];
    const rule = name === 'InitWebSocket' ? undefined : this.#faults.find((f) => f.remaining > 0 && f.cmd === cmd);
    if (rule) {
      rule.remaining--;
      const f = rule.fault;
      if (f.kind === 'error') {
        record.outcome = 'faulted';
        return send({ retType: f.retType ?? -1, retMsg: f.retMsg ?? 'injected error', ...(f.errCode !== undefined ? { errCode: f.errCode } : {}) });
      }
      if (f.kind === 'header_error') {
        record.outcome = 'faulted';
        client.ws.send(this.#reply(cmd, section, Buffer.alloc(0), f.error, f.errmsg ?? ''));
        return;
      }
      if (f.kind === 'garbage') {
        record.outcome = 'faulted';
        client.ws.send(this.#reply(cmd, section, Buffer.from([0xff, 0xff, 0xff, 0x0f])));
        return;
      }
    }
    const res = this.#handle(client, name, c2s);
    if (rule?.fault.kind === 'hold') {
      record.outcome = 'held';
      record.retType = res['retType'] as number;
      this.#held.push({ client, frame: this.#reply(cmd, section, futuProtos().encodeResponse(name, res)) });
      return;
    }
    if (rule?.fault.kind === 'drop') {
      record.outcome = 'dropped';
      client.ws.terminate();
      return;
    }
    send(res);
  }

  #handle(client: Client, name: FutuCmdName, c2s: Record<string, unknown>): Record<string, unknown> {
    try {
      if (name !== 'InitWebSocket' && !client.initialized) throw new Refusal('InitWebSocket first');
      const s2c = this.#route(client, name, c2s);
      return { retType: 0, s2c };
    } catch (e) {
      if (e instanceof Refusal) return { retType: e.retType, retMsg: e.message, ...(e.errCode !== undefined ? { errCode: e.errCode } : {}) };
      return { retType: -400, retMsg: `fake error: ${(e as Error).message}` };
    }
  }

  #route(client: Client, name: FutuCmdName, c2s: Record<string, unknown>): Record<string, unknown> {
    switch (name) {
      case 'InitWebSocket': {
        if (this.#websocketKey !== undefined && c2s['websocketKey'] !== md5hex(this.#websocketKey)) throw new Refusal('websocket key is wrong', -1, 1);
        client.initialized = true;
        return { serverTime: Math.floor(this.#nowMs / 1000), connID: client.connID };
      }
      case 'KeepAlive':
        return { time: Math.floor(this.#nowMs / 1000) };
      case 'Trd_GetAccList':
        return {
          accList: [...this.#accounts.values()].map((a) => ({ trdEnv: a.spec.trdEnv, accID: a.spec.accID, trdMarketAuthList: a.spec.markets, accType: 1, ...(a.spec.simAccType !== undefined ? { simAccType: a.spec.simAccType } : {}), accStatus: 0 })),
        };
      case 'Trd_UnlockTrade':
        if (c2s['unlock'] === false) {
          this.#unlocked = false;
          return {};
        }
        if (c2s['pwdMD5'] !== md5hex(this.#tradePassword)) throw new Refusal('Unlock failed: the trade password is wrong', -1, 2);
        this.#unlocked = true;
        return {};
      case 'Trd_SubAccPush': {
        const ids = ((c2s['accIDList'] as string[] | undefined) ?? []).map(String);
        for (const id of ids) if (!this.#accounts.has(id)) throw new Refusal(`unknown account ${id}`);
        client.subs = new Set(ids);
        return {};
      }
      case 'Trd_GetFunds': {
        const { acc, header } = this.#account(c2s);
        return { header, funds: this.#funds(acc, header.trdMarket) };
      }
      case 'Trd_GetPositionList': {
        const { acc, header } = this.#account(c2s);
        return { header, positionList: [...acc.positions.entries()].map(([k, p], i) => this.#positionJson(acc, k, p, i, header.trdMarket)) };
      }
      case 'Trd_GetOrderList': {
        const { acc, header } = this.#account(c2s);
        return { header, orderList: this.#orders.filter((o) => o.accID === acc.spec.accID).map((o) => this.#orderJson(o)) };
      }
      case 'Trd_GetOrderFillList': {
        const { acc, header } = this.#account(c2s);
        if (acc.spec.trdEnv === 0) throw new Refusal('simulated trading does not support querying fills');
        return { header, orderFillList: this.#fills.filter((f) => f.accID === acc.spec.accID).map((f) => this.#fillJson(f)) };
      }
      case 'Qot_Sub':
        return this.#qotSub(client, c2s);
      case 'Qot_GetBasicQot': {
        const keys = this.#qotKeys(c2s);
        const missing = keys.filter((k) => !client.qotSubs.has(k));
        if (missing.length > 0) throw new Refusal(`not subscribed: ${missing.join(', ')} (subscribe to SubType_Basic first)`);
        return { basicQotList: keys.map((k) => this.#basicQot(k)) };
      }
      case 'Trd_PlaceOrder':
        return this.#place(client, c2s);
      case 'Trd_ModifyOrder':
        return this.#modify(client, c2s);
      default:
        throw new Refusal(`the fake does not answer ${name}`);
    }
  }

  #account(c2s: Record<string, unknown>): { acc: Account; header: { trdEnv: number; accID: string; trdMarket: number } } {
    const h = (c2s['header'] ?? {}) as { trdEnv?: number; accID?: string; trdMarket?: number };
    const acc = this.#accounts.get(String(h.accID));
    if (!acc) throw new Refusal(`unknown account ${String(h.accID)}`);
    if (acc.spec.trdEnv !== h.trdEnv) throw new Refusal(`account ${acc.spec.accID} is not in trdEnv ${String(h.trdEnv)}`);
    if (!acc.spec.markets.includes(h.trdMarket ?? 0)) throw new Refusal(`account ${acc.spec.accID} has no permission for trdMarket ${String(h.trdMarket)}`);
    return { acc, header: { trdEnv: h.trdEnv, accID: acc.spec.accID, trdMarket: h.trdMarket! } };
  }

  #qotKeys(c2s: Record<string, unknown>): string[] {
    return ((c2s['securityList'] as { market?: number; code?: string }[] | undefined) ?? []).map((sec) => key(QOT_TO_SEC[sec.market ?? 0] ?? -1, String(sec.code ?? '')));
  }

  #qotSub(client: Client, c2s: Record<string, unknown>): Record<string, unknown> {
    if (c2s['isUnsubAll'] === true) {
      client.qotSubs.clear();
      client.qotPush = false;
      return {};
    }
    const keys = this.#qotKeys(c2s);
    const types = (c2s['subTypeList'] as number[] | undefined) ?? [];
    if (!types.includes(1)) throw new Refusal(`the fake subscribes SubType_Basic (1) only, not ${types.join(', ')}`);
    // OpenD refuses the whole request for one code it does not know (ASSUMED wording).
    const unknown = keys.filter((k) => !this.#quotes.has(k));
    if (unknown.length > 0) throw new Refusal(`Unknown stock ${unknown.map((k) => k.split(':')[1]).join(', ')}`);
    if (c2s['isSubOrUnSub'] === false) for (const k of keys) client.qotSubs.delete(k);
    else for (const k of keys) client.qotSubs.add(k);
    if (typeof c2s['isRegOrUnRegPush'] === 'boolean') client.qotPush = c2s['isRegOrUnRegPush'];
    return {};
  }

  #checkPacket(client: Client, c2s: Record<string, unknown>): void {
    const p = (c2s['packetID'] ?? {}) as { connID?: string; serialNo?: number };
    if (String(p.connID) !== client.connID) throw new Refusal(`packetID.connID ${String(p.connID)} is not this connection's`);
    const id = `${String(p.connID)}:${String(p.serialNo)}`;
    if (this.#packetIDs.has(id)) throw new Refusal('duplicate packetID (replayed request)');
    this.#packetIDs.add(id);
  }

  #place(client: Client, c2s: Record<string, unknown>): Record<string, unknown> {
    const { acc, header } = this.#account(c2s);
    this.#checkPacket(client, c2s);
    if (acc.spec.trdEnv === 1 && !this.#unlocked) throw new Refusal('Please unlock trade first');
    const code = String(c2s['code'] ?? '');
    const secMarket = Number(c2s['secMarket'] ?? 0);
    if (!fitsMarket(header.trdMarket, secMarket)) throw new Refusal(`secMarket ${secMarket} is not tradable in trdMarket ${header.trdMarket}`);
    const market = this.#prices.get(key(secMarket, code));
    if (market === undefined) throw new Refusal(`Unknown stock ${code}`);
    const qty = Number(c2s['qty']);
    if (!Number.isInteger(qty) || qty <= 0) throw new Refusal('quantity must be a positive whole number');
    const side = c2s['trdSide'] === 1 ? 1 : c2s['trdSide'] === 2 ? 2 : undefined;
    if (!side) throw new Refusal('invalid trdSide');
    const orderType = Number(c2s['orderType']);
    if (orderType !== 1 && orderType !== 2) throw new Refusal(`the fake takes orderType 1 or 2, not ${orderType}`);
    const price = orderType === 1 ? (typeof c2s['price'] === 'number' && c2s['price'] > 0 ? dec(c2s['price']).toDecimalPlaces(3, Dec.ROUND_DOWN).toFixed() : undefined) : undefined;
    if (orderType === 1 && price === undefined) throw new Refusal('price is required for a limit order');
    const remark = typeof c2s['remark'] === 'string' ? c2s['remark'] : undefined;
    if (remark !== undefined && Buffer.byteLength(remark) > 64) throw new Refusal('remark is longer than 64 bytes');
    if (side === 1 && T_PLUS_ONE.has(header.trdMarket) && qty % 100 !== 0) throw new Refusal('the quantity must be a whole number of lots (100 shares)');
    if (side === 1 && dec(price ?? market).times(qty).gt(this.#power(acc))) throw new Refusal('Insufficient buying power');
    if (side === 2 && qty > this.#canSell(acc, key(secMarket, code), header.trdMarket)) throw new Refusal('Insufficient sellable quantity');
    const o = this.#newOrder({ accID: acc.spec.accID, trdMarket: header.trdMarket, code, secMarket, side, orderType, qty, price, remark });
    if (this.#fillMode === 'immediate') this.#cross(o, market);
    return { header, orderID: o.orderID, orderIDEx: `FAKE${o.orderID}` };
  }

  /** In `immediate` mode an exchange fills a market order, and a limit at or through the market, at once at the market's price. */
  #cross(o: Order, market: string): void {
    if (!OPEN.has(o.status)) return;
    const crosses = o.orderType === 2 || (o.price !== undefined && (o.side === 1 ? dec(o.price).gte(market) : dec(o.price).lte(market)));
    if (crosses) this.#fill(o, o.qty - o.fillQty, market);
  }

  #newOrder(p: { accID: string; trdMarket: number; code: string; secMarket: number; side: 1 | 2; orderType: number; qty: number; price: string | undefined; remark: string | undefined }): Order {
    const t = this.#tick();
    const o: Order = { ...p, orderID: String(4_611_686_018_427_387_904n + ++this.#counters.order), createMs: t, updateMs: t, status: 5, fillQty: 0, fillNotional: dec(0), lastErrMsg: '' };
    this.#orders.push(o);
    this.#pushOrder(o);
    return o;
  }

  #modify(client: Client, c2s: Record<string, unknown>): Record<string, unknown> {
    const { acc, header } = this.#account(c2s);
    this.#checkPacket(client, c2s);
    if (acc.spec.trdEnv === 1 && !this.#unlocked) throw new Refusal('Please unlock trade first');
    if (c2s['modifyOrderOp'] !== 2) throw new Refusal(`the fake only cancels (op 2), not op ${String(c2s['modifyOrderOp'])}`);
    const o = this.#orders.find((x) => x.orderID === String(c2s['orderID']) && x.accID === acc.spec.accID);
    if (!o) throw new Refusal(`order ${String(c2s['orderID'])} does not exist`);
    if (!CANCELLABLE.has(o.status)) throw new Refusal(`the order cannot be cancelled in status ${o.status}`);
    if (this.#slowCancel) this.#setStatus(o, o.fillQty > 0 ? 12 : 13);
    else this.#setStatus(o, o.fillQty > 0 ? 14 : 15);
    return { header, orderID: o.orderID, orderIDEx: `FAKE${o.orderID}` };
  }

  #setStatus(o: Order, status: number, message = ''): void {
    o.status = status;
    o.updateMs = this.#tick();
    if (message) o.lastErrMsg = message;
    this.#pushOrder(o);
  }

  #fill(o: Order, qty: number, price: string): void {
    if (!OPEN.has(o.status)) throw new Refusal(`order ${o.orderID} is not open (status ${o.status})`);
    const q = Math.min(qty, o.qty - o.fillQty);
    if (q <= 0) throw new Refusal('nothing left to fill');
    const t = this.#tick();
    o.fillQty += q;
    o.fillNotional = o.fillNotional.plus(dec(price).times(q));
    o.updateMs = t;
    if (o.fillQty === o.qty) o.status = 11;
    else if (o.status === 5) o.status = 10;
    const acc = this.#accounts.get(o.accID)!;
    this.#book(acc, key(o.secMarket, o.code), o.side, q, dec(price), o.trdMarket);
    const f: FillRec = { fillID: String(9_223_372_036_854_775_000n + ++this.#counters.fill), orderID: o.orderID, accID: o.accID, trdMarket: o.trdMarket, code: o.code, secMarket: o.secMarket, side: o.side, qty: q, price, atMs: t };
    this.#fills.push(f);
    // OpenD pushes the fill and the order's new state (real env only)
    this.#pushFill(f);
    this.#pushOrder(o);
  }

  #book(acc: Account, k: string, side: 1 | 2, qty: number, price: Dec, trdMarket: number): void {
    const today = this.#day(trdMarket);
    const p = acc.positions.get(k) ?? { qty: 0, cost: dec(0), boughtDay: today, boughtToday: 0 };
    if (p.boughtDay !== today) {
      p.boughtDay = today;
      p.boughtToday = 0;
    }
    const value = price.times(qty).toDecimalPlaces(2, Dec.ROUND_HALF_UP);
    if (side === 1) {
      p.qty += qty;
      p.cost = p.cost.plus(price.times(qty));
      p.boughtToday += qty;
      acc.cash = acc.cash.minus(value);
    } else {
      const avg = p.qty > 0 ? p.cost.div(p.qty) : dec(0);
      p.qty -= qty;
      p.cost = p.qty > 0 ? avg.times(p.qty) : dec(0);
      acc.cash = acc.cash.plus(value);
    }
    if (p.qty === 0) acc.positions.delete(k);
    else acc.positions.set(k, p);
  }

  #day(trdMarket: number): string {
    return DateTime.fromMillis(this.#nowMs, { zone: ZONES[trdMarket] ?? 'UTC' }).toISODate()!;
  }

  #held_(acc: Account): Dec {
    let held = dec(0);
    for (const o of this.#orders) {
      if (o.accID !== acc.spec.accID || !OPEN.has(o.status) || o.side !== 1) continue;
      held = held.plus(dec(o.price ?? this.#prices.get(key(o.secMarket, o.code)) ?? '0').times(o.qty - o.fillQty));
    }
    return held;
  }

  #power(acc: Account): Dec {
    return Dec.max(0, acc.cash.minus(this.#held_(acc)));
  }

  #canSell(acc: Account, k: string, trdMarket: number): number {
    const p = acc.positions.get(k);
    if (!p) return 0;
    const today = T_PLUS_ONE.has(trdMarket) && p.boughtDay === this.#day(trdMarket) ? p.boughtToday : 0;
    let selling = 0;
    for (const o of this.#orders) if (o.accID === acc.spec.accID && OPEN.has(o.status) && o.side === 2 && key(o.secMarket, o.code) === k) selling += o.qty - o.fillQty;
    return Math.max(0, p.qty - today - selling);
  }

  // -------------------------------------------------------------------------------------
  // Bodies

  #times(ms: number, trdMarket: number): { text: string; ts: number } {
    return { text: DateTime.fromMillis(ms, { zone: ZONES[trdMarket] ?? 'UTC' }).toFormat('yyyy-MM-dd HH:mm:ss.SSS'), ts: ms / 1000 };
  }

  #orderJson(o: Order): Record<string, unknown> {
    const c = this.#times(o.createMs, o.trdMarket);
    const u = this.#times(o.updateMs, o.trdMarket);
    return {
      trdSide: o.side,
      orderType: o.orderType,
      orderStatus: o.status,
      orderID: o.orderID,
      orderIDEx: `FAKE${o.orderID}`,
      code: o.code,
      name: o.code,
      qty: o.qty,
      ...(o.price !== undefined ? { price: Number(o.price) } : {}),
      createTime: c.text,
      updateTime: u.text,
      fillQty: o.fillQty,
      fillAvgPrice: o.fillQty > 0 ? Number(o.fillNotional.div(o.fillQty).toString()) : 0,
      lastErrMsg: o.lastErrMsg,
      secMarket: o.secMarket,
      createTimestamp: c.ts,
      updateTimestamp: u.ts,
      ...(o.remark !== undefined ? { remark: o.remark } : {}),
      timeInForce: 0,
      trdMarket: o.trdMarket,
    };
  }

  #fillJson(f: FillRec): Record<string, unknown> {
    const c = this.#times(f.atMs, f.trdMarket);
    return { trdSide: f.side, fillID: f.fillID, fillIDEx: `FAKEFILL${f.fillID}`, orderID: f.orderID, orderIDEx: `FAKE${f.orderID}`, code: f.code, name: f.code, qty: f.qty, price: Number(f.price), createTime: c.text, secMarket: f.secMarket, createTimestamp: c.ts, status: 0, trdMarket: f.trdMarket };
  }

  #funds(acc: Account, trdMarket: number): Record<string, unknown> {
    let marketVal = dec(0);
    for (const [k, p] of acc.positions) marketVal = marketVal.plus(dec(this.#prices.get(k) ?? p.cost.div(p.qty)).times(p.qty));
    const power = Number(this.#power(acc).toString());
    const cash = Number(acc.cash.toString());
    const frozen = Number(this.#held_(acc).toString());
    return { power, totalAssets: Number(acc.cash.plus(marketVal).toString()), cash, marketVal: Number(marketVal.toString()), frozenCash: frozen, debtCash: 0, avlWithdrawalCash: cash, netCashPower: power, currency: trdMarket === 1 ? 1 : trdMarket === 2 ? 2 : 3 };
  }

  #positionJson(acc: Account, k: string, p: Position, i: number, trdMarket: number): Record<string, unknown> {
    const [sm, code] = k.split(':') as [string, string];
    const price = dec(this.#prices.get(k) ?? p.cost.div(p.qty));
    const val = price.times(p.qty);
    return {
      positionID: String(i + 1),
      positionSide: 0,
      code,
      name: code,
      qty: p.qty,
      canSellQty: this.#canSell(acc, k, trdMarket),
      price: Number(price.toString()),
      costPrice: Number(p.cost.div(p.qty).toString()),
      val: Number(val.toString()),
      plVal: Number(val.minus(p.cost).toString()),
      secMarket: Number(sm),
      trdMarket,
    };
  }

  // -------------------------------------------------------------------------------------
  // Pushes: real env only, to the connections subscribed to the account

  #push(accID: string, name: 'Trd_UpdateOrder' | 'Trd_UpdateOrderFill', cmd: number, s2c: Record<string, unknown>): void {
    const acc = this.#accounts.get(accID)!;
    if (acc.spec.trdEnv === 0) return;
    const frame = this.#reply(cmd, 0n, futuProtos().encodeResponse(name, { retType: 0, s2c }));
    const times = this.#dupPushes > 0 ? (this.#dupPushes--, 2) : 1;
    for (const c of this.#clients) {
      if (!c.initialized || !c.subs.has(accID)) continue;
      for (let i = 0; i < times; i++) {
        c.ws.send(frame);
        this.#pushesSent++;
      }
    }
  }

  #pushOrder(o: Order): void {
    const acc = this.#accounts.get(o.accID)!;
    this.#push(o.accID, 'Trd_UpdateOrder', 2208, { header: { trdEnv: acc.spec.trdEnv, accID: o.accID, trdMarket: o.trdMarket }, order: this.#orderJson(o) });
  }

  #pushFill(f: FillRec): void {
    const acc = this.#accounts.get(f.accID)!;
    this.#push(f.accID, 'Trd_UpdateOrderFill', 2218, { header: { trdEnv: acc.spec.trdEnv, accID: f.accID, trdMarket: f.trdMarket }, orderFill: this.#fillJson(f) });
  }

  // -------------------------------------------------------------------------------------
  // Quotes

  #basicQot(k: string): Record<string, unknown> {
    const [sm, code] = k.split(':') as [string, string];
    const q = this.#quotes.get(k)!;
    const t = DateTime.fromMillis(q.atMs, { zone: SEC_ZONES[Number(sm)] ?? 'UTC' });
    const p = Number(q.price);
    return {
      security: { market: SEC_TO_QOT[Number(sm)] ?? 0, code },
      name: code,
      isSuspended: false,
      listTime: '2001-08-27',
      priceSpread: 0.01,
      updateTime: t.toFormat('yyyy-MM-dd HH:mm:ss'),
      highPrice: p,
      openPrice: p,
      lowPrice: p,
      curPrice: p,
      lastClosePrice: p,
      volume: String(q.volume),
      turnover: p * q.volume,
      turnoverRate: 0,
      amplitude: 0,
      ...(this.#quoteTimestamps ? { updateTimestamp: q.atMs / 1000 } : {}),
    };
  }

  /** One Qot_UpdateBasicQot to every connection registered for the quote (sent twice while `dup-pushes` lasts). */
  #pushQuote(k: string): void {
    const to = [...this.#clients].filter((c) => c.initialized && c.qotPush && c.qotSubs.has(k));
    if (to.length === 0) return;
    const frame = this.#reply(3005, 0n, futuProtos().encodeResponse('Qot_UpdateBasicQot', { retType: 0, s2c: { basicQotList: [this.#basicQot(k)] } }));
    const times = this.#dupPushes > 0 ? (this.#dupPushes--, 2) : 1;
    for (const c of to) {
      for (let i = 0; i < times; i++) {
        c.ws.send(frame);
        this.#quotePushesSent++;
      }
    }
  }

  #tick(): number {
    return this.#nowMs++;
  }

  // -------------------------------------------------------------------------------------
  // Control API

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const text = await new Promise<string>((resolve, reject) => {
      let t = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (t += d));
      req.on('end', () => resolve(t));
      req.on('error', reject);
    });
    const reply = (status: number, json: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    if (!url.pathname.startsWith('/__control/')) return reply(404, { error: 'OpenD speaks WebSocket here; the control API is under /__control/' });
    try {
      const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
      reply(200, this.#control(req.method ?? 'GET', url.pathname.slice('/__control/'.length), body) ?? { ok: true });
    } catch (e) {
      reply(e instanceof Refusal ? 409 : 400, { error: (e as Error).message });
    }
  }

  #orderOf(b: Record<string, unknown>): Order {
    const o = typeof b['remark'] === 'string' ? this.#orders.find((x) => x.remark === b['remark']) : this.#orders.find((x) => x.orderID === String(b['order_id']));
    if (!o) throw new Refusal('order not found');
    return o;
  }

  #control(method: string, what: string, b: Record<string, unknown>): unknown {
    switch (`${method} ${what}`) {
      case 'GET state':
        return this.#state();
      /** { symbol, price }: what market orders fill at and positions are valued at. */
      case 'POST price':
        this.setPrice(String(b['symbol']), String(b['price']));
        return undefined;
      /** { at_ms }: set the clock (a new day ends T+1 holds). */
      case 'POST clock':
        this.#nowMs = Number(b['at_ms']);
        return undefined;
      /** { fill?: 'immediate' | 'manual', slow_cancel?: boolean, quote_timestamps?: boolean }. */
      case 'POST mode':
        if (b['fill'] === 'manual' || b['fill'] === 'immediate') this.#fillMode = b['fill'];
        if (typeof b['slow_cancel'] === 'boolean') this.#slowCancel = b['slow_cancel'];
        if (typeof b['quote_timestamps'] === 'boolean') this.#quoteTimestamps = b['quote_timestamps'];
        return undefined;
      /** { websocket_key?, trade_password? }. */
      case 'POST credentials':
        if (typeof b['websocket_key'] === 'string') this.#websocketKey = b['websocket_key'];
        if (typeof b['trade_password'] === 'string') this.#tradePassword = b['trade_password'];
        return undefined;
      /** { remark | order_id, qty?, price? }: execute (part of) an open order. */
      case 'POST fill': {
        const o = this.#orderOf(b);
        this.#fill(o, Number(b['qty'] ?? o.qty - o.fillQty), String(b['price'] ?? o.price ?? this.#prices.get(key(o.secMarket, o.code))));
        return this.#orderJson(o);
      }
      /** { remark | order_id }: the broker cancels the order (or confirms a slow cancel). */
      case 'POST cancel': {
        const o = this.#orderOf(b);
        if (!OPEN.has(o.status)) throw new Refusal(`order ${o.orderID} is not open (status ${o.status})`);
        this.#setStatus(o, o.fillQty > 0 ? 14 : 15);
        return this.#orderJson(o);
      }
      /** { remark | order_id, message? }: the exchange refuses a working order (status 21, lastErrMsg). */
      case 'POST reject': {
        const o = this.#orderOf(b);
        if (!OPEN.has(o.status)) throw new Refusal(`order ${o.orderID} is not open (status ${o.status})`);
        this.#setStatus(o, 21, String(b['message'] ?? 'rejected by the exchange'));
        return this.#orderJson(o);
      }
      /** { cmd, count?, fault }: the next `count` (default 1) requests of `cmd` get `fault`. */
      case 'POST fault':
        this.#faults.push({ cmd: Number(b['cmd']), remaining: Number(b['count'] ?? 1), fault: b['fault'] as FakeFault });
        return undefined;
      case 'DELETE faults':
        this.#faults.length = 0;
        return undefined;
      /** Send the held replies now (to connections still open): late replies. */
      case 'POST release': {
        const held = this.#held.splice(0);
        for (const h of held) if (this.#clients.has(h.client)) h.client.ws.send(h.frame);
        return { released: held.length };
      }
      /** { count }: the next `count` pushes are each sent twice. */
      case 'POST dup-pushes':
        this.#dupPushes = Number(b['count'] ?? 1);
        return undefined;
      /** Drop every connection (no close handshake), keep the state; trading is locked again (as after an OpenD restart). */
      case 'POST restart':
        for (const c of this.#clients) c.ws.terminate();
        this.#unlocked = false;
        return undefined;
      /** { on }: refuse new WebSocket connections (503), as an OpenD that is down would. */
      case 'POST refuse':
        this.#refuse = b['on'] === true;
        return undefined;
      /** { hex }: send these bytes as a binary frame to every open connection. */
      case 'POST raw':
        for (const c of this.#clients) c.ws.send(Buffer.from(String(b['hex']), 'hex'));
        return undefined;
      /** { cmd, hex? }: a push (section 0) of `cmd` with this body, to every initialized connection. */
      case 'POST push':
        for (const c of this.#clients) if (c.initialized) c.ws.send(this.#reply(Number(b['cmd']), 0n, Buffer.from(String(b['hex'] ?? ''), 'hex')));
        return undefined;
      /** { acc_id, symbol, side, qty, price?, remark? }: an order placed elsewhere (Futu's app), filled at once. */
      case 'POST external-order': {
        const acc = this.#accounts.get(String(b['acc_id']));
        if (!acc) throw new Refusal('unknown account');
        const s = security(String(b['symbol']));
        if (b['price'] !== undefined) this.setPrice(String(b['symbol']), String(b['price']));
        const price = this.#prices.get(key(s.secMarket, s.code));
        if (price === undefined) throw new Refusal('no price for the symbol');
        const trdMarket = acc.spec.markets.find((m) => fitsMarket(m, s.secMarket)) ?? acc.spec.markets[0]!;
        const o = this.#newOrder({ accID: acc.spec.accID, trdMarket, code: s.code, secMarket: s.secMarket, side: b['side'] === 'sell' ? 2 : 1, orderType: 2, qty: Number(b['qty']), price: undefined, remark: typeof b['remark'] === 'string' ? b['remark'] : undefined });
        this.#fill(o, o.qty, price);
        return this.#orderJson(o);
      }
      /** { acc_id, symbol, qty, price?, today? }: shares appear without an order (bought on an earlier day unless `today`). */
      case 'POST position': {
        const acc = this.#accounts.get(String(b['acc_id']));
        if (!acc) throw new Refusal('unknown account');
        const s = security(String(b['symbol']));
        const k = key(s.secMarket, s.code);
        const trdMarket = acc.spec.markets.find((m) => fitsMarket(m, s.secMarket)) ?? acc.spec.markets[0]!;
        const cash = acc.cash;
        this.#book(acc, k, 1, Number(b['qty']), dec(String(b['price'] ?? this.#prices.get(k) ?? '1')), trdMarket);
        acc.cash = cash;
        if (b['today'] !== true) acc.positions.get(k)!.boughtToday -= Number(b['qty']);
        return undefined;
      }
      /** { url }: follow a replay server's trades and clock (../fake-alpaca/quotes.ts). */
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
      unlocked: this.#unlocked,
      connections: { total: this.#connections, open: this.#clients.size, initialized: [...this.#clients].filter((c) => c.initialized).length, subscribed: [...this.#clients].filter((c) => c.subs.size > 0).length },
      /** Per open connection registered for quote pushes: the symbols it subscribed to. */
      quote_subscriptions: [...this.#clients].filter((c) => c.qotPush).map((c) => [...c.qotSubs].map((k) => symbolOf(Number(k.split(':')[0]), k.split(':')[1]!)).sort()),
      pushes_sent: this.#pushesSent,
      quote_pushes_sent: this.#quotePushesSent,
      refused: this.#refused,
      held: this.#held.length,
      accounts: [...this.#accounts.values()].map((a) => ({
        acc_id: a.spec.accID,
        trd_env: a.spec.trdEnv,
        cash: a.cash.toFixed(),
        positions: Object.fromEntries([...a.positions].map(([k, p]) => [symbolOf(Number(k.split(':')[0]), k.split(':')[1]!), { qty: p.qty, can_sell: this.#canSell(a, k, a.spec.markets.find((m) => fitsMarket(m, Number(k.split(':')[0]))) ?? 0) }])),
      })),
      orders: this.#orders.map((o) => ({ order_id: o.orderID, acc_id: o.accID, symbol: symbolOf(o.secMarket, o.code), side: o.side, qty: o.qty, price: o.price, status: o.status, fill_qty: o.fillQty, remark: o.remark })),
      fills: this.#fills.map((f) => ({ fill_id: f.fillID, order_id: f.orderID, qty: f.qty, price: f.price })),
      requests: this.#requests,
    };
  }
}

/**
 * A real local WebSocket server (ws, 127.0.0.1, port 0) speaking the Alpaca market-data v2
 * protocol, for tests: greets with `connected`, checks the auth key/secret (402 `auth failed`
 * otherwise, then closes), refuses a subscribe before auth (401), acknowledges subscriptions,
 * records every client frame, and on demand pushes trades / quotes, sends raw garbage, or
 * drops every connection. For reconnect and heartbeat tests it can also refuse new connections
 * (HTTP 503 on the upgrade), stop answering pings (it answers them itself, `autoPong` off, so a
 * test can play a half-open connection), and change the credentials it accepts.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface AlpacaServerOptions {
  readonly key: string;
  readonly secret: string;
}

/** Counters a test can wait on with `until()`. */
export interface AlpacaServerCounts {
  /** Connections accepted so far (refused ones not counted). */
  readonly accepted: number;
  /** Subscriptions acknowledged so far. */
  readonly subscriptions: number;
  /** Pings received so far. */
  readonly pings: number;
  /** Connections closed so far. */
  readonly closed: number;
}

export interface TradeSpec {
  readonly S: string;
  /** Sent as a JSON number. */
  readonly p: number;
  /** RFC-3339; default a fixed instant. */
  readonly t?: string;
}

interface Client {
  readonly ws: WebSocket;
  authenticated: boolean;
  trades: Set<string>;
  quotes: Set<string>;
}

export class AlpacaTestServer {
  /** Every frame a client sent, parsed when it was JSON. */
  readonly frames: unknown[] = [];
  readonly #wss: WebSocketServer;
  readonly #clients = new Set<Client>();
  #options: AlpacaServerOptions;
  #waiters: (() => void)[] = [];
  #until: { check: () => boolean; resolve: () => void }[] = [];
  #counts = { accepted: 0, subscriptions: 0, pings: 0, closed: 0 };
  /** Refuse new connections (HTTP 503 on the upgrade) while true. */
  refuseConnections = false;
  /** Answer pings with pongs (true), or play a dead peer (false). */
  answerPings = true;

  private constructor(wss: WebSocketServer, options: AlpacaServerOptions) {
    this.#wss = wss;
    this.#options = options;
    wss.on('connection', (ws) => this.#onConnection(ws));
  }

  static async start(options: AlpacaServerOptions): Promise<AlpacaTestServer> {
    let server: AlpacaTestServer | undefined;
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      autoPong: false,
      verifyClient: (_info, done) => done(!server?.refuseConnections, 503, 'Service Unavailable'),
    });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return (server = new AlpacaTestServer(wss, options));
  }

  get counts(): AlpacaServerCounts {
    return { ...this.#counts };
  }

  /** Resolves once `check(counts)` holds; re-checked on every connection, frame, ping and close. */
  until(check: (counts: AlpacaServerCounts) => boolean): Promise<void> {
    const c = () => check(this.counts);
    if (c()) return Promise.resolve();
    return new Promise((resolve) => this.#until.push({ check: c, resolve }));
  }

  /** Accept other credentials from now on (a rotated key). */
  setCredentials(options: AlpacaServerOptions): void {
    this.#options = options;
  }

  /** Send events (any shape, e.g. a replay_clock announcement) as one array frame to every connection. */
  sendEvents(events: readonly unknown[]): void {
    for (const c of this.#clients) c.ws.send(JSON.stringify(events));
  }

  get url(): string {
    const { port } = this.#wss.address() as AddressInfo;
    return `ws://127.0.0.1:${port}/v2/test`;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#clients.size;
  }

  /** Authenticated clients subscribed to something. */
  get subscribers(): number {
    return [...this.#clients].filter((c) => c.authenticated && (c.trades.size > 0 || c.quotes.size > 0)).length;
  }

  /** Resolves once at least one client has subscribed. */
  subscribed(): Promise<void> {
    if (this.subscribers > 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Push trades, as one array frame, to every client subscribed to their symbols. */
  pushTrades(trades: readonly TradeSpec[]): void {
    for (const c of this.#clients) {
      const mine = trades.filter((t) => c.authenticated && (c.trades.has(t.S) || c.trades.has('*')));
      if (mine.length === 0) continue;
      c.ws.send(JSON.stringify(mine.map((t, i) => ({ T: 't', i: i + 1, S: t.S, x: 'V', p: t.p, s: 100, t: t.t ?? '2025-10-09T14:00:00.123456789Z', c: ['@'], z: 'C' }))));
    }
  }

  /** Push bid/ask quotes to every client subscribed to their symbols' quotes. */
  pushQuotes(quotes: readonly { S: string; bp: number; ap: number; t?: string }[]): void {
    for (const c of this.#clients) {
      const mine = quotes.filter((q) => c.authenticated && (c.quotes.has(q.S) || c.quotes.has('*')));
      if (mine.length === 0) continue;
      c.ws.send(JSON.stringify(mine.map((q) => ({ T: 'q', S: q.S, bx: 'V', bp: q.bp, bs: 1, ax: 'V', ap: q.ap, as: 1, t: q.t ?? '2025-10-09T14:00:00Z', c: ['R'], z: 'C' }))));
    }
  }

  /** Send a raw text frame (garbage, half a message, a wrong shape) to every connection. */
  sendRaw(text: string): void {
    for (const c of this.#clients) c.ws.send(text);
  }

  /** Drop every connection without a closing handshake. */
  dropConnections(): void {
    for (const c of this.#clients) c.ws.terminate();
  }

  async close(): Promise<void> {
    for (const c of this.#clients) c.ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #changed(): void {
    const pending = this.#until;
    this.#until = [];
    for (const u of pending) {
      if (u.check()) u.resolve();
      else this.#until.push(u);
    }
  }

  #onConnection(ws: WebSocket): void {
    const client: Client = { ws, authenticated: false, trades: new Set(), quotes: new Set() };
    this.#clients.add(client);
    this.#counts.accepted++;
    ws.on('close', () => {
      this.#clients.delete(client);
      this.#counts.closed++;
      this.#changed();
    });
    ws.on('message', (data) => {
      this.#onMessage(client, data.toString());
      this.#changed();
    });
    ws.on('ping', (data) => {
      this.#counts.pings++;
      if (this.answerPings) ws.pong(data);
      this.#changed();
    });
    ws.send(JSON.stringify([{ T: 'success', msg: 'connected' }]));
    this.#changed();
  }

  #onMessage(c: Client, text: string): void {
    let msg: { action?: unknown; key?: unknown; secret?: unknown; trades?: unknown; quotes?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
      this.frames.push(msg);
    } catch {
      this.frames.push(text);
      c.ws.send(JSON.stringify([{ T: 'error', code: 400, msg: 'invalid syntax' }]));
      return;
    }
    if (msg.action === 'auth') {
      if (c.authenticated) {
        c.ws.send(JSON.stringify([{ T: 'error', code: 403, msg: 'already authenticated' }]));
      } else if (msg.key === this.#options.key && msg.secret === this.#options.secret) {
        c.authenticated = true;
        c.ws.send(JSON.stringify([{ T: 'success', msg: 'authenticated' }]));
      } else {
        c.ws.send(JSON.stringify([{ T: 'error', code: 402, msg: 'auth failed' }]));
        c.ws.close(1008, 'auth failed');
      }
      return;
    }
    if (msg.action === 'subscribe') {
      if (!c.authenticated) {
        c.ws.send(JSON.stringify([{ T: 'error', code: 401, msg: 'not authenticated' }]));
        return;
      }
      const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
      for (const s of list(msg.trades)) c.trades.add(s);
      for (const s of list(msg.quotes)) c.quotes.add(s);
      c.ws.send(JSON.stringify([{ T: 'subscription', trades: [...c.trades], quotes: [...c.quotes], bars: [] }]));
      this.#counts.subscriptions++;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
      return;
    }
    c.ws.send(JSON.stringify([{ T: 'error', code: 400, msg: 'invalid syntax' }]));
  }
}

/**
 * Shared by the server tests: a real HTTP server on 127.0.0.1:0 fed by a Subject and
 * driven by virtual time, and a real `ws` client that records every frame and lets a
 * test wait for one (a promise on a socket event, never a sleep).
 */
import { Subject } from 'rxjs';
import { WebSocket, type ClientOptions } from 'ws';
import type { FeedEvent } from '../../src/domain/feed.js';
import type { DashboardState } from '../../src/domain/dashboard-state.js';
import type { HealthReport } from '../../src/domain/health.js';
import { startHttpServer, type HttpServerOptions, type RunningHttpServer } from '../../src/server/http-server.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';

export const EPOCH = Date.UTC(2026, 0, 5, 14, 30);
export const TOKEN = 'feed-token-0123456789abcdef';

export const okHealth = (): HealthReport => ({
  mode: 'paper',
  clock: { running: true, lastTickAt: '2026-01-05T14:30:00.000Z' },
  quotes: { fresh: true, source: 'replay', connected: true, lastQuoteAt: '2026-01-05T14:29:59.000Z' },
  broker: { connected: true, name: 'simulated' },
  sessions: { alpha: { lastSessionAt: '2026-01-05T14:30:00.000Z', status: 'completed' } },
});

export const sampleState = (): DashboardState => ({
  time: '2026-01-05T14:30:00.000Z',
  mode: 'paper',
  accounts: [
    {
      signature: 'alpha',
      market: 'us',
      currency: 'USD',
      cash: '9000.00',
      equity: '10120.50',
      positions: [{ symbol: 'AAPL', quantity: 5, cost: '1000.00', lastPrice: '224.10', marketValue: '1120.50' }],
      equityCurve: [
        { time: '2026-01-02T21:00:00.000Z', equity: '10000.00' },
        { time: '2026-01-05T14:30:00.000Z', equity: '10120.50' },
      ],
    },
    // Sub-cent amounts (the ledger is exact): the page shows them rounded half up to the cent.
    { signature: 'beta', market: 'cn', currency: 'CNY', cash: '100000.005', equity: '99999.994', positions: [], equityCurve: [] },
  ],
  orders: [{ time: '2026-01-05T14:30:00.000Z', signature: 'alpha', clientOrderId: 'alpha-1', symbol: 'AAPL', side: 'buy', quantity: 5, status: 'filled', filledQuantity: 5, averagePrice: '200.00' }],
});

export interface Harness {
  readonly server: RunningHttpServer;
  readonly events: Subject<FeedEvent>;
  readonly scheduler: EpochVirtualScheduler;
  readonly feedUrl: string;
}

const running: RunningHttpServer[] = [];
const loose: FeedClient[] = [];

export async function startHarness(options: Partial<HttpServerOptions> = {}): Promise<Harness> {
  const events = new Subject<FeedEvent>();
  const scheduler = new EpochVirtualScheduler(EPOCH);
  const server = await startHttpServer({ events, scheduler, health: okHealth, state: sampleState, heartbeatMs: 1_000, ...options });
  running.push(server);
  return { server, events, scheduler, feedUrl: `${server.url.replace('http', 'ws')}/feed` };
}

/** For afterEach: close every client and server the test opened. */
export async function closeAll(): Promise<void> {
  for (const c of loose.splice(0)) c.ws.terminate();
  for (const server of running.splice(0)) await server.close();
}

export class FeedClient {
  readonly frames: FeedEvent[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];
  #cursor = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as FeedEvent);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('close', () => {
      for (const w of this.#waiters.splice(0)) w();
    });
    loose.push(this);
  }

  static connect(url: string, options: ClientOptions = {}): Promise<FeedClient> {
    const ws = new WebSocket(url, options);
    const client = new FeedClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** The next frame (after the ones already taken) that matches; earlier non-matching ones are skipped. */
  async next(match: (e: FeedEvent) => boolean = () => true): Promise<FeedEvent> {
    for (;;) {
      while (this.#cursor < this.frames.length) {
        const e = this.frames[this.#cursor++]!;
        if (match(e)) return e;
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting; frames: ${JSON.stringify(this.frames.map((f) => f.type))}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Frames taken since `from` (a cursor from `mark()`). */
  mark(): number {
    return this.#cursor;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }
}

/** Connect and expect the upgrade to be refused; resolves with the HTTP status. */
export function refusedStatus(url: string, options: ClientOptions = {}): Promise<number> {
  const ws = new WebSocket(url, options);
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    ws.once('error', () => undefined);
  });
}

export const event = (type: FeedEvent['type'], payload: Record<string, unknown>, signature?: string): FeedEvent => ({
  type,
  time: '2026-01-05T14:30:00.000Z',
  ...(signature === undefined ? {} : { signature }),
  payload,
});

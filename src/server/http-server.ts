/**
 * One port for people and tools: node:http serving `/health`, `/api/state`, the
 * dashboard page at `/`, and the WebSocket feed at `/feed` (upgrade). `/metrics`
 * and anything else plug in through `extraRoutes`.
 *
 * Access: `/health` and `/` are open (a probe must not need the token; the page is
 * static and holds no data); `/api/*` follows the feed's rule (loopback, or the
 * token; see auth.ts). Bodies go through `safeJson` like feed frames do. Errors
 * from the caller's `health` / `state` become a bare 500/503 with no message: the
 * message could carry anything, and it goes to `onError` instead.
 *
 * The page's inline script and style are pinned by hash in a Content-Security-Policy
 * computed at startup, so nothing else runs on it and it loads nothing from outside.
 */
import { InputError } from '../domain/errors.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { asyncScheduler, type Observable, type SchedulerLike } from 'rxjs';
import type { FeedEvent } from '../domain/feed.js';
import { authenticate, type AuthVia } from './auth.js';
import { DashboardStateSchema, type DashboardState } from '../domain/dashboard-state.js';
import { EventFeed, type EventFeedOptions, type FeedStats } from './event-feed.js';
import { assessHealth, HealthReportSchema, type HealthReport } from '../domain/health.js';
import { safeJson } from './redact.js';

/** Context for `extraRoutes`: whether the caller passed the /api rule (for routes that need it). */
export interface RouteContext {
  readonly authorized: boolean;
  /** How the caller got in, when it did: loopback without a token, or the token (who sent a control command). */
  readonly via?: AuthVia | undefined;
}

/** Return true when the route took the request (and answers it, now or later). */
export type ExtraRoutes = (req: IncomingMessage, res: ServerResponse, ctx: RouteContext) => boolean;

export interface HttpServerOptions {
  readonly host?: string;
  readonly port?: number;
  readonly events: Observable<FeedEvent>;
  readonly health: () => HealthReport | Promise<HealthReport>;
  /** `query`: the request's search params (`report --serve` picks a past run by `?run=`). */
  readonly state: (query: URLSearchParams) => DashboardState | Promise<DashboardState>;
  readonly token?: string | undefined;
  readonly trustLoopback?: boolean | undefined;
  readonly scheduler?: SchedulerLike | undefined;
  readonly heartbeatMs?: number | undefined;
  readonly heartbeatPayload?: EventFeedOptions['heartbeatPayload'];
  readonly maxBufferedBytes?: number | undefined;
  readonly maxQueuedMessages?: number | undefined;
  readonly onKill?: EventFeedOptions['onKill'];
  readonly onKillReset?: EventFeedOptions['onKillReset'];
  readonly extraRoutes?: ExtraRoutes | undefined;
  /** Told about failures of `health` / `state` (their messages never reach the client). */
  readonly onError?: ((err: unknown, where: 'health' | 'state' | 'route') => void) | undefined;
}

export interface RunningHttpServer {
  /** `http://host:port` (IPv6 hosts in brackets). */
  readonly url: string;
  readonly port: number;
  readonly feed: { stats(): FeedStats };
  /** Close the feed, drop keep-alive connections, stop listening. Idempotent. */
  close(): Promise<void>;
}

const DASHBOARD_FILE = new URL('./dashboard.html', import.meta.url);

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The page and a CSP that allows exactly its inline script(s) and style(s). */
export function loadDashboard(): { readonly html: string; readonly csp: string } {
  const html = readFileSync(DASHBOARD_FILE, 'utf8');
  const hashes = (tag: string) => [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => sha256(m[1] ?? '')).join(' ');
  const csp = [
    "default-src 'none'",
    `script-src ${hashes('script')}`,
    `style-src ${hashes('style')}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

const COMMON_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

function sendJson(res: ServerResponse, status: number, body: unknown, token: string | undefined): void {
  const text = safeJson(body, token);
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token;
  const dashboard = loadDashboard();
  const feed = new EventFeed({
    events: options.events,
    token,
    trustLoopback: options.trustLoopback,
    scheduler: options.scheduler,
    heartbeatMs: options.heartbeatMs,
    heartbeatPayload: options.heartbeatPayload,
    maxBufferedBytes: options.maxBufferedBytes,
    maxQueuedMessages: options.maxQueuedMessages,
    onKill: options.onKill,
    onKillReset: options.onKillReset,
  });
  const report = (err: unknown, where: 'health' | 'state' | 'route') => options.onError?.(err, where);

  const health = async (res: ServerResponse) => {
    let parsed: HealthReport;
    try {
      parsed = HealthReportSchema.parse(await options.health());
    } catch (err) {
      report(err, 'health');
      sendJson(res, 503, { status: 'degraded', problems: ['health report unavailable'] }, token);
      return;
    }
    const assessed = assessHealth(parsed);
    sendJson(res, assessed.httpStatus, { ...parsed, status: assessed.status, problems: assessed.problems }, token);
  };

  // The server's own wall clock (the feed's scheduler, as heartbeats stamp it) and its feed
  // clients go with every state: the header has them at once, not only after a heartbeat.
  const wallNow = () => new Date((options.scheduler ?? asyncScheduler).now()).toISOString();
  const state = async (res: ServerResponse, query: URLSearchParams) => {
    let parsed: DashboardState;
    try {
      parsed = DashboardStateSchema.parse(await options.state(query));
    } catch (err) {
      report(err, 'state');
      sendJson(res, 500, { error: 'state unavailable' }, token);
      return;
    }
    sendJson(res, 200, { ...parsed, server: { wallTime: wallNow(), feedClients: feed.stats().clients } }, token);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://local');
    const path = url.pathname;
    const builtIn = path === '/' || path === '/health' || path === '/api/state';
    if (builtIn && req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendJson(res, 405, { error: 'method not allowed' }, token);
      return;
    }
    const auth = authenticate(req, { token, trustLoopback: options.trustLoopback });
    if (path === '/health') return void health(res);
    if (path === '/') {
      res.writeHead(200, {
        ...COMMON_HEADERS,
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': Buffer.byteLength(dashboard.html),
        'Content-Security-Policy': dashboard.csp,
        'Referrer-Policy': 'no-referrer',
      });
      res.end(dashboard.html);
      return;
    }
    if (path.startsWith('/api/') && !auth.ok) {
      if (auth.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
      sendJson(res, auth.status, { error: auth.reason }, token);
      return;
    }
    if (path === '/api/state') return void state(res, url.searchParams);
    if (options.extraRoutes?.(req, res, { authorized: auth.ok, via: auth.ok ? auth.via : undefined })) return;
    sendJson(res, 404, { error: 'not found', path }, token);
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      report(err, 'route');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' }, token);
      else res.destroy();
    }
  });
  server.on('upgrade', (req, socket, head) => {
    if (feed.handleUpgrade(req, socket, head)) return;
    socket.on('error', () => socket.destroy());
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // The feed (its heartbeat timer, its subscription) exists already: nothing may outlive a failed start.
    await feed.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new InputError(`server.port: ${host}:${options.port} is in use by another process; pick another port (0 = any free one)`);
    if (code === 'EACCES') throw new InputError(`server.port: no permission to listen on ${host}:${options.port}; use a port above 1023`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new InputError(`server.host: cannot listen on ${host}: ${(err as Error).message}`);
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    feed: { stats: () => feed.stats() },
    close: () =>
      (closing ??= (async () => {
        await feed.close();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await stopped;
      })()),
  };
}

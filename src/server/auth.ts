/**
 * Who may read the feed and the /api routes: loopback callers without a token,
 * anyone else with the token (`Authorization: Bearer <token>` or `?token=`).
 *
 * Loopback trust is narrowed against browsers, which can be steered at 127.0.0.1
 * by any web page: a tokenless loopback request must name a loopback host in
 * `Host` (defeats DNS rebinding) and, if it carries an `Origin`, come from that
 * same host (defeats cross-site WebSocket hijacking; browsers do not apply CORS to
 * WebSockets). A reverse proxy on the same host makes every caller look local:
 * run with `trustLoopback: false` behind one.
 *
 * A presented token is always checked, even from loopback: a wrong token is an
 * error, never a silent fall-back to loopback trust.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type AuthVia = 'token' | 'loopback';

export type AuthResult =
  | { readonly ok: true; readonly via: AuthVia }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

export interface AuthPolicy {
  /** The feed token's value (never logged, never echoed). Absent: only trusted loopback callers get in. */
  readonly token?: string | undefined;
  /** Let loopback callers in without a token. Default true; tests turn it off to exercise token auth on 127.0.0.1. */
  readonly trustLoopback?: boolean | undefined;
}

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopbackAddress(address: string | undefined): boolean {
  return address !== undefined && LOOPBACK_ADDRESSES.has(address);
}

/** The host name of a `Host` header value or URL host, without the port. */
function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** Compare in constant time; hashing first hides the length too. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The token a request presents, from `Authorization: Bearer` first, then `?token=`. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m?.[1] !== undefined) return m[1];
  }
  const q = new URL(req.url ?? '/', 'http://local').searchParams.get('token');
  return q === null || q === '' ? undefined : q;
}

function sameLocalOrigin(req: IncomingMessage): boolean {
  const host = req.headers.host;
  if (host === undefined || !LOOPBACK_HOSTS.has(hostName(host.toLowerCase()))) return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser, or a same-origin GET
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

export function authenticate(req: IncomingMessage, policy: AuthPolicy): AuthResult {
  const presented = presentedToken(req);
  if (presented !== undefined) {
    if (policy.token !== undefined && policy.token !== '' && tokenMatches(presented, policy.token)) return { ok: true, via: 'token' };
    return { ok: false, status: 401, reason: 'invalid token' };
  }
  if ((policy.trustLoopback ?? true) && isLoopbackAddress(req.socket.remoteAddress)) {
    if (sameLocalOrigin(req)) return { ok: true, via: 'loopback' };
    return { ok: false, status: 403, reason: 'loopback request from a foreign host or origin needs the token' };
  }
  return {
    ok: false,
    status: 401,
    reason: policy.token === undefined || policy.token === '' ? 'no token is configured: only loopback clients are allowed' : 'token required',
  };
}

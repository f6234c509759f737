/**
 * The HTTP side the robot channels and the generic webhook share: one POST with `fetch`,
 * timed out on the injected scheduler, mapped to ChannelError:
 *
 *   no connection, reset, DNS      network   retryable
 *   no answer within timeoutMs     timeout   retryable
 *   aborted by the caller          aborted   not retryable (the dispatcher is closing)
 *   408, 425, 429, 5xx             http      retryable (429/503 honour Retry-After)
 *   any other non-2xx              http      not retryable (a wrong URL or token stays wrong)
 *
 * and the parsing of the webhook URLs people copy from the robots' settings pages: the
 * token is taken out of it (query parameter or last path segment) and kept apart, so the
 * request URL is rebuilt from a base URL (the real endpoint, or a test server) and the token.
 */
import { ChannelError, clip, describeError, redact, timeoutSignal, type AlertChannel, type ChannelDeps, type Notice } from './channel.js';

/** Exactly what goes on the wire; what `buildRequest` returns and tests compare. */
export interface HttpRequestSpec {
  readonly method: 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
}

const RETRY_STATUS = new Set([408, 425, 429]);
/** A Retry-After beyond this is not waited for (the dispatcher's back-off caps it anyway). */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** POST `req`; a 2xx answer's status and text, anything else throws ChannelError. */
export async function post(
  channel: string,
  req: HttpRequestSpec,
  deps: ChannelDeps,
  secrets: readonly string[],
  signal?: AbortSignal,
): Promise<HttpAnswer> {
  const timed = timeoutSignal(deps.scheduler, deps.timeoutMs, signal);
  try {
    let response: Response;
    let text: string;
    try {
      response = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: timed.signal });
      text = await response.text();
    } catch (err) {
      if (timed.timedOut()) throw new ChannelError('timeout', `${channel}: no answer within ${deps.timeoutMs} ms`, true);
      if (timed.signal.aborted) throw new ChannelError('aborted', `${channel}: request aborted (closing)`, false);
      throw new ChannelError('network', `${channel}: request failed: ${describeError(err, secrets)}`, true);
    }
    if (response.status < 200 || response.status > 299) {
      const retryable = response.status >= 500 || RETRY_STATUS.has(response.status);
      const retryAfterMs = retryAfter(response.headers.get('retry-after'), deps.now());
      const snippet = clip(redact(text, secrets).replace(/\s+/g, ' ').trim(), 200);
      throw new ChannelError(
        'http',
        `${channel}: HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`,
        retryable,
        retryAfterMs === undefined ? { status: response.status } : { status: response.status, retryAfterMs },
      );
    }
    return { status: response.status, text };
  } finally {
    timed.done();
  }
}

/** Retry-After as ms from now: delta seconds or an HTTP date. */
export function retryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  let ms: number | undefined;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (!Number.isNaN(at)) ms = Math.max(0, at - nowMs);
  }
  return ms === undefined ? undefined : Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** The answer's JSON object, or an `answer` ChannelError (a proxy's HTML page, say). */
export function jsonAnswer(channel: string, answer: HttpAnswer, secrets: readonly string[]): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(answer.text);
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const snippet = clip(redact(answer.text, secrets).replace(/\s+/g, ' ').trim(), 120);
    throw new ChannelError('answer', `${channel}: HTTP ${answer.status} but the answer is not a JSON object: ${snippet || '(empty)'}`, false, {
      status: answer.status,
    });
  }
  return value as Record<string, unknown>;
}

/** A server's error text, safe to show. */
export const serverText = (value: unknown, secrets: readonly string[]): string =>
  typeof value === 'string' ? clip(redact(value, secrets).replace(/\s+/g, ' ').trim(), 200) : '';

// ---------------------------------------------------------------------------
// Webhook URLs

export interface WebhookTarget {
  /** Scheme, host and any path prefix, without a trailing slash: `https://oapi.dingtalk.com`. */
  readonly baseUrl: string;
  /** The robot's key / access token: a secret. */
  readonly token: string;
}

/** A bare key or token: letters, digits, `-`, `_` (UUIDs, hex). */
const BARE_TOKEN = /^[A-Za-z0-9_-]{8,}$/;

/**
 * Read a webhook URL as copied from the robot's page, or a bare token (then `defaultBase`).
 * `path` is the endpoint's path (`/robot/send`); the token is the query parameter `param`,
 * or, without `param`, the path segment after `path` (Feishu's `/open-apis/bot/v2/hook/<token>`).
 * `undefined` when it is neither; the caller says so without echoing the value.
 */
export function parseWebhookTarget(
  value: string,
  opts: { readonly path: string; readonly param?: string; readonly defaultBase: string },
): WebhookTarget | undefined {
  const v = value.trim();
  if (BARE_TOKEN.test(v)) return { baseUrl: opts.defaultBase, token: v };
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const path = url.pathname.replace(/\/+$/, '');
  if (opts.param !== undefined) {
    if (!path.endsWith(opts.path)) return undefined;
    const token = url.searchParams.get(opts.param);
    if (token === null || token === '') return undefined;
    return { baseUrl: url.origin + path.slice(0, path.length - opts.path.length), token };
  }
  const at = path.lastIndexOf(`${opts.path}/`);
  if (at < 0) return undefined;
  const token = decodeURIComponent(path.slice(at + opts.path.length + 1));
  if (token === '' || token.includes('/')) return undefined;
  return { baseUrl: url.origin + path.slice(0, at), token };
}

/**
 * A robot webhook that answers `{"errcode": 0, "errmsg": "ok"}` (WeCom, DingTalk): POST the
 * request, 0 is success, an errcode in `retryCodes` is worth another try, anything else fails.
 */
export function errcodeWebhookChannel(
  type: AlertChannel['type'],
  name: string,
  secrets: readonly string[],
  retryCodes: ReadonlySet<number>,
  request: (notice: Notice, now: number) => HttpRequestSpec,
  deps: ChannelDeps,
): AlertChannel {
  return {
    name,
    type,
    secrets,
    async send(notice, signal) {
      const answer = await post(name, request(notice, deps.now()), deps, secrets, signal);
      const json = jsonAnswer(name, answer, secrets);
      const code = json['errcode'];
      if (code === 0) return;
      if (typeof code !== 'number') throw new ChannelError('answer', `${name}: answer without errcode`, false);
      throw new ChannelError('api', `${name}: errcode ${code} (${serverText(json['errmsg'], secrets)})`, retryCodes.has(code), { code });
    },
  };
}

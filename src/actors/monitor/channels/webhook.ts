/**
 * A generic JSON webhook: the alert as JSON, POSTed to a URL of your own (a pager bridge,
 * n8n, a chat relay, ...).
 *
 *   POST <url>
 *   Content-Type: application/json
 *   Authorization: Bearer <token>                          (when a token is configured)
 *   X-Agent-Trader-Signature: sha256=<hex HMAC-SHA256(secret, body)>   (when a secret is)
 *   {"level":"critical","code":"BROKER_DISCONNECTED","message":"...","signature":"gpt-5",
 *    "sessionId":"s-42","clientOrderId":"gpt-5-7","time":"2026-01-05T14:30:00.000Z"}
 *
 * - `signature`, `sessionId`, `clientOrderId` are present when the alert has them. An alert
 *   standing for repeats adds `"more": 12, "since": "<ISO>"`.
 * - A digest is `{"level": <highest>, "code": "ALERT_DIGEST", "message": <the digest as
 *   text>, "time", "reason": "rate_limit" | "queue_full" | "closing", "total", "omitted",
 *   "alerts": [<each alert as above>]}`.
 * - The receiver checks the signature by recomputing the HMAC over the raw body bytes.
 * - Any 2xx is success; 408/425/429/5xx are retried; other statuses fail at once.
 * - The URL (it may carry a token), the bearer token and the secret are secrets.
 */
import { createHmac } from 'node:crypto';
import { asNotice, type Alert, type AlertChannel, type AlertNotice, type ChannelDeps, type Notice } from './channel.js';
import { render } from './format.js';
import { post, type HttpRequestSpec } from './http.js';

export const SIGNATURE_HEADER = 'X-Agent-Trader-Signature';

export interface WebhookSettings {
  /** Default `webhook`. */
  readonly name?: string;
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Signs the body: `X-Agent-Trader-Signature: sha256=<hex>`. */
  readonly secret?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

function alertJson(n: AlertNotice): Record<string, unknown> {
  const a = n.alert;
  return {
    level: a.level,
    code: a.code,
    message: a.message,
    ...(a.signature !== undefined ? { signature: a.signature } : {}),
    ...(a.sessionId !== undefined ? { sessionId: a.sessionId } : {}),
    ...(a.clientOrderId !== undefined ? { clientOrderId: a.clientOrderId } : {}),
    time: iso(a.tsEvent),
    ...(n.more > 0 ? { more: n.more, ...(n.since !== undefined ? { since: iso(n.since) } : {}) } : {}),
  };
}

/** The JSON document a notice is sent as. */
export function webhookPayload(notice: Notice): Record<string, unknown> {
  if (notice.kind === 'alert') return alertJson(notice);
  const r = render(notice);
  return {
    level: notice.level,
    code: r.code,
    message: r.lines.join('\n'),
    time: iso(notice.tsEvent),
    reason: notice.reason,
    total: notice.total,
    omitted: notice.omitted,
    alerts: notice.items.map(alertJson),
  };
}

/** `sha256=<hex HMAC-SHA256(secret, body)>` */
export const webhookSignature = (body: string, secret: string): string =>
  `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;

export function buildRequest(alert: Alert | Notice, settings: WebhookSettings, _now: number): HttpRequestSpec {
  const body = JSON.stringify(webhookPayload(asNotice(alert)));
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (settings.token !== undefined) headers['Authorization'] = `Bearer ${settings.token}`;
  if (settings.secret !== undefined) headers[SIGNATURE_HEADER] = webhookSignature(body, settings.secret);
  return { method: 'POST', url: settings.url, headers, body };
}

export function createWebhookChannel(settings: WebhookSettings, deps: ChannelDeps): AlertChannel {
  const name = settings.name ?? 'webhook';
  const secrets = [settings.url, ...(settings.token !== undefined ? [settings.token] : []), ...(settings.secret !== undefined ? [settings.secret] : [])];
  return {
    name,
    type: 'webhook',
    secrets,
    async send(notice, signal) {
      await post(name, buildRequest(notice, settings, deps.now()), deps, secrets, signal);
    },
  };
}

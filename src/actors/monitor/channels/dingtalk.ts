/**
 * DingTalk (钉钉) custom group robot: a client of its webhook, with 加签 (signing).
 *
 *   POST https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1767623400000&sign=<sign>
 *   Content-Type: application/json
 *   {"msgtype":"markdown","markdown":{"title":"[agent-trader] CRITICAL X","text":"#### ...\n\n..."}}
 *   {"msgtype":"text","text":{"content":"[agent-trader] CRITICAL X\n..."}}
 *   answer  {"errcode":0,"errmsg":"ok"}
 *
 * Signing (when the robot's security setting is 加签 and a secret is configured), as the
 * DingTalk docs' reference code does it:
 *   timestamp = epoch milliseconds (the injected clock); DingTalk refuses one more than an
 *               hour away from its own clock
 *   sign      = urlencode(base64(HMAC-SHA256(key = secret, message = `${timestamp}\n${secret}`)))
 * The secret (`SEC...`) and the access token are secrets; `sign` is not (it reveals neither).
 *
 * - errcode != 0 is a failure. Retried: -1 (system busy), 130101 and 410100 (sent too fast:
 *   a robot takes 20 messages a minute, then DingTalk refuses it for 10 minutes). Not
 *   retried: 310000 (signature, keyword or IP check failed), 300001 (bad token), 400101
 *   (robot disabled) and the rest. These codes come from DingTalk's error pages and user
 *   reports, not from a spec.
 * - The "custom keyword" security setting: every title starts with `[agent-trader]`, so
 *   `agent-trader` works as the keyword.
 * - Bodies are cut at 18 000 bytes (DingTalk takes about 20 000).
 */
import { createHmac } from 'node:crypto';
import { asNotice, type Alert, type AlertChannel, type ChannelDeps, type Notice } from './channel.js';
import { plainText, render, truncateUtf8 } from './format.js';
import { errcodeWebhookChannel, parseWebhookTarget, type HttpRequestSpec, type WebhookTarget } from './http.js';

export const DINGTALK_BASE_URL = 'https://oapi.dingtalk.com';
const PATH = '/robot/send';

/** errcodes worth a retry: system busy, sent too fast (two codes seen for it). */
export const DINGTALK_RETRY_CODES: ReadonlySet<number> = new Set([-1, 130101, 410100]);

export const DINGTALK_MAX_BYTES = 18_000;

export interface DingtalkSettings {
  /** Default `dingtalk`. */
  readonly name?: string;
  /** The robot's access token (the `access_token` parameter of its webhook URL). */
  readonly accessToken: string;
  /** The 加签 secret (`SEC...`); absent: no signing. */
  readonly secret?: string;
  /** Default DINGTALK_BASE_URL. */
  readonly baseUrl?: string;
  /** Default markdown. */
  readonly format?: 'markdown' | 'text';
}

/** The base URL and access token of a webhook URL as DingTalk shows it, or of a bare token. */
export const parseDingtalkWebhook = (value: string): WebhookTarget | undefined =>
  parseWebhookTarget(value, { path: PATH, param: 'access_token', defaultBase: DINGTALK_BASE_URL });

/** base64(HMAC-SHA256(secret, `${timestamp}\n${secret}`)), not yet URL-encoded. */
export function dingtalkSign(timestampMs: number, secret: string): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
}

export function buildRequest(alert: Alert | Notice, settings: DingtalkSettings, now: number): HttpRequestSpec {
  const r = render(asNotice(alert));
  let url = `${settings.baseUrl ?? DINGTALK_BASE_URL}${PATH}?access_token=${encodeURIComponent(settings.accessToken)}`;
  if (settings.secret !== undefined) {
    const timestamp = Math.floor(now);
    url += `&timestamp=${timestamp}&sign=${encodeURIComponent(dingtalkSign(timestamp, settings.secret))}`;
  }
  const headers = { 'Content-Type': 'application/json' };
  if ((settings.format ?? 'markdown') === 'text') {
    const content = truncateUtf8(plainText(r), DINGTALK_MAX_BYTES);
    return { method: 'POST', url, headers, body: JSON.stringify({ msgtype: 'text', text: { content } }) };
  }
  // A single "\n" is not a line break in DingTalk markdown; a blank line is.
  const text = truncateUtf8([`#### ${r.title}`, ...r.lines].join('\n\n'), DINGTALK_MAX_BYTES);
  return { method: 'POST', url, headers, body: JSON.stringify({ msgtype: 'markdown', markdown: { title: r.title, text } }) };
}

export function createDingtalkChannel(settings: DingtalkSettings, deps: ChannelDeps): AlertChannel {
  const secrets = [settings.accessToken, ...(settings.secret !== undefined ? [settings.secret] : [])];
  return errcodeWebhookChannel('dingtalk', settings.name ?? 'dingtalk', secrets, DINGTALK_RETRY_CODES, (n, now) => buildRequest(n, settings, now), deps);
}

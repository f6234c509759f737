/**
 * WeCom (企业微信) group robot: a client of its webhook.
 *
 *   POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY
 *   Content-Type: application/json
 *   {"msgtype":"markdown","markdown":{"content":"**[agent-trader] ...**\n..."}}
 *   {"msgtype":"text","text":{"content":"[agent-trader] ...\n..."}}
 *   answer  {"errcode":0,"errmsg":"ok"}
 *
 * - The key in the URL is the robot's only credential: it is a secret (never logged).
 * - errcode != 0 is a failure. -1 (system busy), 45009 (api freq out of limit: a robot takes
 *   20 messages a minute) and 45033 (api concurrent out of limit) are worth retrying; others
 *   (93000 invalid webhook URL, 40008 invalid message type, ...) are not.
 * - Markdown content is at most 4096 bytes, text content 2048 (the robot refuses longer):
 *   longer bodies are cut with "… (truncated)".
 * - Markdown colours the level: `warning` (orange-red) for critical and warning, `info`
 *   (green) for info, the only font colours WeCom markdown has besides grey.
 */
import { asNotice, type Alert, type AlertChannel, type ChannelDeps, type Notice } from './channel.js';
import { plainText, render, TITLE_PREFIX, truncateUtf8 } from './format.js';
import { errcodeWebhookChannel, parseWebhookTarget, type HttpRequestSpec, type WebhookTarget } from './http.js';

export const WECOM_BASE_URL = 'https://qyapi.weixin.qq.com';
const PATH = '/cgi-bin/webhook/send';

/** errcodes worth a retry: system busy, frequency limit, concurrency limit. */
export const WECOM_RETRY_CODES: ReadonlySet<number> = new Set([-1, 45009, 45033]);

export const WECOM_MARKDOWN_MAX_BYTES = 4096;
export const WECOM_TEXT_MAX_BYTES = 2048;

export interface WecomSettings {
  /** Default `wecom`. */
  readonly name?: string;
  /** The robot's key (the `key` parameter of its webhook URL). */
  readonly key: string;
  /** Default WECOM_BASE_URL. */
  readonly baseUrl?: string;
  /** Default markdown. */
  readonly format?: 'markdown' | 'text';
}

/** The base URL and key of a webhook URL as WeCom shows it, or of a bare key. */
export const parseWecomWebhook = (value: string): WebhookTarget | undefined =>
  parseWebhookTarget(value, { path: PATH, param: 'key', defaultBase: WECOM_BASE_URL });

export function buildRequest(alert: Alert | Notice, settings: WecomSettings, _now: number): HttpRequestSpec {
  const r = render(asNotice(alert));
  const url = `${settings.baseUrl ?? WECOM_BASE_URL}${PATH}?key=${encodeURIComponent(settings.key)}`;
  const headers = { 'Content-Type': 'application/json' };
  if ((settings.format ?? 'markdown') === 'text') {
    const content = truncateUtf8(plainText(r), WECOM_TEXT_MAX_BYTES);
    return { method: 'POST', url, headers, body: JSON.stringify({ msgtype: 'text', text: { content } }) };
  }
  const colour = r.level === 'info' ? 'info' : 'warning';
  const head = `**${TITLE_PREFIX} <font color="${colour}">${r.level.toUpperCase()}</font> ${r.code}**`;
  const content = truncateUtf8([head, ...r.lines].join('\n'), WECOM_MARKDOWN_MAX_BYTES);
  return { method: 'POST', url, headers, body: JSON.stringify({ msgtype: 'markdown', markdown: { content } }) };
}

export function createWecomChannel(settings: WecomSettings, deps: ChannelDeps): AlertChannel {
  return errcodeWebhookChannel('wecom', settings.name ?? 'wecom', [settings.key], WECOM_RETRY_CODES, (n, now) => buildRequest(n, settings, now), deps);
}

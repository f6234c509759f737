/**
 * Feishu / Lark custom bot (自定义机器人): a client of its webhook, with signature checking.
 *
 *   POST https://open.feishu.cn/open-apis/bot/v2/hook/<token>     (Lark: open.larksuite.com)
 *   Content-Type: application/json
 *   {"timestamp":"1767623400","sign":"<sign>","msg_type":"text","content":{"text":"..."}}
 *   {"timestamp":..,"sign":..,"msg_type":"interactive","card":{"header":{..},"elements":[..]}}
 *   answer  {"code":0,"data":{},"msg":"success"}   (older: {"StatusCode":0,"StatusMessage":"success"})
 *
 * Signing (when the bot's 签名校验 is on and a secret is configured), as Feishu's reference
 * code does it, which differs from DingTalk's:
 *   timestamp = epoch SECONDS as a string (the injected clock); refused when more than an
 *               hour away from Feishu's clock
 *   sign      = base64(HMAC-SHA256(key = `${timestamp}\n${secret}`, message = ""))
 * i.e. the string to sign is the KEY and the message is empty; no URL encoding (it is in the body).
 *
 * - `code` (or the old `StatusCode`) != 0 is a failure. Retried: 11232 (frequency limited:
 *   100 a minute, 5 a second per bot) and 9499 (too many requests). Not retried: 19021
 *   (signature or timestamp wrong), 19024 (keyword check failed) and the rest.
 * - The URL's last path segment is the bot's token: a secret, as is the signing secret.
 * - Bodies are cut at 18 000 bytes (a request is at most 20 KB).
 * - The card is coloured by level: red (critical), orange (warning), blue (info).
 */
import { createHmac } from 'node:crypto';
import { asNotice, ChannelError, type Alert, type AlertChannel, type AlertLevel, type ChannelDeps, type Notice } from './channel.js';
import { plainText, render, truncateUtf8 } from './format.js';
import { jsonAnswer, parseWebhookTarget, post, serverText, type HttpRequestSpec, type WebhookTarget } from './http.js';

export const FEISHU_BASE_URL = 'https://open.feishu.cn';
const PATH = '/open-apis/bot/v2/hook';

/** codes worth a retry: frequency limited, too many requests. */
export const FEISHU_RETRY_CODES: ReadonlySet<number> = new Set([11232, 9499]);

export const FEISHU_MAX_BYTES = 18_000;

const TEMPLATE: Readonly<Record<AlertLevel, string>> = { critical: 'red', warning: 'orange', info: 'blue' };

export interface FeishuSettings {
  /** Default `feishu`. */
  readonly name?: string;
  /** The bot's token (the last path segment of its webhook URL). */
  readonly token: string;
  /** The 签名校验 secret; absent: no signing. */
  readonly secret?: string;
  /** Default FEISHU_BASE_URL (Lark: https://open.larksuite.com). */
  readonly baseUrl?: string;
  /** Default text. */
  readonly format?: 'text' | 'card';
}

/** The base URL and token of a webhook URL as Feishu or Lark shows it, or of a bare token. */
export const parseFeishuWebhook = (value: string): WebhookTarget | undefined =>
  parseWebhookTarget(value, { path: PATH, defaultBase: FEISHU_BASE_URL });

/** base64(HMAC-SHA256(key = `${timestamp}\n${secret}`, message = "")). */
export function feishuSign(timestampSeconds: number, secret: string): string {
  return createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
}

export function buildRequest(alert: Alert | Notice, settings: FeishuSettings, now: number): HttpRequestSpec {
  const r = render(asNotice(alert));
  const url = `${settings.baseUrl ?? FEISHU_BASE_URL}${PATH}/${encodeURIComponent(settings.token)}`;
  const signed: Record<string, string> = {};
  if (settings.secret !== undefined) {
    const timestamp = Math.floor(now / 1000);
    signed['timestamp'] = String(timestamp);
    signed['sign'] = feishuSign(timestamp, settings.secret);
  }
  const headers = { 'Content-Type': 'application/json' };
  if ((settings.format ?? 'text') === 'card') {
    const card = {
      header: { title: { tag: 'plain_text', content: r.title }, template: TEMPLATE[r.level] },
      elements: [{ tag: 'div', text: { tag: 'plain_text', content: truncateUtf8(r.lines.join('\n'), FEISHU_MAX_BYTES) } }],
    };
    return { method: 'POST', url, headers, body: JSON.stringify({ ...signed, msg_type: 'interactive', card }) };
  }
  const text = truncateUtf8(plainText(r), FEISHU_MAX_BYTES);
  return { method: 'POST', url, headers, body: JSON.stringify({ ...signed, msg_type: 'text', content: { text } }) };
}

export function createFeishuChannel(settings: FeishuSettings, deps: ChannelDeps): AlertChannel {
  const name = settings.name ?? 'feishu';
  const secrets = [settings.token, ...(settings.secret !== undefined ? [settings.secret] : [])];
  return {
    name,
    type: 'feishu',
    secrets,
    async send(notice, signal) {
      const answer = await post(name, buildRequest(notice, settings, deps.now()), deps, secrets, signal);
      const json = jsonAnswer(name, answer, secrets);
      const code = 'code' in json ? json['code'] : json['StatusCode'];
      if (code === 0) return;
      if (typeof code !== 'number') throw new ChannelError('answer', `${name}: answer without code`, false);
      const msg = serverText(json['msg'] ?? json['StatusMessage'], secrets);
      throw new ChannelError('api', `${name}: code ${code} (${msg})`, FEISHU_RETRY_CODES.has(code), { code });
    },
  };
}

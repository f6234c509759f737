/**
 * Telegram, as an alert channel: a client of the Bot API's `sendMessage`.
 *
 *   POST https://api.telegram.org/bot<token>/sendMessage
 *   Content-Type: application/json
 *   {"chat_id": 123456789, "text": "...", "disable_web_page_preview": true}
 *   answer  {"ok":true,"result":{"message_id":..,"chat":{..},..}}
 *           {"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}
 *
 * - One message to each chat of `chat_ids` (a user, a group, a channel: the ids the bot may write
 *   to); a chat that fails fails the send (the dispatcher retries it), the others have had theirs.
 * - HTTP 429 / 5xx and `ok: false` with error_code 429 are retried (after `retry_after` when given);
 *   400 (a bad chat id), 401 (a bad token) and 403 (the bot was blocked or removed) are not.
 * - The token is in the URL's path: a secret, kept out of every message and error.
 * - Texts are cut at 4,096 characters (Telegram's limit).
 */
import { asNotice, ChannelError, type Alert, type AlertChannel, type ChannelDeps, type Notice } from './channel.js';
import { plainText, render } from './format.js';
import { jsonAnswer, post, serverText, type HttpRequestSpec } from './http.js';

export const TELEGRAM_BASE_URL = 'https://api.telegram.org';
export const TELEGRAM_MAX_CHARS = 4096;

export interface TelegramSettings {
  /** Default `telegram`. */
  readonly name?: string;
  /** The bot's token (from @BotFather: `123456:ABC-...`). */
  readonly token: string;
  readonly chatIds: readonly (string | number)[];
  /** Default TELEGRAM_BASE_URL (a local Bot API server: its own URL). */
  readonly baseUrl?: string;
}

export function buildRequest(alert: Alert | Notice, settings: TelegramSettings, chatId: string | number): HttpRequestSpec {
  const text = [...plainText(render(asNotice(alert)))].slice(0, TELEGRAM_MAX_CHARS).join('');
  return {
    method: 'POST',
    url: `${settings.baseUrl ?? TELEGRAM_BASE_URL}/bot${settings.token}/sendMessage`,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ chat_id: chatId, text, disable_web_page_preview: true }),
  };
}

export function createTelegramChannel(settings: TelegramSettings, deps: ChannelDeps): AlertChannel {
  const name = settings.name ?? 'telegram';
  const secrets = [settings.token];
  return {
    name,
    type: 'telegram',
    secrets,
    async send(notice, signal) {
      for (const chatId of settings.chatIds) {
        const answer = await post(name, buildRequest(notice, settings, chatId), deps, secrets, signal);
        const json = jsonAnswer(name, answer, secrets);
        if (json['ok'] === true) continue;
        const code = typeof json['error_code'] === 'number' ? json['error_code'] : undefined;
        const retryAfter = (json['parameters'] as { retry_after?: unknown } | undefined)?.retry_after;
        throw new ChannelError('api', `${name}: chat ${chatId}: ${code ?? 'error'} (${serverText(json['description'], secrets)})`, code === 429 || (code !== undefined && code >= 500), {
          ...(code !== undefined ? { code } : {}),
          ...(typeof retryAfter === 'number' ? { retryAfterMs: retryAfter * 1000 } : {}),
        });
      }
    },
  };
}

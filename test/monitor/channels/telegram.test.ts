/**
 * The Telegram alert channel against a local server speaking the Bot API's sendMessage.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, type AlertFailure } from '../../../src/actors/monitor/alert-dispatcher.js';
import { buildRequest, createTelegramChannel } from '../../../src/actors/monitor/channels/telegram.js';
import { AlertsSchema } from '../../../src/config/alerts-schema.js';
import { advance, alert, expectNoSecrets, HttpSink, newScheduler } from './helpers.js';

const TOKEN = '7123456789:AAH-fakeTokenForTests_0123456789ab';
const full = alert({ level: 'critical', code: 'BROKER_AUTH_FAILED', message: 'Alpaca refused the API keys', sessionId: 's-1' });
const ok = (chat: number | string) => ({ json: { ok: true, result: { message_id: 7, chat: { id: chat, type: 'private' }, date: 1767623400, text: 'x' } } });

let sink: HttpSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

describe('Telegram sendMessage request', () => {
  it('posts the plain-text alert to /bot<token>/sendMessage for the chat, without link previews', () => {
    expect(buildRequest(full, { token: TOKEN, chatIds: [42] }, 42)).toEqual({
      method: 'POST',
      url: `https://api.telegram.org/bot${TOKEN}/sendMessage`,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ chat_id: 42, text: '[agent-trader] CRITICAL BROKER_AUTH_FAILED\nAlpaca refused the API keys\nsession: s-1\ntime: 2026-01-05T14:30:00.000Z', disable_web_page_preview: true }),
    });
  });

  it('cuts a text at 4,096 characters', () => {
    const long = alert({ message: 'x'.repeat(10_000) });
    expect(JSON.parse(buildRequest(long, { token: TOKEN, chatIds: [1] }, 1).body).text).toHaveLength(4096);
  });

  it('the config takes numeric and @channel ids and refuses others, naming the field', () => {
    expect(AlertsSchema.parse({ channels: [{ type: 'telegram', bot_token_env: 'TG_TOKEN', chat_ids: [123, -1001234567890, '@agent_alerts'] }] }).channels[0]).toMatchObject({ type: 'telegram', min_level: 'warning' });
    const r = AlertsSchema.safeParse({ channels: [{ type: 'telegram', bot_token_env: 'TG_TOKEN', chat_ids: ['my chat'] }] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['channels', 0, 'chat_ids', 0]);
    expect(r.error!.issues[0]!.message).toContain('expected a Telegram chat id');
  });
});

describe('Telegram channel against a local Bot API server', () => {
  it('sends one message to each chat id', async () => {
    sink = await HttpSink.start((req) => ok(JSON.parse(req.body).chat_id));
    const scheduler = newScheduler();
    const channel = createTelegramChannel({ token: TOKEN, chatIds: [111, '@agent_alerts'], baseUrl: sink.origin }, { scheduler, now: () => scheduler.now(), timeoutMs: 5000 });
    await channel.send({ kind: 'alert', alert: full, more: 0 });
    expect(sink.requests.map((r) => [r.method, r.url, JSON.parse(r.body).chat_id])).toEqual([
      ['POST', `/bot${TOKEN}/sendMessage`, 111],
      ['POST', `/bot${TOKEN}/sendMessage`, '@agent_alerts'],
    ]);
    expect(sink.requests[0]!.headers['content-type']).toBe('application/json');
  });

  it('fails at once on "chat not found" (400); retries 429 after retry_after; the token is in no failure', async () => {
    sink = await HttpSink.start(() => ({ status: 400, json: { ok: false, error_code: 400, description: 'Bad Request: chat not found' } }));
    const scheduler = newScheduler();
    const failures: AlertFailure[] = [];
    const config = AlertsSchema.parse({ retries: { max: 2, base_delay_seconds: 1 }, channels: [{ type: 'telegram', min_level: 'critical', bot_token_env: 'TG_TOKEN', chat_ids: [111], api_url: sink.origin }] });
    const d = createDispatcher(config, { env: { TG_TOKEN: TOKEN }, scheduler, onError: (f) => failures.push(f) });
    const settled = () => d.settled();
    d.dispatch(full);
    await sink.next();
    await d.settled();
    expect(failures.map((f) => f.outcome)).toEqual(['failed']);
    expect(failures[0]!.message).toContain('HTTP 400');
    expect(failures[0]!.message).toContain('chat not found');

    sink.reply = (_req, i) => (i === 1 ? { json: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 5', parameters: { retry_after: 5 } } } : ok(111));
    d.dispatch(alert({ level: 'critical', code: 'OTHER', message: 'x' }));
    await sink.next();
    await d.settled();
    expect(failures.at(-1)).toMatchObject({ outcome: 'retrying', attempt: 1 });
    await advance(scheduler, settled, 5000);
    expect(sink.requests).toHaveLength(3);
    expect(d.stats()['telegram']).toMatchObject({ sent: 1, failed: 1 });
    expect(expectNoSecrets([JSON.stringify(failures), JSON.stringify(d.stats())], [TOKEN])).toEqual([]);
    await d.close();
  });
});

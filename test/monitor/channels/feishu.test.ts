import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, type AlertFailure } from '../../../src/actors/monitor/alert-dispatcher.js';
import { buildRequest, createFeishuChannel, parseFeishuWebhook } from '../../../src/actors/monitor/channels/feishu.js';
import { AlertsSchema } from '../../../src/config/alerts-schema.js';
import { advance, alert, EPOCH, expectNoSecrets, HttpSink, newScheduler } from './helpers.js';

const TOKEN = '0c2f6a1e-7b3d-4e59-8a6c-d1f0b2e4c7a9';
const SECRET = 'qH3v8Wm2XkP9sT4uYz7c';
const full = alert({ level: 'critical', code: 'CLOCK_FAILED', message: 'the schedule stopped', sessionId: 's-9' });

/** Feishu's reference algorithm written out again: the KEY is "timestamp\nsecret", the message is empty. */
const expectedSign = (timestamp: string, secret: string) => createHmac('sha256', Buffer.from(`${timestamp}\n${secret}`, 'utf8')).update(Buffer.alloc(0)).digest('base64');

let sink: HttpSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

describe('Feishu bot request', () => {
  it('puts timestamp (seconds, a string) and sign = base64(HMAC-SHA256(key "timestamp\\nsecret", "")) in the body', () => {
    const req = buildRequest(full, { token: TOKEN, secret: SECRET }, EPOCH + 999);
    // Computed with the Python snippet of Feishu's docs (hmac.new(f"{ts}\n{secret}", b"", sha256), b64encode).
    const fromPython = 'A0Ro8G+V6wVWJJltY/liMvHisYpClRqNF31ldQJ91VA=';
    expect(expectedSign('1767623400', SECRET)).toBe(fromPython);
    expect(req).toEqual({
      method: 'POST',
      url: `https://open.feishu.cn/open-apis/bot/v2/hook/${TOKEN}`,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        timestamp: '1767623400',
        sign: fromPython,
        msg_type: 'text',
        content: { text: '[agent-trader] CRITICAL CLOCK_FAILED\nthe schedule stopped\nsession: s-9\ntime: 2026-01-05T14:30:00.000Z' },
      }),
    });
  });

  it('sends an interactive card coloured by level when asked, and no signature without a secret', () => {
    const body = JSON.parse(buildRequest(full, { token: TOKEN, format: 'card' }, EPOCH).body);
    expect(body).toEqual({
      msg_type: 'interactive',
      card: {
        header: { title: { tag: 'plain_text', content: '[agent-trader] CRITICAL CLOCK_FAILED' }, template: 'red' },
        elements: [{ tag: 'div', text: { tag: 'plain_text', content: 'the schedule stopped\nsession: s-9\ntime: 2026-01-05T14:30:00.000Z' } }],
      },
    });
  });

  it('reads the token out of a Feishu or Lark webhook URL', () => {
    expect(parseFeishuWebhook(`https://open.feishu.cn/open-apis/bot/v2/hook/${TOKEN}`)).toEqual({ baseUrl: 'https://open.feishu.cn', token: TOKEN });
    expect(parseFeishuWebhook(`https://open.larksuite.com/open-apis/bot/v2/hook/${TOKEN}`)).toEqual({ baseUrl: 'https://open.larksuite.com', token: TOKEN });
    expect(parseFeishuWebhook('https://open.feishu.cn/open-apis/bot/v2/hook/')).toBeUndefined();
  });
});

describe('Feishu bot channel against a local server', () => {
  it('sends a body whose signature the server can check, and takes both answer shapes as success', async () => {
    sink = await HttpSink.start((_req, i) => (i === 0 ? { json: { code: 0, data: {}, msg: 'success' } } : { json: { Extra: null, StatusCode: 0, StatusMessage: 'success' } }));
    const scheduler = newScheduler();
    scheduler.advanceTo(EPOCH + 61_500);
    const channel = createFeishuChannel({ token: TOKEN, secret: SECRET, baseUrl: sink.origin }, { scheduler, now: () => scheduler.now(), timeoutMs: 5000 });
    await channel.send({ kind: 'alert', alert: full, more: 0 });
    await channel.send({ kind: 'alert', alert: full, more: 0 });
    const got = await sink.next();
    expect(got.method).toBe('POST');
    expect(got.url).toBe(`/open-apis/bot/v2/hook/${TOKEN}`);
    expect(got.headers['content-type']).toBe('application/json');
    const body = JSON.parse(got.body);
    expect(Object.keys(body)).toEqual(['timestamp', 'sign', 'msg_type', 'content']);
    expect(body.timestamp).toBe(String(Math.floor((EPOCH + 61_500) / 1000)));
    expect(body.sign).toBe(expectedSign(body.timestamp, SECRET));
  });

  it('fails at once on 19021 (bad signature); retries 11232 (frequency limited) and HTTP 500 until it gives up', async () => {
    sink = await HttpSink.start(() => ({ json: { code: 19021, data: {}, msg: 'sign match fail or timestamp is not within one hour from current time' } }));
    const scheduler = newScheduler();
    const failures: AlertFailure[] = [];
    const config = AlertsSchema.parse({
      retries: { max: 2, base_delay_seconds: 1 },
      channels: [{ type: 'feishu', min_level: 'critical', webhook_url_env: 'FEISHU_URL', secret_env: 'FEISHU_SECRET' }],
    });
    const env = { FEISHU_URL: `${sink.origin}/open-apis/bot/v2/hook/${TOKEN}`, FEISHU_SECRET: SECRET };
    const d = createDispatcher(config, { env, scheduler, onError: (f) => failures.push(f) });
    const settled = () => d.settled();
    d.dispatch(full);
    await sink.next();
    await d.settled();
    expect(failures.map((f) => [f.outcome, f.message])).toEqual([['failed', 'feishu: code 19021 (sign match fail or timestamp is not within one hour from current time)']]);

    sink.reply = (_req, i) => (i === 1 ? { json: { code: 11232, msg: 'frequency limited' } } : { status: 500, text: 'internal error' });
    d.dispatch(alert({ level: 'critical', code: 'OTHER', message: 'x' }));
    await sink.next();
    await d.settled();
    await advance(scheduler, settled, 1000);
    await advance(scheduler, settled, 2000);
    expect(sink.requests).toHaveLength(4);
    expect(failures.slice(1).map((f) => [f.outcome, f.attempt, f.message])).toEqual([
      ['retrying', 1, 'feishu: code 11232 (frequency limited)'],
      ['retrying', 2, 'feishu: HTTP 500: internal error'],
      ['failed', 3, 'feishu: HTTP 500: internal error'],
    ]);
    expect(d.stats()['feishu']).toMatchObject({ sent: 0, failed: 2, retries: 2 });
    expect(expectNoSecrets([JSON.stringify(failures), JSON.stringify(d.stats())], [TOKEN, SECRET])).toEqual([]);
    await d.close();
  });
});

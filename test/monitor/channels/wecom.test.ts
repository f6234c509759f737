import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, type AlertFailure } from '../../../src/actors/monitor/alert-dispatcher.js';
import { ChannelError } from '../../../src/actors/monitor/channels/channel.js';
import { buildRequest, createWecomChannel, parseWecomWebhook, WECOM_TEXT_MAX_BYTES } from '../../../src/actors/monitor/channels/wecom.js';
import { AlertsSchema } from '../../../src/config/alerts-schema.js';
import { advance, alert, EPOCH, expectNoSecrets, HttpSink, newScheduler } from './helpers.js';

const KEY = 'f3b0c7a2-5d1e-4c8b-9a7f-2e6d1b0c9a41';
const full = alert({ signature: 'gpt-5', sessionId: 's-42', clientOrderId: 'gpt-5-7' });

let sink: HttpSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

describe('WeCom robot request', () => {
  it('is a markdown message to /cgi-bin/webhook/send?key=KEY on qyapi.weixin.qq.com', () => {
    const req = buildRequest(full, { key: KEY }, EPOCH);
    expect(req).toEqual({
      method: 'POST',
      url: `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY}`,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        msgtype: 'markdown',
        markdown: {
          content:
            '**[agent-trader] <font color="warning">CRITICAL</font> BROKER_DISCONNECTED**\n' +
            'broker connection lost\n' +
            'signature: gpt-5 · session: s-42 · order: gpt-5-7\n' +
            'time: 2026-01-05T14:30:00.000Z',
        },
      }),
    });
  });

  it('colours info green, and sends plain text when asked, cut to 2048 bytes', () => {
    const info = JSON.parse(buildRequest(alert({ level: 'info', code: 'FEED_RECOVERED', message: 'quotes back' }), { key: KEY }, EPOCH).body);
    expect(info.markdown.content).toMatch(/^\*\*\[agent-trader\] <font color="info">INFO<\/font> FEED_RECOVERED\*\*\n/);
    const text = JSON.parse(buildRequest(alert({ message: '行情'.repeat(2000) }), { key: KEY, format: 'text' }, EPOCH).body);
    expect(Object.keys(text)).toEqual(['msgtype', 'text']);
    expect(text.msgtype).toBe('text');
    expect(text.text.content.startsWith('[agent-trader] CRITICAL BROKER_DISCONNECTED\n行情')).toBe(true);
    expect(Buffer.byteLength(text.text.content)).toBeLessThanOrEqual(WECOM_TEXT_MAX_BYTES);
    expect(text.text.content.endsWith('… (truncated)')).toBe(true);
  });

  it('reads the key out of the webhook URL WeCom shows, or takes a bare key', () => {
    expect(parseWecomWebhook(`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY}`)).toEqual({ baseUrl: 'https://qyapi.weixin.qq.com', token: KEY });
    expect(parseWecomWebhook(KEY)).toEqual({ baseUrl: 'https://qyapi.weixin.qq.com', token: KEY });
    expect(parseWecomWebhook('https://qyapi.weixin.qq.com/cgi-bin/webhook/send')).toBeUndefined();
    expect(parseWecomWebhook('not a url')).toBeUndefined();
  });
});

describe('WeCom robot channel against a local server', () => {
  it('POSTs exactly the built request and succeeds on errcode 0', async () => {
    sink = await HttpSink.start();
    const scheduler = newScheduler();
    const channel = createWecomChannel({ key: KEY, baseUrl: sink.origin }, { scheduler, now: () => scheduler.now(), timeoutMs: 5000 });
    await channel.send({ kind: 'alert', alert: full, more: 0 });
    const expected = buildRequest(full, { key: KEY, baseUrl: sink.origin }, EPOCH);
    const got = await sink.next();
    expect(got.method).toBe('POST');
    expect(got.url).toBe(`/cgi-bin/webhook/send?key=${KEY}`);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.body).toBe(expected.body);
  });

  it('fails on errcode != 0: 45009 (frequency limit) is retryable, 93000 (bad URL) is not; neither message holds the key', async () => {
    sink = await HttpSink.start();
    const scheduler = newScheduler();
    const channel = createWecomChannel({ key: KEY, baseUrl: sink.origin }, { scheduler, now: () => scheduler.now(), timeoutMs: 5000 });
    sink.reply = () => ({ json: { errcode: 45009, errmsg: `api freq out of limit, key ${KEY}` } });
    const limited = await channel.send({ kind: 'alert', alert: full, more: 0 }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(ChannelError);
    expect(limited).toMatchObject({ kind: 'api', retryable: true, details: { code: 45009 } });
    expect((limited as Error).message).toBe('wecom: errcode 45009 (api freq out of limit, key [redacted])');
    sink.reply = () => ({ json: { errcode: 93000, errmsg: 'invalid webhook url' } });
    const bad = await channel.send({ kind: 'alert', alert: full, more: 0 }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ kind: 'api', retryable: false, details: { code: 93000 } });
    sink.reply = () => ({ text: '<html>proxy</html>' });
    expect(await channel.send({ kind: 'alert', alert: full, more: 0 }).catch((e: unknown) => e)).toMatchObject({ kind: 'answer', retryable: false });
  });

  it('retries a rate-limited send with exponential back-off on virtual time, then counts it failed', async () => {
    sink = await HttpSink.start(() => ({ json: { errcode: 45009, errmsg: 'api freq out of limit' } }));
    const scheduler = newScheduler();
    const failures: AlertFailure[] = [];
    const config = AlertsSchema.parse({
      retries: { max: 2, base_delay_seconds: 2 },
      channels: [{ type: 'wecom', min_level: 'info', webhook_url_env: 'WECOM_WEBHOOK' }],
    });
    const env = { WECOM_WEBHOOK: `${sink.origin}/cgi-bin/webhook/send?key=${KEY}` };
    const d = createDispatcher(config, { env, scheduler, onError: (f) => failures.push(f) });
    const settled = () => d.settled();
    d.dispatch(full);
    await sink.next();
    await d.settled();
    expect(failures.map((f) => [f.outcome, f.attempt, f.retryInMs])).toEqual([['retrying', 1, 2000]]);
    await advance(scheduler, settled, 1999);
    expect(sink.requests).toHaveLength(1);
    await advance(scheduler, settled, 1);
    expect(sink.requests).toHaveLength(2);
    await advance(scheduler, settled, 3999);
    expect(sink.requests).toHaveLength(2);
    await advance(scheduler, settled, 1);
    expect(sink.requests).toHaveLength(3);
    expect(failures.map((f) => [f.outcome, f.attempt])).toEqual([
      ['retrying', 1],
      ['retrying', 2],
      ['failed', 3],
    ]);
    expect(d.stats()['wecom']).toMatchObject({ sent: 0, failed: 1, retries: 2, lastError: 'wecom: errcode 45009 (api freq out of limit)' });
    const texts = [...failures.map((f) => f.message), JSON.stringify(d.stats())];
    expect(expectNoSecrets(texts, [KEY, env.WECOM_WEBHOOK])).toEqual([]);
    await d.close();
  });
});

import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, type AlertFailure } from '../../../src/actors/monitor/alert-dispatcher.js';
import { buildRequest, createDingtalkChannel, parseDingtalkWebhook } from '../../../src/actors/monitor/channels/dingtalk.js';
import { AlertsSchema } from '../../../src/config/alerts-schema.js';
import { advance, alert, EPOCH, expectNoSecrets, HttpSink, newScheduler } from './helpers.js';

const TOKEN = '5d1c0b9a8f7e6d5c4b3a29181716151413121110f0e0d0c0b0a09080706050403';
const SECRET = 'SECf1e2d3c4b5a697887766554433221100ffeeddccbbaa99887766554433221100';
const full = alert({ level: 'warning', code: 'QUOTE_STALE', message: 'AAPL quote older than 30 s', signature: 'gpt-5' });

/** The docs' reference algorithm, written out again here: HMAC-SHA256 keyed by the secret over "timestamp\nsecret". */
const expectedSign = (timestamp: string, secret: string) => createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(`${timestamp}\n${secret}`, 'utf8')).digest('base64');

let sink: HttpSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

describe('DingTalk robot request', () => {
  it('signs with timestamp (ms) and sign = urlencode(base64(HMAC-SHA256(secret, "timestamp\\nsecret")))', () => {
    const req = buildRequest(full, { accessToken: TOKEN, secret: SECRET }, EPOCH);
    // Computed with the Python snippet of DingTalk's 加签 docs (hmac.new(secret, f"{ts}\n{secret}", sha256), quote_plus(b64)).
    const fromPython = 'h4ac2w0AAx4EW9boxX06Ws2pds3Uii7NWjSkUHWR7Ac%3D';
    expect(req.url).toBe(`https://oapi.dingtalk.com/robot/send?access_token=${TOKEN}&timestamp=1767623400000&sign=${fromPython}`);
    expect(decodeURIComponent(fromPython)).toBe(expectedSign('1767623400000', SECRET));
    expect(req.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(req.body).toBe(
      JSON.stringify({
        msgtype: 'markdown',
        markdown: {
          title: '[agent-trader] WARNING QUOTE_STALE',
          text: '#### [agent-trader] WARNING QUOTE_STALE\n\nAAPL quote older than 30 s\n\nsignature: gpt-5\n\ntime: 2026-01-05T14:30:00.000Z',
        },
      }),
    );
  });

  it('sends no timestamp or sign without a secret, and plain text when asked', () => {
    const req = buildRequest(full, { accessToken: TOKEN, format: 'text' }, EPOCH);
    expect(req.url).toBe(`https://oapi.dingtalk.com/robot/send?access_token=${TOKEN}`);
    expect(JSON.parse(req.body)).toEqual({
      msgtype: 'text',
      text: { content: '[agent-trader] WARNING QUOTE_STALE\nAAPL quote older than 30 s\nsignature: gpt-5\ntime: 2026-01-05T14:30:00.000Z' },
    });
  });

  it('reads the access token out of the webhook URL DingTalk shows', () => {
    expect(parseDingtalkWebhook(`https://oapi.dingtalk.com/robot/send?access_token=${TOKEN}`)).toEqual({ baseUrl: 'https://oapi.dingtalk.com', token: TOKEN });
    expect(parseDingtalkWebhook(`http://127.0.0.1:8080/relay/robot/send?access_token=${TOKEN}`)).toEqual({ baseUrl: 'http://127.0.0.1:8080/relay', token: TOKEN });
    expect(parseDingtalkWebhook('https://oapi.dingtalk.com/robot/send?token=x')).toBeUndefined();
  });
});

describe('DingTalk robot channel against a local server', () => {
  it('sends a request whose signature the server can check with the secret and the timestamp it received', async () => {
    sink = await HttpSink.start();
    const scheduler = newScheduler();
    scheduler.advanceTo(EPOCH + 1234);
    const channel = createDingtalkChannel({ accessToken: TOKEN, secret: SECRET, baseUrl: sink.origin }, { scheduler, now: () => scheduler.now(), timeoutMs: 5000 });
    await channel.send({ kind: 'alert', alert: full, more: 0 });
    const got = await sink.next();
    expect(got.method).toBe('POST');
    const url = new URL(got.url, sink.origin);
    expect(url.pathname).toBe('/robot/send');
    expect([...url.searchParams.keys()]).toEqual(['access_token', 'timestamp', 'sign']);
    expect(url.searchParams.get('access_token')).toBe(TOKEN);
    const timestamp = url.searchParams.get('timestamp')!;
    expect(timestamp).toBe(String(EPOCH + 1234));
    expect(url.searchParams.get('sign')).toBe(expectedSign(timestamp, SECRET));
    // The raw query carries the base64 percent-encoded (+, / and = never bare).
    expect(got.url.endsWith(`&sign=${encodeURIComponent(expectedSign(timestamp, SECRET))}`)).toBe(true);
    expect(got.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got.body).msgtype).toBe('markdown');
  });

  it('fails at once on 310000 (signature check failed) without naming the token or the secret', async () => {
    sink = await HttpSink.start(() => ({ json: { errcode: 310000, errmsg: `sign not match, more: [${SECRET}]` } }));
    const scheduler = newScheduler();
    const failures: AlertFailure[] = [];
    const config = AlertsSchema.parse({
      channels: [{ type: 'dingtalk', min_level: 'warning', webhook_url_env: 'DING_URL', secret_env: 'DING_SECRET' }],
    });
    const env = { DING_URL: `${sink.origin}/robot/send?access_token=${TOKEN}`, DING_SECRET: SECRET };
    const d = createDispatcher(config, { env, scheduler, onError: (f) => failures.push(f) });
    d.dispatch(full);
    await sink.next();
    await d.settled();
    expect(failures).toEqual([
      { channel: 'dingtalk', type: 'dingtalk', outcome: 'failed', message: 'dingtalk: errcode 310000 (sign not match, more: [[redacted]])', level: 'warning', code: 'QUOTE_STALE', attempt: 1 },
    ]);
    expect(d.stats()['dingtalk']).toMatchObject({ sent: 0, failed: 1, retries: 0 });
    expect(expectNoSecrets([JSON.stringify(failures), JSON.stringify(d.stats())], [TOKEN, SECRET])).toEqual([]);
    await d.close();
  });

  it('retries "send too fast" (130101) with back-off and a fresh signature, and succeeds', async () => {
    sink = await HttpSink.start((_req, i) => (i < 2 ? { json: { errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' } } : { json: { errcode: 0, errmsg: 'ok' } }));
    const scheduler = newScheduler();
    const config = AlertsSchema.parse({
      retries: { max: 3, base_delay_seconds: 5 },
      channels: [{ type: 'dingtalk', webhook_url_env: 'DING_URL', secret_env: 'DING_SECRET' }],
    });
    const d = createDispatcher(config, { env: { DING_URL: `${sink.origin}/robot/send?access_token=${TOKEN}`, DING_SECRET: SECRET }, scheduler });
    const settled = () => d.settled();
    d.dispatch(full);
    await sink.next();
    await d.settled();
    await advance(scheduler, settled, 5000);
    await advance(scheduler, settled, 10_000);
    expect(sink.requests).toHaveLength(3);
    const stamps = sink.requests.map((r) => new URL(r.url, sink!.origin).searchParams.get('timestamp'));
    expect(stamps).toEqual([String(EPOCH), String(EPOCH + 5000), String(EPOCH + 15_000)]);
    for (const r of sink.requests) {
      const q = new URL(r.url, sink.origin).searchParams;
      expect(q.get('sign')).toBe(expectedSign(q.get('timestamp')!, SECRET));
    }
    expect(d.stats()['dingtalk']).toMatchObject({ sent: 1, failed: 0, retries: 2 });
    await d.close();
  });
});

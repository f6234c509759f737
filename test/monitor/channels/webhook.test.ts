import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, type AlertFailure } from '../../../src/actors/monitor/alert-dispatcher.js';
import { mergeNotices } from '../../../src/actors/monitor/channels/channel.js';
import { buildRequest, createWebhookChannel, webhookSignature } from '../../../src/actors/monitor/channels/webhook.js';
import { AlertsSchema } from '../../../src/config/alerts-schema.js';
import { advance, alert, EPOCH, expectNoSecrets, HttpSink, newScheduler } from './helpers.js';

const TOKEN = 'bearer-tok-8c1f0e2d9b7a';
const SECRET = 'whsec-7f3a9c2e1b';
const full = alert({ signature: 'gpt-5', sessionId: 's-42', clientOrderId: 'gpt-5-7' });

let sink: HttpSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

describe('generic webhook request', () => {
  it('POSTs the alert as JSON with a bearer token and an HMAC-SHA256 signature of the body', () => {
    const req = buildRequest(full, { url: 'https://hooks.example.com/agent-trader', token: TOKEN, secret: SECRET }, EPOCH);
    const body =
      '{"level":"critical","code":"BROKER_DISCONNECTED","message":"broker connection lost","signature":"gpt-5",' +
      '"sessionId":"s-42","clientOrderId":"gpt-5-7","time":"2026-01-05T14:30:00.000Z"}';
    expect(req).toEqual({
      method: 'POST',
      url: 'https://hooks.example.com/agent-trader',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${TOKEN}`,
        'X-Agent-Trader-Signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
      },
      body,
    });
    // Computed with Python's hmac.new(secret, body, sha256).hexdigest().
    expect(webhookSignature('{"a":1}', SECRET)).toBe('sha256=07ab423e37df1cc0b3684456cfb1c9687e34c217518a6a9fdb657722e6796d97');
  });

  it('leaves out absent fields and headers; a repeat carries more/since; a digest lists its alerts', () => {
    const bare = buildRequest(alert({ level: 'info', code: 'X', message: 'm' }), { url: 'http://h/x' }, EPOCH);
    expect(bare.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(bare.body).toBe('{"level":"info","code":"X","message":"m","time":"2026-01-05T14:30:00.000Z"}');
    const repeat = buildRequest({ kind: 'alert', alert: alert({ code: 'X', message: 'm' }), more: 12, since: EPOCH - 60_000 }, { url: 'http://h/x' }, EPOCH);
    expect(JSON.parse(repeat.body)).toMatchObject({ code: 'X', more: 12, since: '2026-01-05T14:29:00.000Z' });
    const digest = mergeNotices(
      [
        { kind: 'alert', alert: alert({ level: 'warning', code: 'A', message: 'a' }), more: 0 },
        { kind: 'alert', alert: alert({ level: 'info', code: 'B', message: 'b', tsEvent: EPOCH + 1000 }), more: 2, since: EPOCH },
      ],
      'rate_limit',
      EPOCH + 60_000,
    );
    expect(JSON.parse(buildRequest(digest, { url: 'http://h/x' }, EPOCH).body)).toEqual({
      level: 'warning',
      code: 'ALERT_DIGEST',
      message:
        '4 alerts held back by the rate limit, oldest first:\n' +
        '- 2026-01-05T14:30:00.000Z WARNING A: a\n' +
        '- 2026-01-05T14:30:01.000Z INFO B: b (×3)',
      time: '2026-01-05T14:31:00.000Z',
      reason: 'rate_limit',
      total: 4,
      omitted: 0,
      alerts: [
        { level: 'warning', code: 'A', message: 'a', time: '2026-01-05T14:30:00.000Z' },
        { level: 'info', code: 'B', message: 'b', time: '2026-01-05T14:30:01.000Z', more: 2, since: '2026-01-05T14:30:00.000Z' },
      ],
    });
  });
});

describe('generic webhook channel against a local server', () => {
  it('arrives with the body signed so the receiver can verify it', async () => {
    sink = await HttpSink.start(() => ({ status: 204 }));
    const scheduler = newScheduler();
    const channel = createWebhookChannel({ url: `${sink.origin}/hooks/alerts?team=ops`, token: TOKEN, secret: SECRET }, { scheduler, now: () => scheduler.now(), timeoutMs: 5000 });
    await channel.send({ kind: 'alert', alert: full, more: 0 });
    const got = await sink.next();
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/hooks/alerts?team=ops');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(got.headers['x-agent-trader-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(Buffer.from(got.body, 'utf8')).digest('hex')}`);
    expect(JSON.parse(got.body)).toEqual({
      level: 'critical',
      code: 'BROKER_DISCONNECTED',
      message: 'broker connection lost',
      signature: 'gpt-5',
      sessionId: 's-42',
      clientOrderId: 'gpt-5-7',
      time: '2026-01-05T14:30:00.000Z',
    });
  });

  it('does not retry a 404, honours Retry-After on a 429, and retries a request that times out', async () => {
    sink = await HttpSink.start(() => ({ status: 404, text: 'no such hook' }));
    const scheduler = newScheduler();
    const failures: AlertFailure[] = [];
    const config = AlertsSchema.parse({
      timeout_seconds: 3,
      retries: { max: 3, base_delay_seconds: 2 },
      channels: [{ type: 'webhook', min_level: 'info', url_env: 'HOOK_URL', token_env: 'HOOK_TOKEN', secret_env: 'HOOK_SECRET' }],
    });
    const hookUrl = `${sink.origin}/hooks/${TOKEN}-path`;
    const env = { HOOK_URL: hookUrl, HOOK_TOKEN: TOKEN, HOOK_SECRET: SECRET };
    const d = createDispatcher(config, { env, scheduler, onError: (f) => failures.push(f) });
    const settled = () => d.settled();

    d.dispatch(alert({ code: 'A' }));
    await sink.next();
    await d.settled();
    expect(failures.map((f) => [f.outcome, f.message])).toEqual([['failed', 'webhook: HTTP 404: no such hook']]);

    sink.reply = (_req, i) => (i === 1 ? { status: 429, text: 'slow down', headers: { 'Retry-After': '30' } } : i === 2 ? 'hang' : { status: 200, text: 'ok' });
    d.dispatch(alert({ code: 'B' }));
    await sink.next();
    await d.settled();
    expect(failures[1]).toMatchObject({ outcome: 'retrying', attempt: 1, retryInMs: 30_000, message: 'webhook: HTTP 429: slow down' });
    await advance(scheduler, settled, 29_999);
    expect(sink.requests).toHaveLength(2);
    scheduler.advanceTo(scheduler.now() + 1);
    await sink.next(); // held without an answer
    await advance(scheduler, settled, 3000);
    expect(failures[2]).toMatchObject({ outcome: 'retrying', attempt: 2, retryInMs: 4000, message: 'webhook: no answer within 3000 ms' });
    await advance(scheduler, settled, 4000);
    expect(sink.requests).toHaveLength(4);
    expect(d.stats()['webhook']).toMatchObject({ sent: 1, failed: 1, retries: 2 });
    expect(expectNoSecrets([JSON.stringify(failures), JSON.stringify(d.stats())], [TOKEN, SECRET, hookUrl])).toEqual([]);
    await d.close();
  });

  it('says which step failed when nothing listens, without the URL', async () => {
    const scheduler = newScheduler();
    sink = await HttpSink.start();
    const url = `${sink.origin}/hooks/${TOKEN}`;
    await sink.close();
    sink = undefined;
    const channel = createWebhookChannel({ url, token: TOKEN }, { scheduler, now: () => scheduler.now(), timeoutMs: 5000 });
    const err = await channel.send({ kind: 'alert', alert: full, more: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'network', retryable: true });
    expect((err as Error).message).toMatch(/^webhook: request failed: ECONNREFUSED/);
    expect(expectNoSecrets([(err as Error).message], [TOKEN, url])).toEqual([]);
  });
});

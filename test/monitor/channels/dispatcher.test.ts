/**
 * The dispatcher driven through real channels (the generic webhook, the simplest real
 * client) against real local HTTP servers, with every window, back-off and deadline on
 * virtual time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AlertDispatcher, type AlertDispatcherOptions, type AlertFailure, type DispatchChannel } from '../../../src/actors/monitor/alert-dispatcher.js';
import { createWebhookChannel } from '../../../src/actors/monitor/channels/webhook.js';
import type { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';
import { advance, alert, EPOCH, expectNoSecrets, HttpSink, newScheduler, type Reply, type RecordedRequest } from './helpers.js';

const sinks: HttpSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

async function sink(reply?: (req: RecordedRequest, i: number) => Reply): Promise<HttpSink> {
  const s = await HttpSink.start(reply ?? (() => ({ status: 200, text: 'ok' })));
  sinks.push(s);
  return s;
}

interface Setup {
  readonly d: AlertDispatcher;
  readonly scheduler: EpochVirtualScheduler;
  readonly failures: AlertFailure[];
  readonly settled: () => Promise<void>;
}

/** A webhook channel named `name`, posting to `<sink>/<name>`. */
type HookSpec = { sink: HttpSink; name: string; timeoutMs?: number; token?: string } & Omit<DispatchChannel, 'channel'>;

function setup(
  channels: HookSpec[],
  options: Omit<AlertDispatcherOptions, 'channels'> = {},
): Setup {
  const scheduler = newScheduler();
  const failures: AlertFailure[] = [];
  const d = new AlertDispatcher({
    channels: channels.map(({ sink: s, name, timeoutMs, token, ...rest }) => ({
      ...rest,
      channel: createWebhookChannel(
        { name, url: `${s.origin}/${name}`, ...(token !== undefined ? { token } : {}) },
        { scheduler, now: () => scheduler.now(), timeoutMs: timeoutMs ?? 30_000 },
      ),
    })),
    scheduler,
    onError: (f) => failures.push(f),
    ...options,
  });
  return { d, scheduler, failures, settled: () => d.settled() };
}

const codes = (s: HttpSink) => s.requests.map((r) => JSON.parse(r.body).code as string);

/** Event-loop turns until `cond` holds (never wall time). */
async function eventually(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

describe('alert dispatcher', () => {
  it('returns from dispatch at once; a channel that never answers holds up neither the caller nor the other channel', async () => {
    const slow = await sink(() => 'hang');
    const fast = await sink();
    const { d, scheduler } = setup([
      { sink: slow, name: 'slow' },
      { sink: fast, name: 'fast' },
    ], { dedupeMs: 0, closeTimeoutMs: 2000 });
    for (const code of ['A', 'B', 'C']) d.dispatch(alert({ code }));
    expect(d.stats()['slow']).toMatchObject({ sent: 0, queued: 2 });
    await eventually(() => d.stats()['fast']!.sent === 3);
    expect(codes(fast)).toEqual(['A', 'B', 'C']);
    expect(codes(slow)).toEqual(['A']);

    // Closing waits at most closeTimeoutMs, then abandons what is left.
    const closing = d.close();
    scheduler.advanceTo(scheduler.now() + 2000);
    await closing;
    expect(d.stats()['slow']).toMatchObject({ sent: 0, failed: 0, dropped: 3, queued: 0 });
    expect(d.stats()['fast']).toMatchObject({ sent: 3, dropped: 0 });
  });

  it('counts a failing channel on its own while the other delivers, with secrets kept out of errors and stats', async () => {
    const TOKEN = 'hook-token-5a7c9e1f3b';
    const broken = await sink(() => ({ status: 502, text: `upstream refused token ${TOKEN}` }));
    const ok = await sink();
    const { d, scheduler, failures, settled } = setup(
      [
        { sink: broken, name: 'broken', token: TOKEN },
        { sink: ok, name: 'ok' },
      ],
      { retries: { max: 1, baseDelayMs: 1000, maxDelayMs: 60_000 } },
    );
    d.dispatch(alert({ code: 'A' }));
    await d.settled();
    await advance(scheduler, settled, 1000);
    expect(d.stats()['broken']).toMatchObject({ sent: 0, failed: 1, retries: 1, lastError: 'broken: HTTP 502: upstream refused token [redacted]' });
    expect(d.stats()['ok']).toMatchObject({ sent: 1, failed: 0, retries: 0 });
    expect(failures.map((f) => [f.channel, f.outcome, f.attempt])).toEqual([
      ['broken', 'retrying', 1],
      ['broken', 'failed', 2],
    ]);
    expect(broken.requests[0]!.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(expectNoSecrets([JSON.stringify(failures), JSON.stringify(d.stats())], [TOKEN])).toEqual([]);
    await d.close();
  });

  it('sends each channel only the levels it asked for', async () => {
    const all = await sink();
    const warn = await sink();
    const crit = await sink();
    const { d } = setup([
      { sink: all, name: 'all' },
      { sink: warn, name: 'warn', minLevel: 'warning' },
      { sink: crit, name: 'crit', minLevel: 'critical' },
    ]);
    d.dispatch(alert({ level: 'info', code: 'I' }));
    d.dispatch(alert({ level: 'warning', code: 'W' }));
    d.dispatch(alert({ level: 'critical', code: 'C' }));
    await d.settled();
    expect(codes(all)).toEqual(['I', 'W', 'C']);
    expect(codes(warn)).toEqual(['W', 'C']);
    expect(codes(crit)).toEqual(['C']);
    await d.close();
  });

  it('sends a repeated (code, signature, level) once per window and summarises the repeats when the window ends', async () => {
    const hook = await sink();
    const { d, scheduler, settled } = setup([{ sink: hook, name: 'hook' }], { dedupeMs: 300_000 });
    const stale = (k: number, extra: Partial<Parameters<typeof alert>[0]> = {}) =>
      alert({ level: 'warning', code: 'QUOTE_STALE', signature: 'gpt-5', message: `stale ${k}`, tsEvent: EPOCH + k * 1000, ...extra });
    d.dispatch(stale(0));
    for (let k = 1; k <= 12; k++) d.dispatch(stale(k));
    d.dispatch(stale(13, { signature: 'claude' }));
    d.dispatch(stale(14, { level: 'critical' }));
    await d.settled();
    expect(hook.requests.map((r) => JSON.parse(r.body).message)).toEqual(['stale 0', 'stale 13', 'stale 14']);
    expect(d.stats()['hook']).toMatchObject({ sent: 3, deduped: 12 });

    await advance(scheduler, settled, 299_999);
    expect(hook.requests).toHaveLength(3);
    await advance(scheduler, settled, 1);
    expect(JSON.parse(hook.requests[3]!.body)).toEqual({
      level: 'warning',
      code: 'QUOTE_STALE',
      message: 'stale 12',
      signature: 'gpt-5',
      time: '2026-01-05T14:30:12.000Z',
      more: 11,
      since: '2026-01-05T14:30:01.000Z',
    });
    // A window without repeats closes silently; the next occurrence is new.
    await advance(scheduler, settled, 300_000);
    expect(hook.requests).toHaveLength(4);
    d.dispatch(stale(700));
    await d.settled();
    expect(JSON.parse(hook.requests[4]!.body)).not.toHaveProperty('more');
    expect(d.stats()['hook']).toMatchObject({ sent: 5, deduped: 12 });
    await d.close();
  });

  it('holds what exceeds the rate limit and sends it as one digest when the window reopens; critical alerts use the reserve first', async () => {
    const hook = await sink();
    const { d, scheduler, settled } = setup([{ sink: hook, name: 'hook' }], {
      dedupeMs: 0,
      rateLimit: { max: 5, perMs: 60_000, criticalReserve: 1 },
    });
    for (let i = 1; i <= 10; i++) d.dispatch(alert({ level: 'warning', code: `W${i}`, tsEvent: EPOCH + i }));
    d.dispatch(alert({ level: 'critical', code: 'C1' }));
    d.dispatch(alert({ level: 'critical', code: 'C2' }));
    await d.settled();
    // 4 non-critical, then the reserved slot goes to the first critical; the second waits too.
    expect(codes(hook)).toEqual(['W1', 'W2', 'W3', 'W4', 'C1']);
    expect(d.stats()['hook']).toMatchObject({ sent: 5, queued: 7 });

    await advance(scheduler, settled, 59_999);
    expect(hook.requests).toHaveLength(5);
    await advance(scheduler, settled, 1);
    expect(codes(hook)).toEqual(['W1', 'W2', 'W3', 'W4', 'C1', 'C2', 'ALERT_DIGEST']);
    const digest = JSON.parse(hook.requests[6]!.body);
    expect(digest).toMatchObject({ level: 'warning', code: 'ALERT_DIGEST', reason: 'rate_limit', total: 6, omitted: 0 });
    expect(digest.alerts.map((a: { code: string }) => a.code)).toEqual(['W5', 'W6', 'W7', 'W8', 'W9', 'W10']);
    expect(digest.message.split('\n')[0]).toBe('6 alerts held back by the rate limit, oldest first:');
    expect(d.stats()['hook']).toMatchObject({ sent: 7, digested: 6, queued: 0 });
    await d.close();
  });

  it('merges what waits behind a stuck request into one digest when the queue is full', async () => {
    const hook = await sink((_req, i) => (i === 0 ? 'hang' : { status: 200, text: 'ok' }));
    const { d, scheduler, failures, settled } = setup([{ sink: hook, name: 'hook', timeoutMs: 3000 }], {
      dedupeMs: 0,
      queueSize: 3,
      retries: { max: 0, baseDelayMs: 1000, maxDelayMs: 1000 },
    });
    for (let i = 1; i <= 6; i++) d.dispatch(alert({ code: `Q${i}` }));
    expect(d.stats()['hook']!.queued).toBe(2);
    await hook.next();
    await advance(scheduler, settled, 3000);
    expect(failures.map((f) => [f.outcome, f.code, f.message])).toEqual([['failed', 'Q1', 'hook: no answer within 3000 ms']]);
    expect(codes(hook)).toEqual(['Q1', 'ALERT_DIGEST', 'Q6']);
    const digest = JSON.parse(hook.requests[1]!.body);
    expect(digest).toMatchObject({ reason: 'queue_full', total: 4 });
    expect(digest.alerts.map((a: { code: string }) => a.code)).toEqual(['Q2', 'Q3', 'Q4', 'Q5']);
    expect(d.stats()['hook']).toMatchObject({ sent: 2, failed: 1, dropped: 0, digested: 4 });
    await d.close();
  });

  it('on close sends held alerts and open repeats as one last digest, waits for retries, and drops what comes after', async () => {
    const hook = await sink((_req, i) => (i === 2 ? { status: 503, text: 'busy' } : { status: 200, text: 'ok' }));
    const { d, scheduler, failures } = setup([{ sink: hook, name: 'hook' }], {
      dedupeMs: 300_000,
      rateLimit: { max: 2, perMs: 60_000, criticalReserve: 0 },
      retries: { max: 2, baseDelayMs: 2000, maxDelayMs: 60_000 },
    });
    d.dispatch(alert({ level: 'warning', code: 'R1' }));
    d.dispatch(alert({ level: 'warning', code: 'R2' }));
    d.dispatch(alert({ level: 'warning', code: 'R3' }));
    d.dispatch(alert({ level: 'warning', code: 'R4' }));
    for (let k = 1; k <= 3; k++) d.dispatch(alert({ level: 'warning', code: 'R1', tsEvent: EPOCH + k * 1000 }));
    await d.settled();
    expect(codes(hook)).toEqual(['R1', 'R2']);

    const closing = d.close();
    await d.settled(); // the digest got a 503: a retry waits 2 s
    expect(failures.map((f) => [f.outcome, f.code])).toEqual([['retrying', 'ALERT_DIGEST']]);
    scheduler.advanceTo(scheduler.now() + 2000);
    await closing;
    expect(codes(hook)).toEqual(['R1', 'R2', 'ALERT_DIGEST', 'ALERT_DIGEST']);
    const digest = JSON.parse(hook.requests[3]!.body);
    expect(digest).toMatchObject({ reason: 'closing', total: 5 });
    expect(digest.alerts.map((a: { code: string; more?: number }) => [a.code, a.more ?? 0])).toEqual([
      ['R3', 0],
      ['R4', 0],
      ['R1', 2],
    ]);
    expect(digest.message.split('\n')[0]).toBe('5 alerts still waiting when the process stopped, oldest first:');

    d.dispatch(alert({ code: 'LATE' }));
    expect(d.stats()['hook']).toMatchObject({ sent: 3, failed: 0, retries: 1, deduped: 3, digested: 5, dropped: 1 });
    expect(failures.at(-1)).toMatchObject({ outcome: 'dropped', code: 'LATE' });
    await d.close();
    expect(hook.requests).toHaveLength(4);
  });

  it('refuses a critical reserve that leaves nothing for the other alerts', async () => {
    const hook = await sink();
    expect(() => setup([{ sink: hook, name: 'hook' }], { rateLimit: { max: 3, perMs: 60_000, criticalReserve: 3 } })).toThrow(/critical reserve must be less than the rate limit/);
  });
});

/**
 * The Alpaca REST client's edge, as a table (STYLE.md): each raw answer of the fake Alpaca (in its
 * own process) -> the class it becomes and how many retries `call()` spends on it. Virtual time:
 * every back-off waits until the test moves the clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AlpacaInvalidOrder, AlpacaNotFound, AlpacaOperationalError, AlpacaTemporaryError, classifyStatus, refusalReason } from '../../src/actors/brokers/alpaca/errors.js';
import { AlpacaRest, type RetryEvent } from '../../src/actors/brokers/alpaca/rest.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { eventually } from '../support/eventually.js';
import { T0, TIMEOUT_MS, until } from '../support/fake-alpaca/harness.js';
import { FakeAlpacaProcess } from '../support/fake-alpaca/process.js';
import type { Fault } from '../support/fake-alpaca/server.js';

let fake: FakeAlpacaProcess;
beforeAll(async () => {
  fake = await FakeAlpacaProcess.start({ startMs: T0 });
});
afterAll(async () => {
  await fake.stop();
});

const MAX_RETRIES = 2;

function client(secret = fake.secret) {
  const scheduler = new EpochVirtualScheduler(T0);
  const rest = new AlpacaRest({ baseUrl: fake.baseUrl, keyId: fake.key, secretKey: secret, scheduler, timeoutMs: TIMEOUT_MS, retry: { baseMs: 1_000, factor: 2, jitter: 0, maxRetries: MAX_RETRIES } });
  const retries: RetryEvent[] = [];
  rest.retries$.subscribe((r) => retries.push(r));
  return { rest, scheduler, retries };
}

/** `call` GET /v2/account with the fault on every attempt; advance each back-off (or timeout) as it comes. */
async function outcome(fault: Fault | undefined, secret?: string): Promise<{ error: unknown; retries: number }> {
  await fake.clearFaults();
  if (fault) await fake.fault('GET', '/v2/account', fault, MAX_RETRIES + 1);
  const c = client(secret);
  let settled = false;
  const done = c.rest.call('GET', '/v2/account', z.unknown()).then(
    () => ({ error: undefined }),
    (error: unknown) => ({ error }),
  );
  void done.finally(() => (settled = true));
  const hangs = fault?.kind === 'hang';
  for (let i = 0; i <= MAX_RETRIES; i++) {
    // a hang needs its deadline to pass; everything else answers at once
    if (hangs) {
      await until(async () => (await fake.state()).requests.filter((r) => r.path === '/v2/account' && r.status === 0).length > i, 'the hanging request');
      c.scheduler.advanceTo(c.scheduler.now() + TIMEOUT_MS);
    }
    await eventually(() => expect(settled || c.retries.length > i).toBe(true));
    if (settled) break;
    c.scheduler.advanceTo(c.scheduler.now() + c.retries[i]!.delayMs);
  }
  const { error } = await done;
  return { error, retries: c.retries.length };
}

const ANSWERS: readonly { readonly raw: string; readonly fault?: Fault; readonly secret?: string; readonly cls: unknown; readonly retries: number }[] = [
  { raw: '200', cls: undefined, retries: 0 },
  { raw: '400', fault: { kind: 'status', status: 400, code: 40010000, message: 'request body format is invalid' }, cls: AlpacaInvalidOrder, retries: 0 },
  { raw: '401', secret: 'wrong', cls: AlpacaOperationalError, retries: 0 },
  { raw: '403', fault: { kind: 'status', status: 403, code: 40310000, message: 'forbidden' }, cls: AlpacaInvalidOrder, retries: 0 },
  { raw: '404', fault: { kind: 'status', status: 404, code: 40410000, message: 'not found' }, cls: AlpacaNotFound, retries: 0 },
  { raw: '422', fault: { kind: 'status', status: 422, code: 40010001, message: 'invalid' }, cls: AlpacaInvalidOrder, retries: 0 },
  { raw: '429', fault: { kind: 'rate_limit', retryAfterSeconds: 1 }, cls: AlpacaTemporaryError, retries: MAX_RETRIES },
  { raw: '500', fault: { kind: 'status', status: 500, code: 50010000, message: 'internal server error' }, cls: AlpacaTemporaryError, retries: MAX_RETRIES },
  { raw: '503', fault: { kind: 'status', status: 503, code: 50300000, message: 'service unavailable' }, cls: AlpacaTemporaryError, retries: MAX_RETRIES },
  { raw: 'connection reset', fault: { kind: 'reset' }, cls: AlpacaTemporaryError, retries: MAX_RETRIES },
  { raw: 'no answer (timeout)', fault: { kind: 'hang' }, cls: AlpacaTemporaryError, retries: MAX_RETRIES },
];

describe('Alpaca REST: raw answer -> class and retries', () => {
  it.each(ANSWERS)('$raw -> $cls.name, $retries retries', async ({ fault, secret, cls, retries }) => {
    const got = await outcome(fault, secret);
    if (cls === undefined) expect(got.error).toBeUndefined();
    else expect(got.error).toBeInstanceOf(cls);
    expect(got.retries).toBe(retries);
    if (got.error) expect(String((got.error as Error).message)).not.toContain(fake.secret);
  });

  it('a temporary failure that ends is retried until the answer comes', async () => {
    await fake.clearFaults();
    await fake.fault('GET', '/v2/account', { kind: 'status', status: 502, message: 'bad gateway' }, 1);
    const c = client();
    const done = c.rest.call('GET', '/v2/account', z.object({ status: z.string() }));
    await eventually(() => expect(c.retries).toHaveLength(1));
    c.scheduler.advanceTo(c.scheduler.now() + 1_000);
    expect(await done).toMatchObject({ status: 'ACTIVE' });
  });

  it('only a 429 says the request was not carried out; a timeout, a reset or a 5xx leave the outcome unknown', async () => {
    const known = (await outcome({ kind: 'rate_limit' })).error as AlpacaTemporaryError;
    expect([known.outcomeKnown, known.retryAfterMs]).toEqual([true, 1_000]);
    for (const f of [{ kind: 'reset' }, { kind: 'status', status: 500 }] as const) expect(((await outcome(f)).error as AlpacaTemporaryError).outcomeKnown).toBe(false);
  });

  it('classifies statuses and refusal sentences by table', () => {
    expect([400, 401, 403, 404, 408, 409, 418, 422, 425, 429, 500, 504].map(classifyStatus)).toEqual(['never', 'halt', 'never', 'not_found', 'retry', 'never', 'never', 'never', 'retry', 'retry', 'retry', 'retry']);
    expect(['insufficient buying power', 'insufficient qty available for order (requested: 5, available: 0)', 'asset "XYZ" not found', 'qty must be > 0'].map(refusalReason)).toEqual([
      'INSUFFICIENT_CASH',
      'INSUFFICIENT_POSITION',
      'UNKNOWN_SYMBOL',
      'BROKER_REJECTED',
    ]);
  });
});

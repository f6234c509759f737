/**
 * Structured logs: real pino writing to an in-memory destination (and a real file in a
 * temp dir), time from an injected clock; levels, correlation ids, and secrets censored
 * both by key and by value.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { closeLogger, createLogger, formatPretty, idsOfFeedEvent, logFeedEvent, secretValues, withIds, type LoggerOptions } from '../../../src/actors/monitor/logger.js';
import { feedEventOfMessage } from '../../../src/runtime/feed-events.js';
import type { FeedEvent } from '../../../src/domain/feed.js';
import type { AnyMessage } from '../../../src/domain/messages.js';

const EPOCH = Date.UTC(2026, 0, 5, 14, 35);
const API_KEY = 'sk-live-0123456789abcdef';
const SID = 'alpha@2026-01-05T09:35:00.000-05:00';
const CID = 'alpha.20260105T0935.1';

/** An in-memory destination: every line pino writes. */
function memory() {
  const chunks: string[] = [];
  return {
    stream: { write: (s: string) => void chunks.push(s) },
    raw: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter(Boolean),
    json: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

function setup(options: Partial<LoggerOptions> = {}) {
  let t = EPOCH;
  const out = memory();
  const logger = createLogger({ now: () => t, destination: out.stream, secrets: [API_KEY], ...options });
  return { logger, out, advance: (ms: number) => void (t += ms) };
}

const fromMessage = (m: AnyMessage): FeedEvent => feedEventOfMessage(m, DateTime.fromMillis(EPOCH, { zone: 'America/New_York' }))!;

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('createLogger (json)', () => {
  it('writes one JSON line per call with the level name, the injected time and the message', () => {
    const { logger, out, advance } = setup({ level: 'info', base: { mode: 'paper' } });
    logger.debug('not at info');
    logger.info({ orders: 2 }, 'session done');
    advance(1_500);
    logger.warn('quotes are stale');
    expect(out.json()).toEqual([
      { level: 'info', time: '2026-01-05T14:35:00.000Z', mode: 'paper', orders: 2, msg: 'session done' },
      { level: 'warn', time: '2026-01-05T14:35:01.500Z', mode: 'paper', msg: 'quotes are stale' },
    ]);
  });

  it('writes times in the zone asked for', () => {
    const { logger, out } = setup({ zone: 'Asia/Shanghai' });
    logger.info('x');
    expect(out.json()[0]!['time']).toBe('2026-01-05T22:35:00.000+08:00');
  });

  it('redacts credential keys at the top, nested, and in headers, and keeps look-alikes such as token counts', () => {
    const { logger, out } = setup({ secrets: [] });
    logger.info(
      {
        apiKey: 'a-1',
        token: 't-1',
        broker: { api_key: 'a-2', secret: 's-2', password: 'p-2' },
        req: { headers: { authorization: 'Bearer b-3', 'x-api-key': 'x-3', accept: 'json' }, body: { accessToken: 'at-3' } },
        usage: { tokens: 1200, prompt: 1000 },
      },
      'calling the broker',
    );
    const line = out.json()[0]!;
    expect(line).toMatchObject({
      apiKey: '[redacted]',
      token: '[redacted]',
      broker: { api_key: '[redacted]', secret: '[redacted]', password: '[redacted]' },
      req: { headers: { authorization: '[redacted]', 'x-api-key': '[redacted]', accept: 'json' }, body: { accessToken: '[redacted]' } },
      usage: { tokens: 1200, prompt: 1000 },
    });
    for (const v of ['a-1', 't-1', 'a-2', 's-2', 'p-2', 'b-3', 'x-3', 'at-3']) expect(out.raw()).not.toContain(`"${v}"`);
  });

  it('censors known secret values wherever they appear: messages, deep fields, errors, child bindings', () => {
    const quoted = 'pa"ss\\word-42';
    const { logger, out } = setup({ secrets: [API_KEY, quoted, undefined, 'abc'] });
    logger.error(`POST https://api.example.com?key=${API_KEY} failed`);
    logger.info({ a: { b: { c: { d: `Bearer ${API_KEY}` } } } }, 'deep');
    logger.error({ err: new Error(`401 for key ${API_KEY}`) }, 'model call failed');
    logger.child({ note: `using ${API_KEY}` }).info('child');
    logger.info({ text: `password is ${quoted}` }, 'escaped');
    logger.info('abc stays: too short to be a secret');
    const raw = out.raw();
    expect(raw).not.toContain(API_KEY);
    expect(raw).not.toContain('ss\\\\word');
    expect(out.lines()).toHaveLength(6);
    const lines = out.json();
    expect(lines[0]!['msg']).toBe('POST https://api.example.com?key=[redacted] failed');
    expect(lines[1]).toMatchObject({ a: { b: { c: { d: 'Bearer [redacted]' } } } });
    expect((lines[2]!['err'] as { message: string }).message).toBe('401 for key [redacted]');
    expect(lines[3]!['note']).toBe('using [redacted]');
    expect(lines[4]!['text']).toBe('password is [redacted]');
    expect(lines[5]!['msg']).toBe('abc stays: too short to be a secret');
  });
});

describe('correlation ids', () => {
  it('binds signature, session id and client order id on a child logger', () => {
    const { logger, out } = setup();
    const session = withIds(logger, { signature: 'alpha', sessionId: SID });
    session.info('deciding');
    withIds(session, { clientOrderId: CID, sessionId: undefined }).info('order placed');
    expect(withIds(logger, {})).toBe(logger);
    expect(out.json()).toEqual([
      { level: 'info', time: '2026-01-05T14:35:00.000Z', signature: 'alpha', sessionId: SID, msg: 'deciding' },
      { level: 'info', time: '2026-01-05T14:35:00.000Z', signature: 'alpha', sessionId: SID, clientOrderId: CID, msg: 'order placed' },
    ]);
  });

  it('logs one line per feed event, at its level, with the ids from its payload', () => {
    const { logger, out } = setup({ level: 'debug' });
    const ts = { tsEvent: EPOCH };
    const events: FeedEvent[] = [
      fromMessage({ type: 'clock.tick', market: 'us', frequency: 'daily', at: '2026-01-05T09:35:00.000-05:00', atMs: EPOCH, marketOpen: true, nextOpenMs: EPOCH, ...ts }),
      { type: 'session', time: '2026-01-05T09:35:00.000-05:00', signature: 'alpha', payload: { sessionId: SID, state: 'fetching' } },
      fromMessage({ type: 'agent.intent', sessionId: SID, step: 0, intent: { side: 'buy', symbol: 'AAPL', quantity: 10, type: 'market' }, ...ts }),
      fromMessage({ type: 'risk.rejected', sessionId: SID, clientOrderId: CID, reason: 'MAX_POSITION_RATIO', message: 'too big', ...ts }),
      fromMessage({ type: 'engine.placeOrder', sessionId: SID, order: { side: 'buy', symbol: 'AAPL', quantity: 5, type: 'market', clientOrderId: `${CID}b`, signature: 'alpha' }, marketOpen: true, nextOpenMs: EPOCH, ...ts }),
      fromMessage({ type: 'broker.fill', clientOrderId: `${CID}b`, fill: { fillId: 'f1', quantity: 5, price: '224.10', fee: '0', atMs: EPOCH }, ...ts }),
      fromMessage({ type: 'broker.rejected', clientOrderId: `${CID}c`, reason: 'INSUFFICIENT_CASH', message: 'no cash', ...ts }),
      fromMessage({
        type: 'session.finished',
        outcome: { sessionId: SID, signature: 'alpha', at: '2026-01-05T09:35:00.000-05:00', status: 'failed', error: { step: 'deciding', reason: 'DEADLINE', message: 'late' }, results: [] },
        ...ts,
      }),
      fromMessage({ type: 'monitor.alert', level: 'critical', code: 'SESSION_FAILED', message: 'alpha failed', signature: 'alpha', sessionId: SID, ...ts }),
    ];
    for (const e of events) logFeedEvent(logger, e);
    const lines = out.json();
    expect(lines.map((l) => [l['level'], l['event'], l['msg']])).toEqual([
      ['info', 'tick', 'tick us daily 2026-01-05T09:35:00.000-05:00'],
      ['debug', 'session', 'session fetching'],
      ['info', 'decision', 'intent buy 10 AAPL'],
      ['warn', 'risk.rejected', 'risk rejected MAX_POSITION_RATIO: too big'],
      ['info', 'order', 'order new'],
      ['info', 'fill', 'fill 5 @ 224.10'],
      ['warn', 'order', 'order rejected (INSUFFICIENT_CASH)'],
      ['warn', 'session', 'session failed (DEADLINE): 0 orders, 0 filled'],
      ['error', 'alert', 'alert SESSION_FAILED: alpha failed'],
    ]);
    expect(lines.map((l) => [l['signature'], l['sessionId'], l['clientOrderId']])).toEqual([
      [undefined, undefined, undefined],
      ['alpha', SID, undefined],
      ['alpha', SID, undefined],
      ['alpha', SID, CID],
      ['alpha', SID, `${CID}b`],
      ['alpha', undefined, `${CID}b`],
      ['alpha', undefined, `${CID}c`],
      ['alpha', SID, undefined],
      ['alpha', SID, undefined],
    ]);
    expect(lines[5]).toMatchObject({ at: events[5]!.time, payload: { clientOrderId: `${CID}b`, fill: { quantity: 5 } } });
  });

  it('does not repeat an id the logger already binds, and skips events below its level', () => {
    const { logger, out } = setup({ level: 'info' });
    const alpha = withIds(logger, { signature: 'alpha' });
    logFeedEvent(alpha, { type: 'session', time: 'x', signature: 'alpha', payload: { sessionId: SID, state: 'deciding' } }); // debug: skipped
    logFeedEvent(alpha, { type: 'order', time: 'x', signature: 'alpha', payload: { clientOrderId: CID, status: 'accepted' } });
    expect(out.lines()).toHaveLength(1);
    expect(out.raw().match(/"signature"/g)).toHaveLength(1);
    expect(idsOfFeedEvent({ type: 'session', time: 'x', payload: { outcome: { sessionId: SID } } })).toEqual({ sessionId: SID });
  });
});

describe('pretty and file output', () => {
  it('pretty: one readable line with the ids in brackets, secrets censored', () => {
    const { logger, out } = setup({ format: 'pretty' });
    withIds(logger, { signature: 'alpha', sessionId: SID }).warn({ step: 'deciding', key: API_KEY }, `slow model ${API_KEY}`);
    expect(out.raw()).toBe(`2026-01-05T14:35:00.000Z WARN  [alpha ${SID}] slow model [redacted] step=deciding key=[redacted]\n`);
    expect(formatPretty('not json')).toBe('not json\n');
  });

  it('appends JSON lines to the file (whatever the console format) and closes it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-log-'));
    dirs.push(dir);
    const file = join(dir, 'logs', 'run.jsonl');
    await writeFile(join(dir, 'keep.jsonl'), '');
    const { logger, out } = setup({ format: 'pretty', file, level: 'debug' });
    logger.info({ apiKey: 'k-1' }, 'started');
    logger.debug(`with ${API_KEY}`);
    await closeLogger(logger);
    expect(out.lines()).toHaveLength(2);
    const again = createLogger({ now: () => EPOCH, destination: memory().stream, file });
    again.info('second run');
    await closeLogger(again);
    await closeLogger(again); // idempotent
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(API_KEY);
    expect(text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      { level: 'info', time: '2026-01-05T14:35:00.000Z', apiKey: '[redacted]', msg: 'started' },
      { level: 'debug', time: '2026-01-05T14:35:00.000Z', msg: 'with [redacted]' },
      { level: 'info', time: '2026-01-05T14:35:00.000Z', msg: 'second run' },
    ]);
  });
});

describe('createLogger: a log file that fails', () => {
  // /dev/full answers every write with ENOSPC: a disk full of logs. Found by running a paper
  // process with log.file on it: the first tick's line threw out of the feed and ended the run.
  it.skipIf(!existsSync('/dev/full'))('keeps logging to the console, reports the failure once and gives the file up; closing still ends', async () => {
    const failures: unknown[] = [];
    const { logger, out } = setup({ file: '/dev/full', onFileError: (e) => failures.push(e) });
    for (const n of [1, 2, 3]) expect(() => logger.info(`line ${n}`)).not.toThrow();
    expect(out.lines()).toHaveLength(3);
    expect(failures).toHaveLength(1);
    expect((failures[0] as NodeJS.ErrnoException).code).toBe('ENOSPC');
    await closeLogger(logger);
  });
});

describe('secretValues', () => {
  it('reads the values of every env var the config names (keys ending in _env), skipping unset ones', () => {
    const config = {
      models: [{ signature: 'a', api_key_env: 'OPENAI_API_KEY' }, { signature: 'b', api_key_env: 'OTHER_KEY' }],
      broker: { api_key_env: 'ALPACA_KEY', api_secret_env: 'ALPACA_SECRET' },
      server: { token_env: 'FEED_TOKEN' },
      data_source: { type: 'replay' },
    };
    const env = { OPENAI_API_KEY: 'sk-1', ALPACA_KEY: 'ak', ALPACA_SECRET: 'as', FEED_TOKEN: '', OTHER_KEY: undefined, UNRELATED: 'u' };
    expect(secretValues(config, env).sort()).toEqual(['ak', 'as', 'sk-1']);
  });
});

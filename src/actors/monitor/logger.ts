/**
 * Structured logs with pino: one JSON line per event (`{"level":"info","time":...,
 * "msg":...}`), or a short human line (`pretty`, our own formatter: no pino-pretty),
 * optionally also appended as JSON lines to a file.
 *
 * - Time comes from the injected clock (pino's `timestamp` option), never Date.now().
 * - Secrets are kept out two ways: pino `redact` paths for credential-looking keys (at
 *   the top level, one and two levels down, and in `headers`), and a scrub of known
 *   secret values (the env values the config names: `secretValues`) over every
 *   finished line, so a key that ended up inside a message or an error is censored
 *   too. Values shorter than 4 characters are not scrubbed (they would match
 *   ordinary text; config refuses such secrets anyway).
 * - Correlation ids: `withIds(logger, { signature, sessionId, clientOrderId })` binds
 *   them on a child logger; `logFeedEvent` writes one line per feed event with the
 *   ids pulled from its payload, so `grep <sessionId>` follows a session end to end.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type DestinationStream, type Level, type LevelWithSilent, type Logger } from 'pino';
import { DateTime } from 'luxon';
import type { FeedEvent, FeedEventType } from '../../domain/feed.js';
import { REDACTED } from '../../server/redact.js';

export type LogFormat = 'json' | 'pretty';
export type { Logger };

export interface LoggerOptions {
  /** Lowest level written; default `info`. */
  readonly level?: LevelWithSilent;
  /** `json` (default): JSON lines; `pretty`: one readable line per event. */
  readonly format?: LogFormat;
  /** Also append JSON lines to this file (created with its folders; always JSON, whatever `format`). */
  readonly file?: string;
  /**
   * A write to `file` failed (disk full, I/O error): called once, then the file is given up
   * and the other destination goes on. Logging must never take the trading process down.
   */
  readonly onFileError?: (error: unknown) => void;
  /** Where `json` / `pretty` lines go; default stdout. Tests pass an in-memory stream. */
  readonly destination?: DestinationStream;
  /** The injected clock, epoch ms: every line's `time`. */
  readonly now: () => number;
  /** IANA zone of the `time` field; default UTC. */
  readonly zone?: string;
  /** Secret values to censor wherever they appear (see `secretValues`). */
  readonly secrets?: readonly (string | undefined)[];
  /** Fields on every line (e.g. `{ mode: 'paper', pid: process.pid }`); default none. */
  readonly base?: Record<string, unknown>;
}

/** Keys whose values never reach a log line, wherever the redact paths reach. */
export const SECRET_KEYS = [
  'apiKey', 'api_key', 'apikey', 'apiSecret', 'api_secret', 'secretKey', 'secret_key', 'secret', 'clientSecret', 'client_secret',
  'token', 'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'password', 'passwd', 'authorization', 'Authorization',
  'cookie', 'Cookie', 'credentials',
] as const;

/** pino redact paths: each key at the top, one and two levels down; HTTP headers anywhere up to two levels. */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  ...['authorization', 'Authorization', 'cookie', 'Cookie', 'x-api-key', 'X-Api-Key'].flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
];

const MIN_SECRET_LENGTH = 4;

/**
 * The values of every environment variable a config names (keys ending in `_env`,
 * anywhere in it), for `secrets`. Unset or empty variables are skipped.
 */
export function secretValues(config: unknown, env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k.endsWith('_env') && typeof v === 'string') {
        const value = env[v];
        if (value && value.trim() !== '') out.add(value);
      } else walk(v);
    }
  };
  walk(config);
  return [...out];
}

/** Replace every secret in a finished line: as written, and as JSON escapes it inside a string. */
function scrubber(secrets: readonly (string | undefined)[]): ((line: string) => string) | undefined {
  const forms = [...new Set(secrets.filter((s): s is string => s !== undefined && s.length >= MIN_SECRET_LENGTH).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))]
    // Longest first, so a secret containing another is censored whole.
    .sort((a, b) => b.length - a.length);
  if (forms.length === 0) return undefined;
  return (line) => {
    let out = line;
    for (const f of forms) if (out.includes(f)) out = out.split(f).join(REDACTED);
    return out;
  };
}

/**
 * The log file: synchronous appends (a trading process's log volume is small, and a line must
 * not be lost in a crash). A write that fails is reported once and the file is given up
 * (pino's sonic-boom threw the error out of the caller, and with a listener never closed).
 */
class LogFile {
  #fd: number | undefined;
  constructor(
    path: string,
    private readonly onError: (error: unknown) => void,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = openSync(path, 'a');
  }

  write(line: string): void {
    if (this.#fd === undefined) return;
    try {
      writeSync(this.#fd, line);
    } catch (err) {
      this.close();
      this.onError(err);
    }
  }

  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }
}

const files = new WeakMap<Logger, LogFile>();

export function createLogger(options: LoggerOptions): Logger {
  const zone = options.zone ?? 'utc';
  const main: DestinationStream = options.format === 'pretty' ? prettyStream(options.destination ?? process.stdout) : (options.destination ?? process.stdout);
  const file = options.file ? new LogFile(options.file, options.onFileError ?? (() => undefined)) : undefined;
  const stream = file ? pino.multistream([{ stream: main, level: 'trace' }, { stream: file, level: 'trace' }]) : main;
  const scrub = scrubber(options.secrets ?? []);
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: options.base ?? {},
      timestamp: () => `,"time":${JSON.stringify(DateTime.fromMillis(options.now(), { zone }).toISO())}`,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      ...(scrub ? { hooks: { streamWrite: scrub } } : {}),
    },
    stream,
  );
  if (file) files.set(logger, file);
  return logger;
}

/** Close the log file of a logger made by `createLogger` (no-op without one). */
export function closeLogger(logger: Logger): Promise<void> {
  const file = files.get(logger);
  if (!file) return Promise.resolve();
  files.delete(logger);
  file.close();
  return Promise.resolve();
}

// --- correlation ids -------------------------------------------------------------

export interface CorrelationIds {
  readonly signature?: string | undefined;
  readonly sessionId?: string | undefined;
  readonly clientOrderId?: string | undefined;
}

/** A child logger with the given ids on every line (absent ids are left out). */
export function withIds(logger: Logger, ids: CorrelationIds): Logger {
  const bound = Object.fromEntries(Object.entries(ids).filter(([, v]) => v !== undefined && v !== ''));
  return Object.keys(bound).length === 0 ? logger : logger.child(bound);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const rec = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The ids a feed event is about: its signature, and the session / order named in its payload. */
export function idsOfFeedEvent(event: FeedEvent): CorrelationIds {
  const p = event.payload;
  const sessionId = str(p['sessionId']) ?? str(rec(p['outcome'])['sessionId']);
  const clientOrderId = str(p['clientOrderId']);
  return { ...(event.signature ? { signature: event.signature } : {}), ...(sessionId ? { sessionId } : {}), ...(clientOrderId ? { clientOrderId } : {}) };
}

type Line = { readonly level: Level; readonly msg: string };

const ALERT_LEVELS: Record<string, Level> = { info: 'info', warning: 'warn', critical: 'error' };

/** One row per feed event type: its log level and message. */
const FEED_LINES: { readonly [T in FeedEventType]: (p: Record<string, unknown>) => Line } = {
  hello: () => ({ level: 'debug', msg: 'feed client connected' }),
  tick: (p) => ({ level: 'info', msg: `tick ${String(p['market'])} ${String(p['frequency'])} ${String(p['at'])}${p['marketOpen'] === false ? ' (market closed)' : ''}` }),
  session: (p) => {
    const o = p['outcome'];
    if (o === undefined) return { level: 'debug', msg: `session ${String(p['state'])}` };
    const outcome = rec(o);
    const results = Array.isArray(outcome['results']) ? (outcome['results'] as unknown[]).map(rec) : [];
    const filled = results.filter((r) => r['status'] === 'filled').length;
    const reason = str(outcome['reason']) ?? str(rec(outcome['error'])['reason']);
    const status = String(outcome['status']);
    return { level: status === 'failed' ? 'warn' : 'info', msg: `session ${status}${reason ? ` (${reason})` : ''}: ${results.length} orders, ${filled} filled` };
  },
  decision: (p) => {
    if (p['failed'] === true) return { level: 'warn', msg: `agent failed: ${String(p['message'])}` };
    if (p['done'] === true) return { level: 'info', msg: `agent done${p['reason'] ? ` (${String(p['reason'])})` : ''}: ${String(p['summary'])}` };
    const i = rec(p['intent']);
    return { level: 'info', msg: `intent ${String(i['side'])} ${String(i['quantity'])} ${String(i['symbol'])}${i['limitPrice'] ? ` limit ${String(i['limitPrice'])}` : ''}` };
  },
  order: (p) => {
    const status = String(p['status']);
    const reason = str(p['reason']) ?? str(rec(p['result'])['reason']);
    return { level: status === 'rejected' || status === 'expired' ? 'warn' : 'info', msg: `order ${status}${reason ? ` (${reason})` : ''}` };
  },
  fill: (p) => {
    const f = rec(p['fill']);
    return { level: 'info', msg: `fill ${String(f['quantity'])} @ ${String(f['price'])}` };
  },
  'risk.rejected': (p) => ({ level: 'warn', msg: `risk rejected ${String(p['reason'])}: ${String(p['message'])}` }),
  alert: (p) => ({ level: ALERT_LEVELS[String(p['level'])] ?? 'warn', msg: `alert ${String(p['code'])}: ${String(p['message'])}` }),
  quote: (p) => ({ level: 'trace', msg: `quote ${String(p['symbol'])} ${String(p['price'])}` }),
  kill: (p) => ({ level: 'warn', msg: p['active'] === true ? `kill switch engaged${p['reason'] ? `: ${String(p['reason'])}` : ''}` : 'kill switch released' }),
  heartbeat: () => ({ level: 'debug', msg: 'heartbeat' }),
  notice: (p) => ({ level: 'debug', msg: `notice ${String(p['reason'])}` }),
};

/**
 * One line for one feed event: `{ event, at, signature?, sessionId?, clientOrderId?,
 * payload }` at the type's level. Ids the logger already binds are not repeated.
 */
export function logFeedEvent(logger: Logger, event: FeedEvent): void {
  const { level, msg } = FEED_LINES[event.type](event.payload);
  if (!logger.isLevelEnabled(level)) return;
  const bound = logger.bindings();
  const ids = Object.fromEntries(Object.entries(idsOfFeedEvent(event)).filter(([k]) => bound[k] === undefined));
  logger[level]({ event: event.type, at: event.time, ...ids, payload: event.payload }, msg);
}

// --- pretty ---------------------------------------------------------------------------

const PRETTY_SKIP = new Set(['level', 'time', 'msg', 'signature', 'sessionId', 'clientOrderId']);
const MAX_PRETTY_VALUE = 200;

/**
 * One readable line from one JSON log line:
 * `2026-01-05T14:35:00.000Z INFO  [alpha alpha@... alpha.2026...] message key=value`.
 */
export function formatPretty(jsonLine: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`;
  }
  const ids = [o['signature'], o['sessionId'], o['clientOrderId']].filter((v) => v !== undefined).map(String);
  const rest = Object.entries(o)
    .filter(([k]) => !PRETTY_SKIP.has(k))
    .map(([k, v]) => {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      return `${k}=${text.length > MAX_PRETTY_VALUE ? `${text.slice(0, MAX_PRETTY_VALUE)}…` : text}`;
    });
  const head = `${String(o['time'] ?? '')} ${String(o['level'] ?? '').toUpperCase().padEnd(5)}`;
  return `${[head, ids.length ? `[${ids.join(' ')}]` : undefined, o['msg'] === undefined ? undefined : String(o['msg']), ...rest].filter((s) => s !== undefined).join(' ')}\n`;
}

function prettyStream(out: { write(text: string): unknown }): DestinationStream {
  return { write: (line: string) => void out.write(formatPretty(line)) };
}

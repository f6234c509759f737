/**
 * A thin client of Alpaca's trading REST API on `fetch`, instead of the official SDK: SDK 4.0.2
 * (checked in its source, src/core/runtime.ts, src/rate-limit.ts, src/streaming/websocket.ts)
 * does have per-attempt timeouts and retries, but on wall-clock `setTimeout`/`Date.now()` with
 * `Math.random` jitter, so they cannot run on our injected clock (no virtual time in tests), and it
 * never retries a POST (rightly) but leaves the unknown outcome to the caller anyway. Here:
 *
 * - every attempt has its own deadline (`timeoutMs`, an AbortSignal fired by the injected RxJS
 *   scheduler), covering the answer's body too;
 * - answers are classed once (errors.ts): `once()` makes one attempt and throws the class;
 *   `call()` retries the temporary ones with back-off `backoffDelay(attempt)` (on the scheduler),
 *   never less than the server's `Retry-After` (or `X-RateLimit-Reset`), up to `maxRetries`;
 * - the key and secret go in the `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers and nowhere
 *   else; redirects are refused (a redirect off-host would carry the headers along).
 */
import { Subject, type SchedulerLike } from 'rxjs';
import type { z } from 'zod';
import { backoffDelay, type ReconnectOptions } from '../../../streams/alpaca-quotes.js';
import { AlpacaInvalidOrder, AlpacaNotFound, AlpacaOperationalError, AlpacaTemporaryError, classifyStatus, type AlpacaError } from './errors.js';
import { WireErrorSchema } from './wire.js';

export interface RetryOptions extends ReconnectOptions {
  /** Retries after the first attempt; default 4. */
  readonly maxRetries?: number;
  /** A Retry-After longer than this is cut to it; default 60 000 ms. */
  readonly maxRetryAfterMs?: number;
}

export interface AlpacaRestOptions {
  /** e.g. https://paper-api.alpaca.markets (no trailing /v2). */
  readonly baseUrl: string;
  readonly keyId: string;
  readonly secretKey: string;
  /** Deadlines and back-off sleeps run on it (virtual time in tests). */
  readonly scheduler: SchedulerLike;
  /** One attempt's deadline; default 10 000 ms. */
  readonly timeoutMs?: number;
  readonly retry?: RetryOptions;
  /** Default the global fetch. */
  readonly fetch?: typeof fetch;
}

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
}

/** One retry about to be waited out (for logs, metrics and tests). */
export interface RetryEvent {
  readonly method: string;
  readonly path: string;
  /** 1 = the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
}

export class AlpacaRest {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #scheduler: SchedulerLike;
  readonly #timeoutMs: number;
  readonly #retry: RetryOptions & { maxRetries: number; maxRetryAfterMs: number };
  readonly #fetch: typeof fetch;
  readonly #retries = new Subject<RetryEvent>();
  /** Every retry this client waits out. */
  readonly retries$ = this.#retries.asObservable();

  constructor(options: AlpacaRestOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, '');
    this.#headers = { 'APCA-API-KEY-ID': options.keyId, 'APCA-API-SECRET-KEY': options.secretKey, accept: 'application/json' };
    this.#scheduler = options.scheduler;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#retry = { baseMs: 500, factor: 2, maxMs: 30_000, jitter: 0.2, ...options.retry, maxRetries: options.retry?.maxRetries ?? 4, maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? 60_000 };
    this.#fetch = options.fetch ?? fetch;
  }

  /** Wait `ms` on the injected scheduler. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#scheduler.schedule(() => resolve(), ms));
  }

  /** The delay before retry number `attempt` (1-based) after `error`. */
  retryDelay(attempt: number, error: AlpacaTemporaryError): number {
    const backoff = backoffDelay(attempt, this.#retry);
    return Math.max(backoff, Math.min(error.retryAfterMs ?? 0, this.#retry.maxRetryAfterMs));
  }

  get maxRetries(): number {
    return this.#retry.maxRetries;
  }

  /** Tell the retry listeners (the broker's own retry loops use this too). */
  noteRetry(event: RetryEvent): void {
    this.#retries.next(event);
  }

  /** `once`, with temporary errors retried (back-off, Retry-After) up to `maxRetries`. */
  async call<T>(method: string, path: string, schema: z.ZodType<T>, options: RequestOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(method, path, schema, options);
      } catch (e) {
        if (!(e instanceof AlpacaTemporaryError) || attempt > this.#retry.maxRetries) throw e;
        const delayMs = this.retryDelay(attempt, e);
        this.noteRetry({ method, path, attempt, delayMs, reason: e.message });
        await this.sleep(delayMs);
      }
    }
  }

  /** One attempt: the parsed answer (undefined for 204), or a classed AlpacaError. */
  async once<T>(method: string, path: string, schema: z.ZodType<T>, options: RequestOptions = {}): Promise<T> {
    const url = new URL(`${this.#base}${path}`);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const where = `${method} ${path}`;
    const abort = new AbortController();
    let timedOut = false;
    const deadline = this.#scheduler.schedule(() => {
      timedOut = true;
      abort.abort();
    }, this.#timeoutMs);
    let status: number;
    let text: string;
    let headers: Headers;
    try {
      const res = await this.#fetch(url, {
        method,
        headers: options.body === undefined ? this.#headers : { ...this.#headers, 'content-type': 'application/json' },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: abort.signal,
        redirect: 'error',
      });
      status = res.status;
      headers = res.headers;
      text = await res.text();
    } catch (e) {
      const why = timedOut ? `no answer within ${this.#timeoutMs} ms` : `connection failed: ${e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e)}`;
      throw new AlpacaTemporaryError(`Alpaca ${where}: ${why}; the outcome is unknown`, undefined, undefined, undefined, false);
    } finally {
      deadline.unsubscribe();
    }
    if (status >= 200 && status < 300) {
      if (status === 204 || text === '') return undefined as T;
      const parsed = schema.safeParse(parseJson(text));
      if (!parsed.success) throw new AlpacaTemporaryError(`Alpaca ${where}: unexpected answer (${status}): ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, status, undefined, undefined, false);
      return parsed.data;
    }
    throw this.#error(where, status, text, headers);
  }

  #error(where: string, status: number, text: string, headers: Headers): AlpacaError {
    const body = WireErrorSchema.safeParse(parseJson(text));
    const code = body.success ? body.data.code : undefined;
    const brokerMessage = body.success ? body.data.message : text.slice(0, 200);
    const message = `Alpaca ${where}: ${status}${code !== undefined ? ` ${code}` : ''} ${brokerMessage}`;
    switch (classifyStatus(status)) {
      case 'halt':
        return new AlpacaOperationalError(`${message} (the API key is not accepted: trading stops)`, status, code, brokerMessage);
      case 'not_found':
        return new AlpacaNotFound(message, status, code, brokerMessage);
      case 'never':
        return new AlpacaInvalidOrder(message, status, code, brokerMessage);
      case 'retry':
        return new AlpacaTemporaryError(message, status, code, brokerMessage, status === 429, this.#retryAfterMs(headers, status));
    }
  }

  /** Retry-After (seconds or a date); for a 429 without it, the rate-limit window's reset. */
  #retryAfterMs(headers: Headers, status: number): number | undefined {
    const after = headers.get('retry-after');
    if (after !== null) {
      const s = Number(after);
      if (Number.isFinite(s)) return Math.max(0, s * 1000);
      const at = Date.parse(after);
      if (!Number.isNaN(at)) return Math.max(0, at - this.#scheduler.now());
    }
    if (status !== 429) return undefined;
    const reset = Number(headers.get('x-ratelimit-reset') ?? NaN);
    return Number.isFinite(reset) ? Math.max(0, reset * 1000 - this.#scheduler.now()) : undefined;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

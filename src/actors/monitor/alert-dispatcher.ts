/**
 * Sends each alert to the people who should see it, through every configured channel
 * (./channels/), without letting a flapping feed flood a phone or a dead channel hold up the
 * process.
 *
 * `dispatch(alert)` is synchronous and returns at once: the alert goes into each channel's
 * own pipeline, and a channel that is slow, failing or rate-limited holds up nobody else.
 * Per channel, in order:
 *
 * 1. Level: alerts below the channel's `minLevel` are not for it (`info` < `warning` < `critical`).
 * 2. De-duplication: the first alert of a (code, signature, level) is sent and opens a window
 *    of `dedupeMs`; repeats inside it are counted (`deduped`), not sent. When the window ends
 *    and repeats came, the latest repeat goes out carrying "… and N more like this since T"
 *    and a new window opens; so a steady repeat costs one message per window, and a repeat
 *    that stops is still reported. Without repeats the window just closes.
 * 3. Rate limit (sliding window: at most `max` messages per `perMs`): non-critical messages
 *    may use `max - criticalReserve` of the window, critical ones all of it. So the channel's
 *    own limit (DingTalk and WeCom take 20 a minute) is never exceeded, and critical alerts
 *    still go out, ahead of held non-critical ones, while the reserve lasts. Whatever is held
 *    goes out as ONE digest when the window has room again. A critical storm beyond the
 *    reserve is digested the same way.
 * 4. Queue: at most `queueSize` notices wait; on overflow the waiting ones are merged into
 *    one digest (nothing is silently lost; a digest lists 20 alerts and counts the rest).
 * 5. Send, one at a time per channel, each attempt timed out by the channel (`timeoutMs`,
 *    on the scheduler). A retryable failure (network, timeout, HTTP 5xx/429, the channel's
 *    rate-limit error codes) is retried after `min(maxDelayMs, baseDelayMs * 2^(n-1))`
 *    (or the server's Retry-After when longer), up to `retries.max` times, then counted
 *    `failed`. Every failed attempt is reported to `onError`, redacted. A message counts
 *    once against the rate limit, however many attempts it takes.
 *
 * All timers (windows, rate-limit wake-ups, back-off, the close deadline) run on the
 * injected scheduler, and every instant is read from the injected `now()`, so tests drive
 * the whole thing with virtual time.
 *
 * `close()` stops taking alerts, sends what repeats the open de-duplication windows hold,
 * sends each channel's waiting notices as one digest (ignoring the rate limit: it is the
 * last message), lets retries run, and waits at most `closeTimeoutMs`; then it aborts what
 * is still in flight and counts what never went out as `dropped`.
 *
 * Secrets: every error text is redacted with every channel's secrets before it reaches
 * `onError` or `stats()`.
 */
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import type { AlertsConfig } from '../../config/alerts-schema.js';
import {
  atLeast,
  ChannelError,
  describeError,
  mergeNotices,
  noticeCode,
  noticeLevel,
  redact,
  type Alert,
  type AlertChannel,
  type AlertLevel,
  type AlertNotice,
  type ChannelType,
  type Notice,
} from './channels/channel.js';
import { createChannels } from './channels/index.js';

export interface RateLimit {
  /** Messages per window. */
  readonly max: number;
  readonly perMs: number;
  /** Share of `max` only critical messages may use. */
  readonly criticalReserve: number;
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly max: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface DispatchChannel {
  readonly channel: AlertChannel;
  /** Default `info`: everything. */
  readonly minLevel?: AlertLevel;
  /** This channel's own limit; default the dispatcher's. */
  readonly rateLimit?: RateLimit;
}

export interface AlertFailure {
  readonly channel: string;
  readonly type: ChannelType;
  /** `retrying`: will try again in `retryInMs`; `failed`: given up; `dropped`: never sent (closing). */
  readonly outcome: 'retrying' | 'failed' | 'dropped';
  /** Redacted; starts with the channel's name. */
  readonly message: string;
  readonly level: AlertLevel;
  /** The alert's code, or ALERT_DIGEST. */
  readonly code: string;
  /** 1 = the first attempt. */
  readonly attempt?: number;
  readonly retryInMs?: number;
}

export interface ChannelStats {
  /** Messages delivered (a digest is one). */
  sent: number;
  /** Messages given up on after their retries (or at once when not retryable). */
  failed: number;
  /** Messages never attempted or abandoned mid-retry at close, and alerts dispatched after close. */
  dropped: number;
  /** Repeats folded into a later message by de-duplication. */
  deduped: number;
  /** Attempts beyond the first. */
  retries: number;
  /** Alerts delivered inside digests. */
  digested: number;
  /** Messages waiting now. */
  queued: number;
  /** The last failure, redacted. */
  lastError?: string;
}

export interface AlertDispatcherOptions {
  readonly channels: readonly DispatchChannel[];
  /** De-duplication window; 0 = off. Default 300 000 (5 min). */
  readonly dedupeMs?: number;
  /** Default 20 per 60 s, 5 of them reserved for critical alerts. */
  readonly rateLimit?: RateLimit;
  /** Default 3 retries, 2 s base, 60 s cap. */
  readonly retries?: RetryPolicy;
  /** Messages waiting per channel before they are merged; default 100. */
  readonly queueSize?: number;
  /** `close()` waits at most this long; default 10 000. */
  readonly closeTimeoutMs?: number;
  /** Timers; default asyncScheduler. */
  readonly scheduler?: SchedulerLike;
  /** Epoch ms; default `scheduler.now()`. */
  readonly now?: () => number;
  readonly onError?: (failure: AlertFailure) => void;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { max: 20, perMs: 60_000, criticalReserve: 5 };
export const DEFAULT_RETRIES: RetryPolicy = { max: 3, baseDelayMs: 2_000, maxDelayMs: 60_000 };

export class AlertDispatcher {
  readonly #runners: ChannelRunner[];
  readonly #scheduler: SchedulerLike;
  readonly #closeTimeoutMs: number;
  readonly #secrets: string[];
  #inFlight = 0;
  #settleWaiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;

  constructor(options: AlertDispatcherOptions) {
    const scheduler = options.scheduler ?? asyncScheduler;
    this.#scheduler = scheduler;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    const names = new Set<string>();
    for (const c of options.channels) {
      if (names.has(c.channel.name)) throw new RangeError(`two alert channels are named ${c.channel.name}`);
      names.add(c.channel.name);
    }
    this.#secrets = options.channels.flatMap((c) => c.channel.secrets);
    const shared: Shared = {
      scheduler,
      now: options.now ?? (() => scheduler.now()),
      dedupeMs: options.dedupeMs ?? 300_000,
      retries: options.retries ?? DEFAULT_RETRIES,
      queueSize: Math.max(1, options.queueSize ?? 100),
      secrets: this.#secrets,
      report: (f) => {
        try {
          options.onError?.(f);
        } catch {
          // A failing error handler must not stop the alerts.
        }
      },
      started: () => {
        this.#inFlight++;
      },
      ended: () => {
        this.#inFlight--;
        this.#checkSettled();
      },
    };
    this.#runners = options.channels.map((c) => {
      const limit = c.rateLimit ?? options.rateLimit ?? DEFAULT_RATE_LIMIT;
      if (!(limit.criticalReserve >= 0 && limit.criticalReserve < limit.max)) {
        throw new RangeError(`alert channel ${c.channel.name}: the critical reserve must be less than the rate limit`);
      }
      return new ChannelRunner(c.channel, c.minLevel ?? 'info', limit, shared);
    });
  }

  /** Hand an alert to every channel; returns at once, never throws. */
  dispatch(alert: Alert): void {
    for (const r of this.#runners) r.accept(alert, this.#closing !== undefined);
  }

  /** Counters per channel name (copies). */
  stats(): Record<string, ChannelStats> {
    const out: Record<string, ChannelStats> = {};
    for (const r of this.#runners) out[r.channel.name] = r.snapshot();
    return out;
  }

  /**
   * Resolves when no request is in flight on any channel: everything left is waiting on a
   * timer (a back-off, a rate-limit window, a de-duplication window). Tests call it before
   * moving virtual time.
   */
  settled(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settleWaiters.push(resolve));
  }

  /** Flush and stop; see the module comment. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const r of this.#runners) r.beginClose();
    const idle = () => this.#runners.every((r) => r.idle());
    if (!idle()) {
      await new Promise<void>((resolve) => {
        const deadline = this.#scheduler.schedule(() => {
          for (const r of this.#runners) r.onIdle = undefined;
          resolve();
        }, this.#closeTimeoutMs);
        const check = () => {
          if (!idle()) return;
          deadline.unsubscribe();
          for (const r of this.#runners) r.onIdle = undefined;
          resolve();
        };
        for (const r of this.#runners) r.onIdle = check;
      });
    }
    for (const r of this.#runners) r.abandon();
    await this.settled();
    await Promise.all(
      this.#runners.map(async (r) => {
        try {
          await r.channel.close?.();
        } catch (err) {
          r.fail(`${r.channel.name}: close failed: ${describeError(err, this.#secrets)}`);
        }
      }),
    );
  }

  #checkSettled(): void {
    if (this.#inFlight !== 0) return;
    const waiters = this.#settleWaiters;
    this.#settleWaiters = [];
    for (const w of waiters) w();
  }
}

interface Shared {
  readonly scheduler: SchedulerLike;
  readonly now: () => number;
  readonly dedupeMs: number;
  readonly retries: RetryPolicy;
  readonly queueSize: number;
  readonly secrets: readonly string[];
  readonly report: (f: AlertFailure) => void;
  readonly started: () => void;
  readonly ended: () => void;
}

interface Window {
  /** Repeats since the window opened. */
  count: number;
  latest?: Alert;
  firstRepeatAt?: number;
  timer: Subscription;
}

/** One channel's pipeline: level, de-duplication, rate limit, queue, send with retries. */
class ChannelRunner {
  readonly #stats: Omit<ChannelStats, 'queued'> = { sent: 0, failed: 0, dropped: 0, deduped: 0, retries: 0, digested: 0 };
  readonly #windows = new Map<string, Window>();
  #queue: Notice[] = [];
  /** Instants (now()) of the messages sent inside the current rate window, oldest first. */
  #sentAt: number[] = [];
  /** The pump had to hold messages back for the rate limit; they go out as one digest. */
  #held = false;
  #wake: Subscription | undefined;
  /** A message in flight or waiting for its retry. */
  #current: Notice | undefined;
  #backoff: Subscription | undefined;
  #abort = new AbortController();
  #closing = false;
  #abandoned = false;
  /** Called whenever the runner may have become idle (while closing). */
  onIdle: (() => void) | undefined;

  constructor(
    readonly channel: AlertChannel,
    readonly minLevel: AlertLevel,
    readonly limit: RateLimit,
    readonly shared: Shared,
  ) {}

  snapshot(): ChannelStats {
    return { ...this.#stats, queued: this.#queue.length };
  }

  idle(): boolean {
    return this.#current === undefined && this.#queue.length === 0;
  }

  accept(alert: Alert, closed: boolean): void {
    if (!atLeast(alert.level, this.minLevel)) return;
    if (closed) {
      this.#stats.dropped++;
      this.#report('dropped', alert.level, alert.code, `${this.channel.name}: alert dispatched after close, not sent`);
      return;
    }
    const { dedupeMs } = this.shared;
    if (dedupeMs > 0) {
      const key = `${alert.level}\u0000${alert.code}\u0000${alert.signature ?? ''}`;
      const open = this.#windows.get(key);
      if (open) {
        open.count++;
        open.latest = alert;
        open.firstRepeatAt ??= alert.tsEvent;
        this.#stats.deduped++;
        return;
      }
      this.#openWindow(key);
    }
    this.#offer({ kind: 'alert', alert, more: 0 });
  }

  beginClose(): void {
    this.#closing = true;
    for (const [key, w] of this.#windows) {
      w.timer.unsubscribe();
      const notice = this.#repeatNotice(w);
      this.#windows.delete(key);
      if (notice) this.#offer(notice);
    }
    this.#wake?.unsubscribe();
    this.#wake = undefined;
    this.#pump();
  }

  /** The close deadline passed: stop retrying, abort the request in flight, drop the rest. */
  abandon(): void {
    this.#abandoned = true;
    for (const n of this.#queue) this.#drop(n, 'not sent before the close deadline');
    this.#queue = [];
    if (this.#backoff) {
      this.#backoff.unsubscribe();
      this.#backoff = undefined;
      if (this.#current) this.#drop(this.#current, 'retry abandoned at the close deadline');
      this.#current = undefined;
    }
    this.#abort.abort();
  }

  fail(message: string): void {
    this.#stats.lastError = message;
    this.shared.report({ channel: this.channel.name, type: this.channel.type, outcome: 'failed', message, level: 'info', code: 'CHANNEL_CLOSE' });
  }

  // -------------------------------------------------------------------------
  // De-duplication

  #openWindow(key: string): void {
    const timer = this.shared.scheduler.schedule(() => this.#windowEnd(key), this.shared.dedupeMs);
    this.#windows.set(key, { count: 0, timer });
  }

  #windowEnd(key: string): void {
    const w = this.#windows.get(key);
    if (!w) return;
    this.#windows.delete(key);
    const notice = this.#repeatNotice(w);
    if (!notice) return;
    // Repeats came: the next window starts now, so a steady repeat is one message per window.
    this.#openWindow(key);
    this.#offer(notice);
  }

  #repeatNotice(w: Window): AlertNotice | undefined {
    if (w.count === 0 || w.latest === undefined) return undefined;
    return w.count > 1 ? { kind: 'alert', alert: w.latest, more: w.count - 1, since: w.firstRepeatAt! } : { kind: 'alert', alert: w.latest, more: 0 };
  }

  // -------------------------------------------------------------------------
  // Queue and rate limit

  #offer(notice: Notice): void {
    if (this.#queue.length >= this.shared.queueSize) {
      this.#queue = [mergeNotices([...this.#queue, notice], this.#held ? 'rate_limit' : 'queue_full', this.shared.now())];
    } else this.#queue.push(notice);
    this.#pump();
  }

  #pump(): void {
    if (this.#current !== undefined || this.#queue.length === 0 || this.#abandoned) return;
    const now = this.shared.now();
    if (this.#closing) {
      // The last message: whatever waits goes as one, whatever the rate limit says.
      const next = this.#queue.length > 1 ? mergeNotices(this.#queue, 'closing', now) : this.#queue[0]!;
      this.#queue = [];
      this.#start(next, now);
      return;
    }
    while (this.#sentAt.length > 0 && this.#sentAt[0]! <= now - this.limit.perMs) this.#sentAt.shift();
    const used = this.#sentAt.length;
    const allows = (level: AlertLevel) => used < (level === 'critical' ? this.limit.max : this.limit.max - this.limit.criticalReserve);
    if (!this.#held && allows(noticeLevel(this.#queue[0]!))) {
      this.#start(this.#queue.shift()!, now);
      return;
    }
    // A critical alert goes out on its own, ahead of the held ones, while the reserve lasts.
    const critical = allows('critical') ? this.#queue.findIndex((n) => noticeLevel(n) === 'critical') : -1;
    if (critical >= 0) {
      this.#start(this.#queue.splice(critical, 1)[0]!, now);
      return;
    }
    if (this.#held) {
      const merged = this.#queue.length > 1 ? mergeNotices(this.#queue, 'rate_limit', now) : this.#queue[0]!;
      if (allows(noticeLevel(merged))) {
        this.#queue = [];
        this.#held = false;
        this.#start(merged, now);
        return;
      }
    }
    this.#held = true;
    if (this.#wake === undefined) {
      const reopenAt = this.#sentAt[0]! + this.limit.perMs;
      this.#wake = this.shared.scheduler.schedule(() => {
        this.#wake = undefined;
        this.#pump();
      }, Math.max(0, reopenAt - now));
    }
  }

  // -------------------------------------------------------------------------
  // Sending

  #start(notice: Notice, now: number): void {
    this.#sentAt.push(now);
    this.#current = notice;
    this.#attempt(notice, 1);
  }

  #attempt(notice: Notice, attempt: number): void {
    this.#backoff = undefined;
    this.shared.started();
    let sending: Promise<void>;
    try {
      sending = this.channel.send(notice, this.#abort.signal);
    } catch (err) {
      sending = Promise.reject(err);
    }
    sending.then(
      () => {
        this.#stats.sent++;
        if (notice.kind === 'digest') this.#stats.digested += notice.total;
        this.#finish();
      },
      (err: unknown) => this.#failed(notice, attempt, err),
    );
  }

  #failed(notice: Notice, attempt: number, err: unknown): void {
    const error = err instanceof ChannelError ? err : undefined;
    const message = redact(error?.message ?? `${this.channel.name}: ${describeError(err, this.shared.secrets)}`, this.shared.secrets);
    if (this.#abandoned) {
      this.#drop(notice, 'aborted at the close deadline');
      this.#finish();
      return;
    }
    const { retries } = this.shared;
    if (error?.retryable && attempt <= retries.max) {
      const backoff = retries.baseDelayMs * 2 ** (attempt - 1);
      const delay = Math.min(retries.maxDelayMs, Math.max(backoff, error.details.retryAfterMs ?? 0));
      this.#stats.retries++;
      this.#report('retrying', noticeLevel(notice), noticeCode(notice), message, attempt, delay);
      this.#backoff = this.shared.scheduler.schedule(() => this.#attempt(notice, attempt + 1), delay);
      this.shared.ended();
      return;
    }
    this.#stats.failed++;
    this.#stats.lastError = message;
    this.#report('failed', noticeLevel(notice), noticeCode(notice), message, attempt);
    this.#finish();
  }

  #finish(): void {
    this.#current = undefined;
    this.#pump();
    this.shared.ended();
    if (this.idle()) this.onIdle?.();
  }

  #drop(notice: Notice, why: string): void {
    this.#stats.dropped++;
    this.#report('dropped', noticeLevel(notice), noticeCode(notice), `${this.channel.name}: ${why}`);
  }

  #report(outcome: AlertFailure['outcome'], level: AlertLevel, code: string, message: string, attempt?: number, retryInMs?: number): void {
    this.shared.report({
      channel: this.channel.name,
      type: this.channel.type,
      outcome,
      message: redact(message, this.shared.secrets),
      level,
      code,
      ...(attempt !== undefined ? { attempt } : {}),
      ...(retryInMs !== undefined ? { retryInMs } : {}),
    });
  }
}

// ---------------------------------------------------------------------------
// From the config

export interface CreateDispatcherDeps {
  /** Where the secrets are read; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  readonly scheduler?: SchedulerLike;
  readonly now?: () => number;
  readonly onError?: (failure: AlertFailure) => void;
}

/**
 * The dispatcher the `alerts` config section describes. Reads every secret now, so a
 * missing environment variable stops the process at start (InputError naming the
 * variable), not at the first alert.
 */
export function createDispatcher(config: AlertsConfig, deps: CreateDispatcherDeps = {}): AlertDispatcher {
  const scheduler = deps.scheduler ?? asyncScheduler;
  const now = deps.now ?? (() => scheduler.now());
  const channels = createChannels(config, { env: deps.env ?? process.env, scheduler, now });
  const rate = (r: AlertsConfig['rate_limit']): RateLimit => ({ max: r.max, perMs: r.per_seconds * 1000, criticalReserve: r.critical_reserve });
  return new AlertDispatcher({
    channels: channels.map(({ channel, spec }) => ({
      channel,
      minLevel: spec.min_level,
      ...(spec.rate_limit !== undefined ? { rateLimit: rate(spec.rate_limit) } : {}),
    })),
    dedupeMs: config.dedupe_seconds * 1000,
    rateLimit: rate(config.rate_limit),
    retries: {
      max: config.retries.max,
      baseDelayMs: config.retries.base_delay_seconds * 1000,
      maxDelayMs: config.retries.max_delay_seconds * 1000,
    },
    queueSize: config.queue_size,
    closeTimeoutMs: config.close_timeout_seconds * 1000,
    scheduler,
    now,
    ...(deps.onError ? { onError: deps.onError } : {}),
  });
}

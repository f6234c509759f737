/**
 * What every alert channel (WeCom, DingTalk, Feishu, email, generic webhook) shares: the
 * notice it sends, the channel interface the dispatcher drives, the error it throws, and the
 * two rules that keep secrets in the process.
 *
 * - A channel sends one `Notice` per call: a single alert (possibly standing for repeats that
 *   de-duplication held back), or a digest of several alerts (the rate limit or a full queue
 *   merged them). It never retries: the dispatcher retries in one place, on
 *   `ChannelError.retryable`.
 * - Errors are `ChannelError`s whose message is written for a person and never holds a
 *   secret: every text that may have come from outside (a server's errmsg, a socket error, a
 *   URL parse error) goes through `redact` with the channel's `secrets` before it is put in a
 *   message. The dispatcher redacts once more, so a secret that slips through one net is
 *   caught by the other.
 * - A request times out on the injected scheduler (`timeoutSignal`), never on wall time, so
 *   tests drive timeouts with virtual time.
 */
import type { SchedulerLike } from 'rxjs';
import type { Message } from '../../../domain/messages.js';

export type Alert = Message<'monitor.alert'>;
export type AlertLevel = Alert['level'];

export const ALERT_LEVELS = ['info', 'warning', 'critical'] as const satisfies readonly AlertLevel[];
const RANK: Readonly<Record<AlertLevel, number>> = { info: 0, warning: 1, critical: 2 };

/** Whether `level` is `min` or above (`info` < `warning` < `critical`). */
export const atLeast = (level: AlertLevel, min: AlertLevel): boolean => RANK[level] >= RANK[min];

/** The higher of two levels. */
export const maxLevel = (a: AlertLevel, b: AlertLevel): AlertLevel => (RANK[a] >= RANK[b] ? a : b);

export const CHANNEL_TYPES = ['wecom', 'dingtalk', 'feishu', 'email', 'webhook', 'telegram'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** One alert as sent, with the repeats de-duplication folded into it. */
export interface AlertNotice {
  readonly kind: 'alert';
  readonly alert: Alert;
  /** Repeats held back by de-duplication besides this one ("… and 12 more like this"). */
  readonly more: number;
  /** When the first of those repeats happened (epoch ms); set when `more` > 0. */
  readonly since?: number;
}

/** Why several alerts went out as one message. */
export type DigestReason = 'rate_limit' | 'queue_full' | 'closing';

/** Several alerts merged into one message. */
export interface DigestNotice {
  readonly kind: 'digest';
  /** The highest level among the merged alerts. */
  readonly level: AlertLevel;
  readonly reason: DigestReason;
  /** The merged alerts, oldest first, at most DIGEST_MAX_ITEMS of them. */
  readonly items: readonly AlertNotice[];
  /** How many alerts the digest stands for, listed or not, repeats included. */
  readonly total: number;
  /** Alerts merged but not listed (beyond DIGEST_MAX_ITEMS). */
  readonly omitted: number;
  /** When the digest was made (epoch ms, injected clock). */
  readonly tsEvent: number;
}

export type Notice = AlertNotice | DigestNotice;

/** A digest lists this many alerts; the rest are counted. */
export const DIGEST_MAX_ITEMS = 20;

/** The code a digest goes out under. */
export const DIGEST_CODE = 'ALERT_DIGEST';

/** A plain alert as a notice; a notice as itself. */
export function asNotice(x: Alert | Notice): Notice {
  return 'type' in x ? { kind: 'alert', alert: x, more: 0 } : x;
}

export const noticeLevel = (n: Notice): AlertLevel => (n.kind === 'alert' ? n.alert.level : n.level);
export const noticeCode = (n: Notice): string => (n.kind === 'alert' ? n.alert.code : DIGEST_CODE);
/** How many alerts a notice stands for. */
export const noticeWeight = (n: Notice): number => (n.kind === 'alert' ? 1 + n.more : n.total);

/** Merge notices (alerts or digests) into one digest, oldest first. */
export function mergeNotices(notices: readonly Notice[], reason: DigestReason, tsEvent: number): DigestNotice {
  const items: AlertNotice[] = [];
  let level: AlertLevel = 'info';
  let total = 0;
  let omitted = 0;
  for (const n of notices) {
    level = maxLevel(level, noticeLevel(n));
    total += noticeWeight(n);
    const parts = n.kind === 'alert' ? [n] : n.items;
    if (n.kind === 'digest') omitted += n.omitted;
    for (const p of parts) {
      if (items.length < DIGEST_MAX_ITEMS) items.push(p);
      else omitted += noticeWeight(p);
    }
  }
  return { kind: 'digest', level, reason, items, total, omitted, tsEvent };
}

// ---------------------------------------------------------------------------
// The channel interface

export interface AlertChannel {
  /** Unique among the configured channels: the config's `name`, or the type. */
  readonly name: string;
  readonly type: ChannelType;
  /** Strings that never leave the process (tokens, signing secrets, passwords, the webhook URL). */
  readonly secrets: readonly string[];
  /**
   * Send one notice. Resolves when the far end accepted it; rejects with a ChannelError
   * (timeout included). `signal` aborts the request (the dispatcher closing).
   */
  send(notice: Notice, signal?: AbortSignal): Promise<void>;
  /** Release connections (SMTP). */
  close?(): Promise<void>;
}

/** What a channel needs from the process. */
export interface ChannelDeps {
  /** Timers (request timeouts). */
  readonly scheduler: SchedulerLike;
  /** Epoch ms, the injected clock: signing timestamps. */
  readonly now: () => number;
  /** A request gives up after this long. */
  readonly timeoutMs: number;
}

export type ChannelErrorKind =
  /** No connection, reset, DNS: the request may not have arrived. */
  | 'network'
  | 'timeout'
  /** Aborted by the caller (closing). */
  | 'aborted'
  /** A non-2xx HTTP status. */
  | 'http'
  /** A 2xx answer whose errcode / code says no. */
  | 'api'
  /** A 2xx answer that is not what the API sends. */
  | 'answer'
  /** The SMTP server refused, or the SMTP conversation failed. */
  | 'smtp';

export class ChannelError extends Error {
  override readonly name = 'ChannelError';
  constructor(
    readonly kind: ChannelErrorKind,
    /** Already redacted, starts with the channel's name. */
    message: string,
    /** Whether trying again later may succeed (network, timeout, 5xx, 429, the API's rate-limit codes). */
    readonly retryable: boolean,
    readonly details: {
      /** HTTP status or SMTP response code. */
      readonly status?: number;
      /** The API's own error code (errcode, code). */
      readonly code?: number | string;
      /** The server asked us to wait this long (Retry-After). */
      readonly retryAfterMs?: number;
    } = {},
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------
// Secrets

export const REDACTED = '[redacted]';

/**
 * `text` with every secret (and its URL-encoded form, as it appears in a query string)
 * replaced. Secrets shorter than 4 characters are not searched for: they would blank
 * ordinary words, and no real token is that short.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  const forms = secrets
    .filter((s) => s.length >= 4)
    .flatMap((s) => [s, encodeURIComponent(s)])
    .sort((a, b) => b.length - a.length);
  for (const s of forms) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** The message of anything thrown, redacted, on one line, at most `max` characters. */
export function describeError(err: unknown, secrets: readonly string[], max = 300): string {
  let text: string;
  if (err instanceof Error) {
    // undici wraps the socket error (ECONNREFUSED, ...) in `cause`; say both.
    const cause = (err as Error & { cause?: unknown }).cause;
    const code = cause instanceof Error ? (cause as Error & { code?: unknown }).code : undefined;
    text = cause instanceof Error ? `${typeof code === 'string' ? `${code} ` : ''}${cause.message}` : err.message;
  } else text = String(err);
  return clip(redact(text, secrets).replace(/\s+/g, ' ').trim(), max);
}

/** At most `max` characters, with an ellipsis when cut. */
export const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

// ---------------------------------------------------------------------------
// Timeouts on the injected scheduler

export interface TimedSignal {
  readonly signal: AbortSignal;
  /** Whether the timer (not the outer signal) aborted it. */
  timedOut(): boolean;
  /** Cancel the timer and stop listening to the outer signal. */
  done(): void;
}

/** An AbortSignal that fires after `timeoutMs` on `scheduler`, or when `outer` aborts. */
export function timeoutSignal(scheduler: SchedulerLike, timeoutMs: number, outer?: AbortSignal): TimedSignal {
  const controller = new AbortController();
  let timedOut = false;
  const timer = scheduler.schedule(() => {
    timedOut = true;
    controller.abort(new Error(`no answer within ${timeoutMs} ms`));
  }, timeoutMs);
  const onOuter = () => controller.abort(new Error('aborted'));
  if (outer?.aborted) controller.abort(new Error('aborted'));
  else outer?.addEventListener('abort', onOuter, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    done: () => {
      timer.unsubscribe();
      outer?.removeEventListener('abort', onOuter);
    },
  };
}

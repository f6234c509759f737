/**
 * What pre-trade risk remembers between checks, as plain data: the decision made for each
 * client order id (so a re-asked check is answered the same, without counting the order
 * twice), the approved orders the rate limits and the duplicate guard look back on, the
 * approved count of each signature's current session, and the day each signature breached its
 * daily loss (buys refused until the next exchange day, even if equity recovers).
 *
 * Everything is rebuilt by replaying decisions (`record` in order): the risk actor journals
 * each new decision and can be started with the journal of an earlier run, so a check
 * re-asked after a restart gets the recorded answer and a breach survives it.
 *
 * Bounded: decisions keep the newest `maxDecisions` client order ids (a re-ask comes within
 * one session's budget, long before that many more orders); recent orders keep `horizonMs`.
 */
import type { ReasonCode } from '../reasons.js';
import type { RiskCheckRecord } from '../messages.js';
import type { RiskIntent, RecentOrder } from './checks.js';

/** One answer of pre-trade risk, as journalled. */
export interface RiskDecision {
  readonly clientOrderId: string;
  readonly sessionId: string;
  readonly signature: string;
  /** The session instant (ISO). */
  readonly at: string;
  /** Exchange-local date of `at`. */
  readonly day: string;
  readonly intent: RiskIntent;
  readonly approved: boolean;
  readonly reason?: ReasonCode | undefined;
  /** `CODE: detail` of a rejection. */
  readonly message?: string | undefined;
  readonly checks: readonly RiskCheckRecord[];
  /** After this decision, buys of this signature are refused for the rest of `day` (daily loss). */
  readonly reducing: boolean;
  /** Injected clock, epoch ms. */
  readonly decidedAtMs: number;
}

export interface RiskBookOptions {
  /** How far back approved orders are kept (>= the per-minute window and the duplicate window). */
  readonly horizonMs: number;
  readonly maxDecisions?: number;
}

export class RiskBook {
  readonly #decisions = new Map<string, RiskDecision>();
  #recent: RecentOrder[] = [];
  readonly #sessions = new Map<string, { readonly sessionId: string; count: number }>();
  readonly #breaches = new Map<string, string>();
  readonly #horizonMs: number;
  readonly #maxDecisions: number;

  constructor(options: RiskBookOptions) {
    this.#horizonMs = options.horizonMs;
    this.#maxDecisions = options.maxDecisions ?? 10_000;
  }

  decision(clientOrderId: string): RiskDecision | undefined {
    return this.#decisions.get(clientOrderId);
  }

  /** Approved orders of this session so far (0 for a session it has not seen). */
  ordersThisSession(signature: string, sessionId: string): number {
    const s = this.#sessions.get(signature);
    return s?.sessionId === sessionId ? s.count : 0;
  }

  /** Approved orders of the signature within the horizon before `nowMs`. */
  recent(signature: string, nowMs: number): RecentOrder[] {
    this.#prune(nowMs);
    return this.#recent.filter((o) => o.signature === signature);
  }

  /** The signature breached its daily loss on `day`. */
  reducing(signature: string, day: string): boolean {
    return this.#breaches.get(signature) === day;
  }

  /**
   * Remember a decision (a repeat of a known client order id changes nothing). Returns whether
   * it started a daily-loss breach (the caller alerts once on that).
   */
  record(d: RiskDecision): { readonly recorded: boolean; readonly breachStarted: boolean } {
    if (this.#decisions.has(d.clientOrderId)) return { recorded: false, breachStarted: false };
    this.#decisions.set(d.clientOrderId, d);
    if (this.#decisions.size > this.#maxDecisions) {
      const oldest = this.#decisions.keys().next().value;
      if (oldest !== undefined) this.#decisions.delete(oldest);
    }
    if (d.approved) {
      const { side, symbol, quantity } = d.intent;
      this.#recent.push({ clientOrderId: d.clientOrderId, signature: d.signature, side, symbol, quantity, atMs: d.decidedAtMs });
      const s = this.#sessions.get(d.signature);
      if (s?.sessionId === d.sessionId) s.count++;
      else this.#sessions.set(d.signature, { sessionId: d.sessionId, count: 1 });
    }
    let breachStarted = false;
    if (d.reducing && !this.reducing(d.signature, d.day)) {
      this.#breaches.set(d.signature, d.day);
      breachStarted = true;
    }
    return { recorded: true, breachStarted };
  }

  #prune(nowMs: number): void {
    if (this.#recent.length > 0 && nowMs - this.#recent[0]!.atMs >= this.#horizonMs) {
      this.#recent = this.#recent.filter((o) => nowMs - o.atMs < this.#horizonMs);
    }
  }
}

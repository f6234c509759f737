/**
 * What the backtest's per-tick progress line says about a tick's sessions: nothing when
 * they went as the agent meant, else why not: a HOLD or a failure with its reason, and
 * orders that did not fill by reason (risk refusals, the kill switch, the venue).
 */
import type { SessionOutcome } from '../domain/messages.js';
import type { OrderResult } from '../domain/orders.js';

/** Results that ended without (all of) their shares; `queued` still waits for the open. */
const UNFILLED: ReadonlySet<OrderResult['status']> = new Set(['cancelled', 'rejected', 'expired', 'denied']);

/** Session reasons not worth a note: a disabled agent is the config's choice. */
const QUIET_REASONS: ReadonlySet<string> = new Set(['AGENT_DISABLED']);

const countsText = (codes: readonly string[]): string => {
  const counts = new Map<string, number>();
  for (const c of codes) counts.set(c, (counts.get(c) ?? 0) + 1);
  return [...counts].map(([c, n]) => `${c} ${n}`).join(', ');
};

/** "llm-a HOLD LLM_HTTP_ERROR", "rules-a 2/3 orders not filled: MIN_CASH_RESERVE 2", or undefined when all is well. */
export function sessionNote(outcome: SessionOutcome): string | undefined {
  const parts: string[] = [];
  const reason = outcome.reason ?? outcome.error?.reason;
  if (outcome.status === 'failed') parts.push(`failed ${reason ?? `in ${outcome.error?.step ?? 'a step'}`}`);
  else if (reason && !QUIET_REASONS.has(reason)) parts.push(`${outcome.status === 'skipped' ? 'skipped' : 'HOLD'} ${reason}`);
  const unfilled = outcome.results.filter((r) => UNFILLED.has(r.status));
  if (unfilled.length > 0) {
    parts.push(`${unfilled.length}/${outcome.results.length} orders not filled: ${countsText(unfilled.map((r) => r.reason ?? r.status))}`);
  }
  return parts.length ? `${outcome.signature} ${parts.join('; ')}` : undefined;
}

/** The notes of several sessions (one tick), in the order given, joined for one line. */
export function tickNotes(outcomes: readonly SessionOutcome[]): string {
  return outcomes.map(sessionNote).filter((n): n is string => n !== undefined).join('; ');
}

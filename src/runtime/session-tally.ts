/**
 * How each agent's recorded sessions ended, counted by reason code, for the report.
 *
 * The ledger keeps every recorded session (its outcome) in the store, but its summary
 * counts only statuses. The tally reads the records a resumed run already has, then
 * notes each outcome handed to the ledger (by session id, so one asked twice counts once).
 * It notes synchronously and attaches nothing to the ledger's promises, so the ledger's
 * commits land exactly when they would without it.
 */
import type { SessionOutcome } from '../domain/messages.js';
import type { SessionCounts } from '../report/index.js';
import { LEDGER_SUBLEVELS, type Ledger } from '../actors/ledger/ledger.js';
import type { Store } from '../actors/store/store.js';

type Noted = Pick<SessionOutcome, 'sessionId' | 'signature' | 'reason'>;

export class SessionTally {
  readonly #sessions = new Map<string, Noted>();

  /** The sessions `store` already holds. */
  static async of(store: Store): Promise<SessionTally> {
    const tally = new SessionTally();
    for await (const { value } of store.listRecords<{ outcome?: Noted }>(LEDGER_SUBLEVELS.sessions)) {
      if (value.outcome) tally.note(value.outcome);
    }
    return tally;
  }

  note(outcome: Noted): void {
    this.#sessions.set(outcome.sessionId, { sessionId: outcome.sessionId, signature: outcome.signature, ...(outcome.reason ? { reason: outcome.reason } : {}) });
  }

  counts(signature: string): SessionCounts {
    const byReason: Record<string, number> = {};
    let recorded = 0;
    for (const s of this.#sessions.values()) {
      if (s.signature !== signature) continue;
      recorded++;
      if (s.reason) byReason[s.reason] = (byReason[s.reason] ?? 0) + 1;
    }
    return { recorded, byReason };
  }

  /** Note every session `ledger` is asked to record from now on. */
  watch(ledger: Ledger): void {
    const record = ledger.recordSession.bind(ledger);
    ledger.recordSession = (outcome) => {
      this.note(outcome);
      return record(outcome);
    };
  }
}

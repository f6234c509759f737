/**
 * How each agent's recorded sessions ended, counted by reason code, for the report.
 *
 * The ledger keeps every recorded session (its outcome) in the store, but its summary
 * counts only statuses. The tally reads the records a resumed run already has, then
 * counts each new one as the ledger's batch commits (it watches the store the ledger
 * writes through), so the report sees them without reading the store again.
 */
import type { SessionOutcome } from '../domain/messages.js';
import type { SessionCounts } from '../report/index.js';
import { LEDGER_SUBLEVELS } from '../actors/ledger/ledger.js';
import type { RecordPut, Store } from '../actors/store/store.js';

interface SessionRecord {
  readonly outcome?: Pick<SessionOutcome, 'signature' | 'reason'>;
}

export class SessionTally {
  readonly #counts = new Map<string, { recorded: number; byReason: Record<string, number> }>();

  /** The sessions `store` already holds. */
  static async of(store: Store): Promise<SessionTally> {
    const tally = new SessionTally();
    for await (const { value } of store.listRecords<SessionRecord>(LEDGER_SUBLEVELS.sessions)) tally.add(value);
    return tally;
  }

  add(record: SessionRecord): void {
    const o = record.outcome;
    if (!o) return;
    const c = this.#counts.get(o.signature) ?? { recorded: 0, byReason: {} };
    c.recorded++;
    if (o.reason) c.byReason[o.reason] = (c.byReason[o.reason] ?? 0) + 1;
    this.#counts.set(o.signature, c);
  }

  counts(signature: string): SessionCounts {
    const c = this.#counts.get(signature);
    return { recorded: c?.recorded ?? 0, byReason: { ...c?.byReason } };
  }

  /** `store`, with every session record of a committed batch counted here. */
  watching(store: Store): Store {
    const count = (puts: readonly RecordPut[] | undefined) => {
      for (const p of puts ?? []) if (p.sublevel === LEDGER_SUBLEVELS.sessions) this.add(p.value as SessionRecord);
    };
    const saveSnapshot: Store['saveSnapshot'] = async (key, snapshot, records) => {
      await store.saveSnapshot(key, snapshot, records);
      count(records?.puts);
    };
    return new Proxy(store, {
      get(target, prop) {
        if (prop === 'saveSnapshot') return saveSnapshot;
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }
}

/**
 * Risk decisions kept in LevelDB (sublevel `risk`, key = client order id), so that
 * after a restart a re-asked check gets the same answer, the per-minute and
 * per-session counters and the duplicate window still count what was approved
 * before, and a daily-loss breach still holds for the rest of its day.
 *
 * A decision is written before it is answered (the risk actor awaits `journal`):
 * an approval the process acted on is never forgotten by a crash.
 */
import type { RiskDecision } from '../../domain/risk/book.js';
import type { Store } from '../store/store.js';

export const RISK_SUBLEVEL = 'risk';

export interface RiskJournal {
  readonly journal: (decision: RiskDecision) => Promise<void>;
  /** Every decision stored, oldest first (by decision time, then client order id). */
  readonly history: () => Promise<RiskDecision[]>;
}

export function storeRiskJournal(store: Store): RiskJournal {
  return {
    journal: (d) => store.putRecord(RISK_SUBLEVEL, d.clientOrderId, d),
    history: async () => {
      const out: RiskDecision[] = [];
      for await (const { value } of store.listRecords<RiskDecision>(RISK_SUBLEVEL)) out.push(value);
      return out.sort((a, b) => a.decidedAtMs - b.decidedAtMs || a.clientOrderId.localeCompare(b.clientOrderId));
    },
  };
}

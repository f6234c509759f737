/**
 * GET /health: what the process reports about itself, and the pure rule that turns
 * it into a status and an HTTP code, so a load balancer or a monitor needs no
 * parsing (200 = ready, 503 = not).
 *
 * The caller (bootstrap) fills the report from the clock, the quote feed, the
 * broker and the sessions; it judges `quotes.fresh` itself because only it knows
 * whether a market is open (no quotes at night is not a fault).
 *
 *   starting  the caller says it is still restoring / reconciling      -> 503
 *   degraded  clock stopped, broker disconnected, quotes stale while
 *             expected, quotes missing (a polled source not answering,
 *             market open or not), or a signature's last session failed -> 503
 *   ok        none of the above                                        -> 200
 *
 * The kill switch is reported but does not degrade: a halt is a decision, not a fault.
 */
import { z } from 'zod';

const Iso = z.string().min(1);

export const HealthReportSchema = z.looseObject({
  /** Still restoring snapshots or reconciling with the broker. */
  starting: z.boolean().optional(),
  mode: z.enum(['backtest', 'paper', 'live']).optional(),
  startedAt: Iso.optional(),
  clock: z.looseObject({ running: z.boolean(), lastTickAt: Iso.optional(), nextSessionAt: Iso.optional() }),
  quotes: z.looseObject({
    /** False only when quotes are expected (a market is open) and none arrived in time. */
    fresh: z.boolean(),
    source: z.string(),
    connected: z.boolean().optional(),
    lastQuoteAt: Iso.optional(),
    /** A polled source has stopped answering: no quotes until it does (`missingSince`, `lastError`, `nextPollAt`). */
    missing: z.boolean().optional(),
    missingSince: Iso.optional(),
    lastError: z.string().optional(),
    nextPollAt: Iso.optional(),
  }),
  broker: z.looseObject({ connected: z.boolean(), name: z.string().optional() }),
  sessions: z.record(z.string(), z.looseObject({ lastSessionAt: Iso.optional(), status: z.string() })),
  killSwitch: z.looseObject({ active: z.boolean(), signatures: z.union([z.literal('all'), z.array(z.string())]), reason: z.string().optional() }).optional(),
});
export type HealthReport = z.infer<typeof HealthReportSchema>;

export type HealthStatus = 'ok' | 'degraded' | 'starting';

export interface HealthAssessment {
  readonly status: HealthStatus;
  readonly httpStatus: 200 | 503;
  /** Why it is not ok, for people; empty when ok. */
  readonly problems: readonly string[];
}

/** Pure: the status and HTTP code of a report. */
export function assessHealth(report: HealthReport): HealthAssessment {
  const problems: string[] = [];
  if (report.starting === true) problems.push('starting: restoring state and reconciling');
  if (!report.clock.running) problems.push('clock is not running');
  if (!report.broker.connected) problems.push('broker is not connected');
  if (!report.quotes.fresh) problems.push(`quotes are stale (source ${report.quotes.source})`);
  if (report.quotes.missing === true) problems.push(`quotes are missing: ${report.quotes.source} is not answering${report.quotes.lastError ? ` (${report.quotes.lastError})` : ''}`);
  for (const [signature, s] of Object.entries(report.sessions)) {
    if (s.status === 'failed') problems.push(`last session of ${signature} failed`);
  }
  if (report.starting === true) return { status: 'starting', httpStatus: 503, problems };
  if (problems.length > 0) return { status: 'degraded', httpStatus: 503, problems };
  return { status: 'ok', httpStatus: 200, problems };
}

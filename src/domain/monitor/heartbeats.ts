/**
 * What "alive" means for each part of a running process, as one table: the part, the
 * alert code and level when it is not, and the check over what the monitor observed.
 * Pure: the monitor (src/actors/monitor/monitor.ts) gathers the observation on a wall
 * timer and raises an alert when a row starts failing and an info alert when it recovers.
 *
 * - clock: the run's clock beats on its own scheduler; no beat for `clockStallMs` of wall
 *   time means the scheduler (or the event loop) is stuck.
 * - quotes: while the market is open, no quote for `quoteSilenceMs` (of the run's clock),
 *   counted from the open when the last quote is older (no quote is due before it).
 * - quoteSource: a polled (HTTP) quote source has stopped answering (no poll answered since the
 *   start, or several failed in a row), market open or not: quotes are missing, and the process
 *   goes on polling with back-off. A WebSocket source has no such state (its silence is `quotes`).
 * - broker: the broker says it is not connected.
 * - sessions: a session still running `sessionStuckMs` (run clock) after its instant: its own
 *   deadlines should have ended it, so something below them is broken.
 */
export interface Observation {
  /** Wall epoch ms now. */
  readonly wallMs: number;
  /** Run clock epoch ms now (the replayed market time in a demo). */
  readonly runMs: number;
  readonly lastClockBeatWallMs: number | undefined;
  readonly marketOpen: boolean;
  /** When the market opened last (run clock): quotes are not expected before it. */
  readonly openedAtMs?: number | undefined;
  readonly lastQuoteMs: number | undefined;
  /** A polled quote source that is not answering (QuoteFeedHealth.unavailableSinceMs and what goes with it). */
  readonly quoteSourceDown?: {
    readonly source: string;
    /** Wall epoch ms. */
    readonly sinceMs: number;
    readonly failures: number;
    readonly lastError?: string | undefined;
    /** Wall epoch ms. */
    readonly nextPollMs?: number | undefined;
  } | undefined;
  readonly brokerConnected: boolean;
  /** signature -> the running session's instant (epoch ms). */
  readonly running: Readonly<Record<string, { readonly sessionId: string; readonly atMs: number }>>;
}

export interface HeartbeatLimits {
  readonly clockStallMs: number;
  readonly quoteSilenceMs: number;
  readonly sessionStuckMs: number;
}

export type Part = 'clock' | 'quotes' | 'quoteSource' | 'broker' | 'sessions';

export interface HeartbeatRow {
  readonly part: Part;
  readonly code: string;
  readonly level: 'warning' | 'critical';
  /** Undefined when alive; else what is wrong, for people. */
  readonly check: (o: Observation, l: HeartbeatLimits) => string | undefined;
}

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

export const HEARTBEATS: readonly HeartbeatRow[] = [
  {
    part: 'clock',
    code: 'CLOCK_STALLED',
    level: 'critical',
    check: (o, l) => {
      if (o.lastClockBeatWallMs === undefined) return undefined; // not started yet
      const age = o.wallMs - o.lastClockBeatWallMs;
      return age > l.clockStallMs ? `the run clock has not beaten for ${seconds(age)} (limit ${seconds(l.clockStallMs)}): no tick can fire` : undefined;
    },
  },
  {
    part: 'quotes',
    code: 'QUOTE_FEED_SILENT',
    level: 'warning',
    check: (o, l) => {
      if (!o.marketOpen) return undefined;
      // Silence counts from the later of the last quote and the open: no quote is due before the open.
      const since = Math.max(o.lastQuoteMs ?? -Infinity, o.openedAtMs ?? -Infinity);
      if (since === -Infinity) return 'the market is open and no quote has arrived yet';
      const age = o.runMs - since;
      if (age <= l.quoteSilenceMs) return undefined;
      return o.lastQuoteMs === undefined || o.lastQuoteMs < (o.openedAtMs ?? -Infinity)
        ? `the market opened ${seconds(age)} ago and no quote has arrived since (limit ${seconds(l.quoteSilenceMs)})`
        : `the market is open and the last quote is ${seconds(age)} old (limit ${seconds(l.quoteSilenceMs)})`;
    },
  },
  {
    part: 'quoteSource',
    code: 'QUOTE_SOURCE_DOWN',
    level: 'warning',
    check: (o) => {
      const d = o.quoteSourceDown;
      if (!d) return undefined;
      const next = d.nextPollMs !== undefined ? `, next poll in ${seconds(Math.max(0, d.nextPollMs - o.wallMs))}` : '';
      return `quotes are missing: ${d.source} has not answered for ${seconds(Math.max(0, o.wallMs - d.sinceMs))} (${d.failures} poll${d.failures === 1 ? '' : 's'} failed in a row${d.lastError ? `; last: ${d.lastError}` : ''}); polling goes on with back-off${next}`;
    },
  },
  {
    part: 'broker',
    code: 'BROKER_DISCONNECTED',
    level: 'critical',
    check: (o) => (o.brokerConnected ? undefined : 'the broker is not connected: orders cannot be placed or reconciled'),
  },
  {
    part: 'sessions',
    code: 'SESSION_STUCK',
    level: 'warning',
    check: (o, l) => {
      const stuck = Object.entries(o.running)
        .filter(([, s]) => o.runMs - s.atMs > l.sessionStuckMs)
        .map(([sig, s]) => `${sig} (${s.sessionId}, ${seconds(o.runMs - s.atMs)})`);
      return stuck.length ? `sessions running past their deadline: ${stuck.join(', ')}` : undefined;
    },
  },
];

export interface HeartbeatState {
  readonly part: Part;
  readonly ok: boolean;
  readonly code: string;
  readonly level: HeartbeatRow['level'];
  readonly problem?: string;
}

/** Every row's state for one observation. */
export function checkHeartbeats(o: Observation, limits: HeartbeatLimits, table: readonly HeartbeatRow[] = HEARTBEATS): HeartbeatState[] {
  return table.map((row) => {
    const problem = row.check(o, limits);
    const base = { part: row.part, code: row.code, level: row.level };
    return problem === undefined ? { ...base, ok: true } : { ...base, ok: false, problem };
  });
}

/**
 * The replay agent: replays an AI-Trader `position.jsonl`, asking at each session for
 * exactly the actions recorded under that session's label.
 *
 * Reading (`loadReplayLog`): every non-blank line is validated (AI-Trader's record
 * schema, domain/position-log.ts); a bad line is an InputError naming `file:line`.
 * Records are ordered by id and grouped by their `date` label ('YYYY-MM-DD' or
 * 'YYYY-MM-DD HH:mm:ss', exchange-local).
 *
 * What counts as an action of a label: a `buy` or `sell` record with amount > 0, in id
 * order. Not actions:
 * - the id-0 record (no `this_action`): the starting positions and CASH, see
 *   `initialCash` / `initialPositions` (US logs date it '2025-10-01 10:00:00', A-share
 *   logs '2025-10-01', a day before the data starts);
 * - `no_trade` records. They may sit anywhere in a label's records (AI-Trader re-ran
 *   some sessions: deepseek's US '2025-10-30 14:00:00' has no_trade, then sell, buy,
 *   buy), so they are skipped, never read as the end of the label;
 * - a buy/sell of amount 0 (deepseek's A-share log, line 34: sell 600760.SH 0): AI-Trader
 *   recorded it with unchanged positions; it cannot become an order (quantity > 0), so it
 *   is counted apart (`zeroAmount`) and reported in the done summary.
 * Some US records carry `this_action.price` (the fill price AI-Trader used); it is
 * accepted and kept, not used.
 *
 * Deciding (`replayDecider`): at a session whose label is D, step k answers the k-th
 * action of D as a market-order intent; once D's actions are exhausted (or the session
 * has no record) the answer is done. The step index is the session's intent count, so
 * an intent refused by risk or the broker still moves the replay on: a recorded run is
 * replayed action by action, never retried.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { z } from 'zod';
import { InputError } from '../../domain/errors.js';
import { dec, type Dec } from '../../domain/money.js';
import type { OrderSide } from '../../domain/orders.js';
import { CASH_KEY, PositionActionSchema, PositionRecordSchema } from '../../domain/position-log.js';
import type { Decider, Decision } from './agent.js';

export { AI_TRADER_LABEL_GRIDS, aiTraderLabel, type LabelGrid } from '../../domain/ai-trader-labels.js';

/**
 * AI-Trader's record, plus the optional `this_action.price` some US records carry
 * (domain PositionActionSchema is strict and would refuse those 4 real records).
 */
export const ReplayRecordSchema = PositionRecordSchema.extend({
  this_action: PositionActionSchema.extend({ price: z.number().optional() }).optional(),
});
export type ReplayRecord = z.infer<typeof ReplayRecordSchema>;

export interface ReplayAction {
  readonly id: number;
  /** 1-based line of the log it came from. */
  readonly line: number;
  readonly side: OrderSide;
  readonly symbol: string;
  readonly quantity: number;
}

export interface ReplayLabel {
  readonly label: string;
  /** Buys and sells with amount > 0, by id. */
  readonly actions: readonly ReplayAction[];
  /** `no_trade` records under this label. */
  readonly noTrades: number;
  /** buy/sell records with amount 0 (not replayable). */
  readonly zeroAmount: number;
}

export interface ReplayLog {
  readonly file: string;
  /**
   * How sessions find their actions: by AI-Trader label (position.jsonl), or by the
   * session instant's epoch ms (our own transcripts, `transcripts` CLI).
   */
  readonly keyedBy?: 'label' | 'instant';
  /** Every record, by id. */
  readonly records: readonly ReplayRecord[];
  /** Labels in the order they first appear (by id). */
  readonly labels: ReadonlyMap<string, ReplayLabel>;
}

function displayPath(path: string | URL): string {
  return path instanceof URL ? fileURLToPath(path) : path;
}

function issuesText(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.map(String).join('.');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

/** Build a replay log from records already read (tests, our own transcripts). */
export function replayLogFrom(file: string, lines: readonly { record: ReplayRecord; line: number }[]): ReplayLog {
  const sorted = [...lines].sort((a, b) => a.record.id - b.record.id);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.record.id === sorted[i - 1]!.record.id) {
      throw new InputError(`${file}:${sorted[i]!.line}: id ${sorted[i]!.record.id} repeats (first at line ${sorted[i - 1]!.line}); expected unique ids`);
    }
  }
  const labels = new Map<string, { label: string; actions: ReplayAction[]; noTrades: number; zeroAmount: number }>();
  for (const { record, line } of sorted) {
    const a = record.this_action;
    if (!a) continue; // the id-0 record: starting positions, not an action
    let entry = labels.get(record.date);
    if (!entry) labels.set(record.date, (entry = { label: record.date, actions: [], noTrades: 0, zeroAmount: 0 }));
    if (a.action === 'no_trade') entry.noTrades++;
    else if (a.amount === 0) entry.zeroAmount++;
    else {
      if (a.symbol === '') throw new InputError(`${file}:${line}: a ${a.action} without a symbol`);
      entry.actions.push({ id: record.id, line, side: a.action, symbol: a.symbol, quantity: a.amount });
    }
  }
  return { file, records: sorted.map((l) => l.record), labels };
}

/** Read and validate an AI-Trader position.jsonl. */
export async function loadReplayLog(path: string | URL): Promise<ReplayLog> {
  const file = displayPath(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`replay log not found: ${file}`);
    if (code === 'EISDIR') throw new InputError(`replay log is not a file: ${file}`);
    throw e;
  }
  const rows: { record: ReplayRecord; line: number }[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (looksLikeTranscript(lines.find((l) => l.trim() !== ''))) return transcriptReplayLog(file, lines);
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      throw new InputError(`${where}: not valid JSON (${e instanceof Error ? e.message : String(e)}); expected one position record`);
    }
    const parsed = ReplayRecordSchema.safeParse(json);
    if (!parsed.success) {
      throw new InputError(
        `${where}: not an AI-Trader position record (${issuesText(parsed.error)}); expected {"date", "id", "this_action"?, "positions"}`,
      );
    }
    rows.push({ record: parsed.data, line: i + 1 });
  });
  if (rows.length === 0) throw new InputError(`replay log is empty: ${file}; expected AI-Trader position records, one per line`);
  return replayLogFrom(file, rows);
}

function initialRecord(log: ReplayLog): ReplayRecord {
  const first = log.records[0];
  if (!first || first.this_action !== undefined) {
    throw new InputError(`${log.file}: no initial record (id 0 without "this_action") to take the starting positions from`);
  }
  return first;
}

/** The log's starting CASH (the id-0 record), exact as written (100000.0 -> 100000). */
export function initialCash(log: ReplayLog): Dec {
  const cash = initialRecord(log).positions[CASH_KEY];
  if (cash === undefined) throw new InputError(`${log.file}: the initial record has no ${CASH_KEY}`);
  return dec(String(cash));
}

/** The log's starting share positions (non-zero only, CASH excluded). */
export function initialPositions(log: ReplayLog): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [symbol, shares] of Object.entries(initialRecord(log).positions)) {
    if (symbol !== CASH_KEY && shares !== 0) out[symbol] = shares;
  }
  return out;
}

/** The first and last action labels (for a backtest's default date range). */
export function replaySpan(log: ReplayLog): { first: string; last: string } | undefined {
  const labels = [...log.labels.keys()];
  return labels.length === 0 ? undefined : { first: labels[0]!, last: labels[labels.length - 1]! };
}

export interface ReplayDeciderOptions {
  /** The AI-Trader label of a session instant, e.g. `(at) => aiTraderLabel(at, 'hourly', 'us')`. */
  readonly labelOf: (at: DateTime) => string | undefined;
}

/** The decision at step `step` of a session labelled `label`. */
export function replayDecision(log: ReplayLog, label: string | undefined, step: number, atIso: string): Decision {
  if (label === undefined) return { kind: 'done', summary: `no record: ${atIso} has no AI-Trader label` };
  const entry = log.labels.get(label);
  if (!entry) return { kind: 'done', summary: `no record for ${label}` };
  const action = entry.actions[step];
  if (action) {
    return { kind: 'intent', intent: { side: action.side, symbol: action.symbol, quantity: action.quantity, type: 'market' } };
  }
  const notes: string[] = [];
  if (entry.zeroAmount > 0) notes.push(`${entry.zeroAmount} zero-amount action${entry.zeroAmount === 1 ? '' : 's'} skipped`);
  const n = entry.actions.length;
  return { kind: 'done', summary: `replayed ${n} action${n === 1 ? '' : 's'} of ${label}${notes.length ? ` (${notes.join(', ')})` : ''}` };
}

export function replayDecider(log: ReplayLog, options: ReplayDeciderOptions): Decider {
  return {
    decide(request) {
      const at = DateTime.fromISO(request.at, { setZone: true });
      if (!at.isValid) throw new InputError(`agent.decide: not an ISO instant: ${JSON.stringify(request.at)}`);
      const key = log.keyedBy === 'instant' ? String(at.toMillis()) : options.labelOf(at);
      return replayDecision(log, key, request.step, request.at);
    },
  };
}

// ---------------------------------------------------------------------------
// Our own LLM transcripts (one JSON object per line, `transcripts` CLI)

function looksLikeTranscript(line: string | undefined): boolean {
  if (line === undefined) return false;
  try {
    const v = JSON.parse(line) as Record<string, unknown>;
    return v['version'] === 1 && typeof v['sessionId'] === 'string' && Array.isArray(v['intents']);
  } catch {
    return false;
  }
}

const TranscriptIntentsSchema = z.looseObject({
  sessionId: z.string(),
  at: z.string(),
  intents: z.array(z.looseObject({ side: z.enum(['buy', 'sell']), symbol: z.string().min(1), quantity: z.number().int().positive() })),
});

/**
 * A transcript export as a replay log: every intent the model asked for, in order,
 * keyed by the session instant, so a recorded live day re-runs through another
 * risk config without calling the model (refused intents included: the replay
 * asks what the model asked).
 */
function transcriptReplayLog(file: string, lines: readonly string[]): ReplayLog {
  const labels = new Map<string, ReplayLabel>();
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      throw new InputError(`${where}: not valid JSON (${e instanceof Error ? e.message : String(e)}); expected one transcript`);
    }
    const t = TranscriptIntentsSchema.safeParse(json);
    if (!t.success) throw new InputError(`${where}: not a transcript (${issuesText(t.error)})`);
    const at = DateTime.fromISO(t.data.at, { setZone: true });
    if (!at.isValid) throw new InputError(`${where}: at: not an ISO instant: ${JSON.stringify(t.data.at)}`);
    const key = String(at.toMillis());
    if (labels.has(key)) throw new InputError(`${where}: a second transcript for the session at ${t.data.at}; expected one per session`);
    labels.set(key, {
      label: key,
      actions: t.data.intents.map((a, k) => ({ id: k, line: i + 1, side: a.side, symbol: a.symbol, quantity: a.quantity })),
      noTrades: 0,
      zeroAmount: 0,
    });
  });
  return { file, records: [], labels, keyedBy: 'instant' };
}

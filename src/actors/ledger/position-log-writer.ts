/**
 * Writing AI-Trader's `position.jsonl` (the audit log of one signature), the way
 * AI-Trader's Python writes it (`json.dumps(record)` + "\n"):
 *
 *   {"date": "2025-10-09", "id": 1, "this_action": {"action": "buy", "symbol": "600028.SH", "amount": 100}, "positions": {"600519.SH": 0, ..., "CASH": 99471.0}}
 *
 * - keys in this order: date, id, this_action (absent in record 0), positions;
 *   separators ", " and ": " (Python's defaults); strings ASCII-escaped like
 *   Python's `ensure_ascii`;
 * - share counts and ids are JSON integers;
 * - CASH is the exact cash rounded half-up to the cent and printed like Python's
 *   `repr(float)` of that value: at least one decimal, no trailing zeros
 *   (`99471.0`, `6633.1`, `1185.43`). AI-Trader's own files sometimes carry float
 *   noise (`4123.000000000002`); compare CASH as numbers rounded to the cent.
 *
 * Durability: the ledger commits the lines it is about to write in LevelDB first
 * (write-ahead: committed byte length + the pending text), then appends them in ONE
 * write call and fsyncs. `syncLogFile` brings the file to the committed state: it
 * appends pending text that is missing, completes a torn (half-written) append by
 * truncating it and writing it again, and cuts off bytes nobody committed (saving
 * them next to the file as `position.jsonl.torn-<size>`). A file shorter than what
 * was committed before the pending write has lost records: that is refused with a
 * LedgerLogError, never papered over.
 */
import { mkdir, open, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CENT_DECIMALS, type Dec, toCents } from '../../domain/money.js';
import { CASH_KEY, type PositionAction } from '../../domain/position-log.js';

/** The file does not match what the ledger committed and cannot be repaired safely. */
export class LedgerLogError extends Error {
  override readonly name: string = 'LedgerLogError';
}

/** A string as Python's json.dumps writes it (ensure_ascii: every non-ASCII or DEL char as \uXXXX). */
export function pythonJsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Cash for position.jsonl: rounded half-up to the cent, printed like Python's repr(float). */
export function formatCash(cash: Dec): string {
  const fixed = toCents(cash).toFixed(CENT_DECIMALS); // "99471.00", "-3.50"
  const trimmed = fixed.replace(/0+$/, '');
  const text = trimmed.endsWith('.') ? `${trimmed}0` : trimmed;
  return text === '-0.0' ? '0.0' : text;
}

export interface PositionLine {
  readonly date: string;
  readonly id: number;
  /** Absent for record 0 (the starting positions). */
  readonly action?: PositionAction;
  /** Symbol -> shares, in the order to print (CASH is appended last). */
  readonly positions: ReadonlyArray<readonly [string, number]>;
  readonly cash: Dec;
}

/** One record as AI-Trader prints it (no newline). */
export function formatPositionLine(line: PositionLine): string {
  const parts = [`"date": ${pythonJsonString(line.date)}`, `"id": ${line.id}`];
  if (line.action) {
    const a = line.action;
    parts.push(`"this_action": {"action": ${pythonJsonString(a.action)}, "symbol": ${pythonJsonString(a.symbol)}, "amount": ${a.amount}}`);
  }
  const positions = line.positions.map(([symbol, qty]) => `${pythonJsonString(symbol)}: ${qty}`);
  positions.push(`${pythonJsonString(CASH_KEY)}: ${formatCash(line.cash)}`);
  parts.push(`"positions": {${positions.join(', ')}}`);
  return `{${parts.join(', ')}}`;
}

export interface LogCommit {
  /** Byte length of the file once every committed line (pending included) is written. */
  readonly bytes: number;
  /** The last committed text, possibly not yet (fully) in the file. */
  readonly pending?: string;
}

export interface LogRepair {
  readonly file: string;
  readonly message: string;
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Append `text` in one write call (looping only if the OS writes part of it), then fsync. */
export async function appendWhole(file: string, text: string, fsync: boolean): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const buf = Buffer.from(text, 'utf8');
  const handle = await open(file, 'a');
  try {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await handle.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readTail(file: string, from: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    let off = 0;
    while (off < length) {
      const { bytesRead } = await handle.read(buf, off, length - off, from + off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off);
  } finally {
    await handle.close();
  }
}

/** Save bytes beyond `keep` next to the file, then cut them off. */
async function cutBeyond(file: string, keep: number, size: number): Promise<string> {
  const extra = await readTail(file, keep, size - keep);
  const aside = `${file}.torn-${size}`;
  await writeFile(aside, extra);
  await truncate(file, keep);
  return aside;
}

/**
 * Make `file` hold exactly the committed text. Returns what had to be repaired
 * (nothing in the normal case, where it only appends the pending text).
 *
 * `verify`: also compare the bytes of an already-present pending write with the
 * committed text (done on restore; the normal path trusts its own append).
 */
export async function syncLogFile(file: string, commit: LogCommit, options: { fsync: boolean; verify?: boolean }): Promise<LogRepair[]> {
  const repairs: LogRepair[] = [];
  const size = (await sizeOf(file)) ?? 0;
  const pending = commit.pending ? Buffer.from(commit.pending, 'utf8') : undefined;
  const base = commit.bytes - (pending?.length ?? 0);
  if (base < 0) throw new LedgerLogError(`${file}: the committed state is inconsistent (pending text longer than the file)`);
  if (size < base) {
    throw new LedgerLogError(
      `${file} has ${size} bytes but the ledger committed ${base} bytes before its last write: records were lost or the file was edited; ` +
        'restore it from a backup (or remove the state directory to start over)',
    );
  }
  if (size === commit.bytes) {
    if (!pending || !options.verify) return repairs;
    const tail = await readTail(file, base, pending.length);
    if (tail.equals(pending)) return repairs;
    await truncate(file, base);
    await appendWhole(file, commit.pending!, options.fsync);
    repairs.push({ file, message: `${file}: the last write did not match what was committed; rewrote it (${pending.length} bytes)` });
    return repairs;
  }
  if (size > commit.bytes) {
    const aside = await cutBeyond(file, commit.bytes, size);
    repairs.push({ file, message: `${file}: ${size - commit.bytes} bytes after the last committed record were not the ledger's; moved to ${aside}` });
    if (pending && options.verify) return [...repairs, ...(await syncLogFile(file, commit, options))];
    return repairs;
  }
  // base <= size < committed: the pending text is missing (crash before the write) or torn.
  if (!pending) throw new LedgerLogError(`${file}: shorter than committed with nothing pending`); // unreachable: base === bytes
  if (size > base) {
    const aside = await cutBeyond(file, base, size);
    repairs.push({ file, message: `${file}: the last write was torn (${size - base} of ${pending.length} bytes); moved the partial line to ${aside} and wrote it again` });
  } else if (options.verify) {
    repairs.push({ file, message: `${file}: the last committed write (${pending.length} bytes) was missing; wrote it` });
  }
  await appendWhole(file, commit.pending!, options.fsync);
  return repairs;
}

/** Size of the file, 0 when it does not exist. */
export async function fileSize(file: string): Promise<number> {
  return (await sizeOf(file)) ?? 0;
}

/** Move an existing file aside (`<file>.replaced-<n>`), e.g. an old run's log. */
export async function moveAside(file: string, suffix: string): Promise<string> {
  const to = `${file}.${suffix}`;
  await rename(file, to);
  return to;
}

/** Read a position.jsonl into raw records (tests, tools). A torn last line is reported, not parsed. */
export async function readPositionLines(file: string): Promise<{ records: unknown[]; torn?: string }> {
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  const last = lines.pop()!;
  return { records: lines.filter((l) => l !== '').map((l) => JSON.parse(l) as unknown), ...(last !== '' ? { torn: last } : {}) };
}

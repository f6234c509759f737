/**
 * The LevelDB store under `state/`: persisted actor snapshots, orders by client
 * order id, other records by namespace, and an append-only journal.
 *
 * Invariants:
 * - One process owns a state directory. LevelDB takes a lock file on open; a second
 *   handle (in this process or another) fails, and `openStore` says so as an
 *   `InputError` ("already in use ... LevelDB lock held").
 * - Writes that belong together are ONE `batch`: a snapshot with its journal entries
 *   and records is all written or nothing is.
 * - Every value is plain JSON. A value that would not survive `JSON.stringify` ->
 *   `JSON.parse` unchanged (a function, a class instance such as a luxon DateTime or a
 *   Decimal, a Date, NaN, a cycle, `undefined` in an array) is refused with a
 *   {@link NonJsonValueError} before anything is written, when the store checks values
 *   (`checkJson`: in tests, and with AGENT_TRADER_CHECK_JSON=1). The walk is off by default
 *   because it visited every byte of every commit (14-17% of a backtest's CPU): what is
 *   written is built by our own code, whose tests run with the check on.
 *   (`undefined` object properties are allowed: JSON drops them, as XState's persisted
 *   snapshots expect.) Keys and namespaces are always checked.
 * - Journal keys are zero-padded sequence numbers, so LevelDB's key order is append
 *   order; the next number is recovered from the last key on open. Writes go through
 *   one queue, so sequence numbers are contiguous and committed in order.
 *
 * Layout (sublevels): `snapshots`, `journal`, `orders`, plus any namespace given to
 * `saveSnapshot`'s `puts` (names: a lower-case letter, then letters, digits, `_`, `-`).
 */
import { Level } from 'level';
import { InputError } from '../../domain/errors.js';

/** One record written in the same batch as a snapshot. */
export interface RecordPut {
  /** Namespace (sublevel), e.g. `orders` or `ledger`; not `snapshots` or `journal`. */
  readonly sublevel: string;
  readonly key: string;
  readonly value: unknown;
}

/** The records that belong to a snapshot: committed in the same batch. */
export interface SnapshotRecords {
  readonly journal?: readonly unknown[];
  readonly puts?: readonly RecordPut[];
}

export interface JournalRecord<T = unknown> {
  /** 1, 2, 3, ... in append order. */
  readonly seq: number;
  readonly entry: T;
}

export interface ReadJournalOptions {
  /** First sequence number to read (inclusive); default 1. */
  readonly from?: number;
  /** At most this many entries; default all. */
  readonly limit?: number;
}

/**
 * What one participant of the commit adds to the next batch: snapshots by key, journal
 * entries, records. Collected at commit time, so it is the participant's state as of the
 * end of the step, whatever it went through during it.
 */
export interface StoreWrite {
  readonly snapshots?: Readonly<Record<string, unknown>>;
  readonly journal?: readonly unknown[];
  readonly puts?: readonly RecordPut[];
}

/** A part of the system whose state goes into every commit it has changed (engine, venue, watcher). */
export interface CommitParticipant {
  readonly name: string;
  /** Its writes for this commit, or undefined when it has not changed since the last one. */
  collect(): StoreWrite | undefined;
}

export interface Store {
  /** The state directory. */
  readonly dir: string;
  /**
   * Stage writes for the next commit: checked now (keys always, JSON safety with `checkJson`;
   * a bad value throws here, nothing staged), written with everything else staged in the same step in ONE batch.
   * Resolves once that batch is durable, to the journal sequence numbers of `write.journal`.
   */
  stage(write: StoreWrite, what?: string): Promise<number[]>;
  /** Join every commit: `collect()` is asked at each commit; `touch()` asks for one. */
  participate(participant: CommitParticipant): () => void;
  /** Something a participant holds changed: a commit will follow at the end of this step. */
  touch(): void;
  /**
   * Run `effect` once everything staged or changed so far is durable (the outbox: brokers,
   * the feed, logs, alerts are told only after the commit). Never run when that commit fails.
   */
  afterCommit(effect: () => void): void;
  /** Commit what is staged now and wait for it (and for the effects it released). */
  commitNow(): Promise<void>;
  /** Called after each durable batch, before its effects run (drills' failpoints, metrics). */
  onCommit(listener: () => void): () => void;
  /** Called when a commit fails: the store refuses every write after that (the process must stop). */
  onFailure(listener: (error: unknown) => void): () => void;
  /** Tests and drills: forget what is staged and close, as if the process died now. */
  abandon(): Promise<void>;
  /** Something is staged, changed or about to be committed (the backtest driver waits until it is not). */
  busy(): boolean;
  /** Save a snapshot and the records that belong to it in one atomic batch. */
  saveSnapshot(key: string, snapshot: unknown, records?: SnapshotRecords): Promise<void>;
  loadSnapshot<T = unknown>(key: string): Promise<T | undefined>;
  /** Append entries to the journal (one batch); resolves to their sequence numbers. */
  appendJournal(entries: readonly unknown[]): Promise<number[]>;
  readJournal<T = unknown>(options?: ReadJournalOptions): AsyncIterable<JournalRecord<T>>;
  /** The last committed journal sequence number (0 when the journal is empty). */
  lastJournalSeq(): number;
  /** Store an order record by its client order id. */
  putOrder(clientOrderId: string, record: unknown): Promise<void>;
  getOrder<T = unknown>(clientOrderId: string): Promise<T | undefined>;
  /** Read a record written with `saveSnapshot`'s `puts`. */
  getRecord<T = unknown>(sublevel: string, key: string): Promise<T | undefined>;
  /** Write one record on its own (not part of a snapshot), e.g. an LLM transcript. */
  putRecord(sublevel: string, key: string, value: unknown): Promise<void>;
  /** Records of a sublevel in key order, those whose key starts with `prefix` when given. */
  listRecords<T = unknown>(sublevel: string, options?: { readonly prefix?: string }): AsyncIterable<{ key: string; value: T }>;
  /** Every key of a sublevel, in key order, read in one go without the values (a restart's set of fill ids). */
  listKeys(sublevel: string): Promise<string[]>;
  /** Wait for pending writes and close. Idempotent. */
  close(): Promise<void>;
}

/** A value that is not plain JSON was given to the store; nothing was written. */
export class NonJsonValueError extends TypeError {
  override readonly name: string = 'NonJsonValueError';
  constructor(
    readonly what: string,
    /** Where in the value, e.g. `$.context.price`. */
    readonly path: string,
    readonly problem: string,
  ) {
    super(`cannot store ${what}: ${path} ${problem}; store plain JSON (convert it to a string, number, array or plain object first)`);
  }
}

export const STORE_SUBLEVELS = { snapshots: 'snapshots', journal: 'journal', orders: 'orders' } as const;
const RESERVED: ReadonlySet<string> = new Set([STORE_SUBLEVELS.snapshots, STORE_SUBLEVELS.journal]);
const SUBLEVEL_NAME = /^[a-z][A-Za-z0-9_-]*$/;
/** Digits of a journal key: Number.MAX_SAFE_INTEGER has 16. */
const SEQ_DIGITS = 16;

export const journalKey = (seq: number): string => String(seq).padStart(SEQ_DIGITS, '0');

// ---------------------------------------------------------------------------------------
// JSON safety

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return `a ${name || 'non-plain object'} instance`;
  }
  return `${typeof value} ${String(value)}`;
}

const keyPath = (path: string, key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

/** Where the walk is: the path is rendered only for a value that fails (the walk runs on every write). */
interface At {
  readonly parent: At | undefined;
  readonly key: string | number;
}

function render(root: string, at: At | undefined): string {
  const keys: (string | number)[] = [];
  for (let a = at; a; a = a.parent) keys.push(a.key);
  let path = root;
  for (let i = keys.length - 1; i >= 0; i--) {
    const k = keys[i]!;
    path = typeof k === 'number' ? `${path}[${k}]` : keyPath(path, k);
  }
  return path;
}

function walk(value: unknown, at: At | undefined, seen: Set<object>): [At | undefined, string] | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : [at, `is ${value} (JSON has no such number)`];
    case 'undefined':
      return [at, 'is undefined'];
    case 'function':
    case 'symbol':
    case 'bigint':
      return [at, `is ${describe(value)}`];
    default:
      break;
  }
  if (value === null) return undefined;
  const obj = value as object;
  if (seen.has(obj)) return [at, 'is a circular reference'];
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        if (!(i in obj)) return [{ parent: at, key: i }, 'is a hole in a sparse array'];
        const v: unknown = obj[i];
        if (typeof v === 'string' || typeof v === 'boolean') continue;
        const bad = walk(v, { parent: at, key: i }, seen);
        if (bad) return bad;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(obj) as unknown;
    if (proto !== Object.prototype && proto !== null) return [at, `is ${describe(obj)}`];
    for (const k in obj) {
      if (!Object.prototype.hasOwnProperty.call(obj, k)) continue;
      const v = (obj as Record<string, unknown>)[k];
      if (v === undefined || v === null || typeof v === 'string' || typeof v === 'boolean') continue; // undefined: dropped by JSON, like an absent key
      const bad = walk(v, { parent: at, key: k }, seen);
      if (bad) return bad;
    }
    return undefined;
  } finally {
    seen.delete(obj);
  }
}

/** The first reason `value` is not plain JSON, as [path, problem]; undefined when it is. */
export function findNonJson(value: unknown, path = '$'): [string, string] | undefined {
  const bad = walk(value, undefined, new Set());
  return bad ? [render(path, bad[0]), bad[1]] : undefined;
}

export function assertJsonSafe(value: unknown, what: string): void {
  const bad = findNonJson(value);
  if (bad) throw new NonJsonValueError(what, bad[0], bad[1]);
}

function assertKey(key: unknown, what: string): asserts key is string {
  if (typeof key !== 'string' || key === '') throw new TypeError(`${what}: the key must be a non-empty string, got ${JSON.stringify(key)}`);
}

function assertSublevelName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !SUBLEVEL_NAME.test(name)) {
    throw new TypeError(`invalid store namespace ${JSON.stringify(name)}: use a lower-case letter, then letters, digits, _ or -`);
  }
  if (RESERVED.has(name)) throw new TypeError(`store namespace "${name}" is written only by the store itself`);
}

// ---------------------------------------------------------------------------------------
// open

function hasCode(err: unknown, code: string): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === code) return true;
  }
  return false;
}

function causeMessage(err: unknown): string {
  let e = err as { message?: unknown; cause?: unknown } | undefined;
  while (e?.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  return typeof e?.message === 'string' ? e.message : String(err);
}

export interface OpenStoreOptions {
  /** Open only a store that exists (readers such as `explain`); default: create it. */
  readonly mustExist?: boolean;
  /**
   * Walk every value for JSON safety before it is staged (a bad value throws at its source).
   * Default: AGENT_TRADER_CHECK_JSON=1 in the environment (vitest.config.ts sets it for every
   * test, and the processes tests start inherit it); off otherwise, being a debug check.
   */
  readonly checkJson?: boolean;
}

/** The debug flag that turns the JSON-safety walk on (see OpenStoreOptions.checkJson). */
export const CHECK_JSON_ENV = 'AGENT_TRADER_CHECK_JSON';

/**
 * Open (creating if missing, unless `mustExist`) the store in `dir`. Rejects with an
 * `InputError` when another handle holds the directory (level 10 reports
 * `LEVEL_DATABASE_NOT_OPEN` whose `cause` has code `LEVEL_LOCKED`) or when it cannot be
 * opened at all.
 */

export async function openStore(dir: string, options: OpenStoreOptions = {}): Promise<Store> {
  const db = new Level<string, unknown>(dir, { valueEncoding: 'json', createIfMissing: !options.mustExist });
  try {
    await db.open();
  } catch (err) {
    if (hasCode(err, 'LEVEL_LOCKED')) {
      throw new InputError(
        `state directory ${dir} is already in use by another agent-trader process (LevelDB lock held); stop it or use another state_dir`,
      );
    }
    throw new InputError(`cannot open the state directory ${dir}: ${causeMessage(err)}`);
  }
  const store = new LevelStore(dir, db, options.checkJson ?? process.env[CHECK_JSON_ENV] === '1');
  await store.recover();
  return store;
}

const openSublevel = (db: Level<string, unknown>, name: string) => db.sublevel<string, unknown>(name, { valueEncoding: 'json' });
type Sub = ReturnType<typeof openSublevel>;
type Op = { type: 'put'; sublevel: Sub; key: string; value: unknown };

interface Staged {
  readonly write: StoreWrite;
  readonly resolve: (seqs: number[]) => void;
  readonly reject: (err: unknown) => void;
}

/** Keys and namespaces always; the values' JSON safety when `json` (the debug walk). */
function checkWrite(write: StoreWrite, what: string, json: boolean): void {
  for (const [key, snapshot] of Object.entries(write.snapshots ?? {})) {
    assertKey(key, 'snapshot');
    if (json) assertJsonSafe(snapshot, `snapshot "${key}"`);
  }
  if (json) (write.journal ?? []).forEach((entry, i) => assertJsonSafe(entry, `journal entry ${i}${what}`));
  for (const p of write.puts ?? []) {
    assertSublevelName(p.sublevel);
    assertKey(p.key, `record in ${p.sublevel}`);
    if (json) assertJsonSafe(p.value, `record ${p.sublevel}/${p.key}${what}`);
  }
}

/**
 * Group commit: every write of a step (one turn of the event loop: a message handled with
 * everything it set off synchronously and in microtasks) is staged, participants add their
 * changed state at commit time, and the whole goes to LevelDB in ONE batch, scheduled with
 * `setImmediate` after the step. Only when the batch is durable do the writers' promises
 * resolve and the effects queued with `afterCommit` run, in the order they were queued.
 */
class LevelStore implements Store {
  private readonly subs = new Map<string, Sub>();
  private readonly participants = new Set<CommitParticipant>();
  private readonly failureListeners = new Set<(error: unknown) => void>();
  private readonly commitListeners = new Set<() => void>();
  private seq = 0;
  private staged: Staged[] = [];
  private effects: (() => void)[] = [];
  private touched = false;
  private scheduled = false;
  private tail: Promise<void> = Promise.resolve();
  private failed: unknown;
  private closing: Promise<void> | undefined;
  /** Set once the last commit of `close` is done: nothing is written after it. */
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly db: Level<string, unknown>,
    private readonly checkJson: boolean,
  ) {}

  private sub(name: string): Sub {
    let s = this.subs.get(name);
    if (!s) {
      s = openSublevel(this.db, name);
      this.subs.set(name, s);
    }
    return s;
  }

  /** Recover the journal sequence from the last key. */
  async recover(): Promise<void> {
    for await (const key of this.sub(STORE_SUBLEVELS.journal).keys({ reverse: true, limit: 1 })) {
      this.seq = Number(key);
    }
  }

  private refuse(): Error | undefined {
    if (this.failed !== undefined) return new Error(`store ${this.dir} refuses writes after a failed commit: ${causeMessage(this.failed)}`);
    if (this.closed) return new Error(`store ${this.dir} is closed`);
    return undefined;
  }

  stage(write: StoreWrite, what = ''): Promise<number[]> {
    const refused = this.refuse();
    if (refused) return Promise.reject(refused);
    checkWrite(write, what, this.checkJson);
    return new Promise<number[]>((resolve, reject) => {
      this.staged.push({ write, resolve, reject });
      this.schedule();
    });
  }

  participate(participant: CommitParticipant): () => void {
    this.participants.add(participant);
    return () => this.participants.delete(participant);
  }

  touch(): void {
    if (this.closed) return;
    this.touched = true;
    this.schedule();
  }

  afterCommit(effect: () => void): void {
    if (this.failed !== undefined) return;
    this.effects.push(effect);
    this.schedule();
  }

  commitNow(): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    this.enqueueCommit();
    return this.tail.then(() => {
      if (this.failed !== undefined) throw this.failed;
    });
  }

  busy(): boolean {
    return this.staged.length > 0 || this.effects.length > 0 || this.touched;
  }

  onCommit(listener: () => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  onFailure(listener: (error: unknown) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.enqueueCommit();
    });
  }

  private enqueueCommit(): void {
    this.tail = this.tail.then(() => this.commitOnce());
  }

  /** One batch: what was staged, what the participants changed, the journal numbered in order. */
  private async commitOnce(): Promise<void> {
    if (this.failed !== undefined) return;
    if (this.closed) {
      for (const s of this.staged.splice(0)) s.reject(new Error(`store ${this.dir} is closed`));
      this.effects = [];
      return;
    }
    const staged = this.staged;
    const effects = this.effects;
    this.staged = [];
    this.effects = [];
    this.touched = false;
    const writes: StoreWrite[] = staged.map((s) => s.write);
    const ranges: [number, number][] = [];
    try {
      // Participants always join (not only when touched): a change they did not announce still goes in.
      for (const p of this.participants) {
        const w = p.collect();
        if (w) {
          checkWrite(w, ` (from ${p.name})`, this.checkJson);
          writes.push(w);
        }
      }
      const ops: Op[] = [];
      const journal = this.sub(STORE_SUBLEVELS.journal);
      let next = this.seq;
      for (const w of writes) {
        const first = next + 1;
        for (const [key, value] of Object.entries(w.snapshots ?? {})) ops.push({ type: 'put', sublevel: this.sub(STORE_SUBLEVELS.snapshots), key, value });
        for (const entry of w.journal ?? []) ops.push({ type: 'put', sublevel: journal, key: journalKey(++next), value: entry });
        for (const p of w.puts ?? []) ops.push({ type: 'put', sublevel: this.sub(p.sublevel), key: p.key, value: p.value });
        ranges.push([first, next]);
      }
      if (ops.length) await this.db.batch(ops);
      this.seq = next;
      if (ops.length) for (const l of this.commitListeners) l();
    } catch (err) {
      this.failed = err;
      for (const s of staged) s.reject(err);
      for (const l of this.failureListeners) l(err);
      return;
    }
    staged.forEach((s, i) => {
      const [first, last] = ranges[i]!;
      s.resolve(Array.from({ length: last - first + 1 }, (_, k) => first + k));
    });
    // Effects last: whoever they tell (broker, feed, log) learns only what is already durable.
    for (const effect of effects) effect();
  }

  async saveSnapshot(key: string, snapshot: unknown, records: SnapshotRecords = {}): Promise<void> {
    assertKey(key, 'snapshot');
    await this.stage({ snapshots: { [key]: snapshot }, ...(records.journal ? { journal: records.journal } : {}), ...(records.puts ? { puts: records.puts } : {}) }, ` of snapshot "${key}"`);
  }

  loadSnapshot<T = unknown>(key: string): Promise<T | undefined> {
    assertKey(key, 'snapshot');
    return this.sub(STORE_SUBLEVELS.snapshots).get(key) as Promise<T | undefined>;
  }

  appendJournal(entries: readonly unknown[]): Promise<number[]> {
    return this.stage({ journal: entries });
  }

  async *readJournal<T = unknown>(options: ReadJournalOptions = {}): AsyncIterable<JournalRecord<T>> {
    const from = Math.max(1, Math.floor(options.from ?? 1));
    const limit = options.limit ?? Infinity;
    if (limit <= 0) return;
    const it = this.sub(STORE_SUBLEVELS.journal).iterator({ gte: journalKey(from), limit });
    for await (const [key, entry] of it) yield { seq: Number(key), entry: entry as T };
  }

  lastJournalSeq(): number {
    return this.seq;
  }

  async putOrder(clientOrderId: string, record: unknown): Promise<void> {
    assertKey(clientOrderId, 'order');
    await this.stage({ puts: [{ sublevel: STORE_SUBLEVELS.orders, key: clientOrderId, value: record }] });
  }

  getOrder<T = unknown>(clientOrderId: string): Promise<T | undefined> {
    assertKey(clientOrderId, 'order');
    return this.sub(STORE_SUBLEVELS.orders).get(clientOrderId) as Promise<T | undefined>;
  }

  getRecord<T = unknown>(sublevel: string, key: string): Promise<T | undefined> {
    assertSublevelName(sublevel);
    assertKey(key, `record in ${sublevel}`);
    return this.sub(sublevel).get(key) as Promise<T | undefined>;
  }

  async putRecord(sublevel: string, key: string, value: unknown): Promise<void> {
    await this.stage({ puts: [{ sublevel, key, value }] });
  }

  async *listRecords<T = unknown>(sublevel: string, options: { readonly prefix?: string } = {}): AsyncIterable<{ key: string; value: T }> {
    assertSublevelName(sublevel);
    const range = options.prefix ? { gte: options.prefix, lt: `${options.prefix}\uffff` } : {};
    for await (const [key, value] of this.sub(sublevel).iterator(range)) yield { key, value: value as T };
  }

  listKeys(sublevel: string): Promise<string[]> {
    assertSublevelName(sublevel);
    return this.sub(sublevel).keys().all();
  }

  /** Commit what is pending (and what its effects stage in turn), then close. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.failed === undefined && (this.staged.length > 0 || this.effects.length > 0 || this.touched || this.participants.size > 0)) {
        await this.commitNow().catch(() => undefined);
        if (this.staged.length === 0 && this.effects.length === 0) break;
      }
      this.closed = true;
      await this.tail;
      await this.db.close();
    })();
    return this.closing;
  }

  abandon(): Promise<void> {
    this.closed = true;
    for (const s of this.staged.splice(0)) s.reject(new Error(`store ${this.dir} was abandoned`));
    this.effects = [];
    this.participants.clear();
    this.closing ??= this.tail.then(() => this.db.close());
    return this.closing;
  }
}

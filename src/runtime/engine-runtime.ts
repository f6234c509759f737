/**
 * The engine as a running actor system: creates (or restores) the engine actor
 * with the real system actors, persists its snapshot to the store after every
 * transition, journals every message, and resumes after a restore.
 *
 * Persistence: the engine is a participant of the store's commit (docs/persistence.md):
 * each snapshot change anywhere in the system marks it dirty, and the commit that ends
 * the step takes the root's `getPersistedSnapshot()` (recursive: the sessions and orders
 * are in it) with the journal of messages since the last commit and the fills they
 * carried (`fill-facts`), in the same ONE batch as everything else the step changed.
 * The store always holds a state the machines actually passed through.
 *
 * Restore: the persisted snapshot is restored (children included, with their
 * system ids) and the engine is sent `resume`, which every waiting session and
 * order answers by re-sending its pending request: an order that was `submitting`
 * asks the broker for its status by client order id before anything else.
 */
import { createActor, type Actor, type AnyActorLogic, type InspectionEvent, type Observer } from 'xstate';
import type { SystemActorId } from '../domain/ids.js';
import { engineMachine, type EngineContext, type EngineEvent, type EngineInput } from '../machines/engine.machine.js';
import type { RecordPut, Store } from '../actors/store/store.js';
import type { Message } from '../domain/messages.js';

export type SystemActors = Readonly<Record<Exclude<SystemActorId, 'engine'>, AnyActorLogic>>;

export interface EngineRuntimeOptions {
  readonly store: Store;
  readonly input: EngineInput;
  readonly actors: SystemActors;
  /** Replace the session or order logic (tests inject faults this way). */
  readonly machines?: { readonly session?: AnyActorLogic; readonly order?: AnyActorLogic };
  /** The injected clock (epoch ms): virtual in backtests and tests. */
  readonly now: () => number;
  /** Extra observer of every inspection event (e.g. the JSONL recorder). */
  readonly inspect?: (event: InspectionEvent) => void;
  /** Called when the engine actor itself fails (never for a child: the engine supervises those). */
  readonly onFatal?: (error: unknown) => void;
  readonly snapshotKey?: string;
}

export interface JournalEntry {
  readonly from: string | undefined;
  readonly to: string;
  readonly event: { readonly type: string };
}

export interface EngineRuntime {
  readonly actor: Actor<typeof engineMachine>;
  /** True when the engine was restored from a stored snapshot. */
  readonly restored: boolean;
  send(event: EngineEvent): void;
  /** Resolves once everything that happened so far is in the store. */
  flush(): Promise<void>;
  /** Persist, then stop the actor system. The store stays open (its owner closes it). */
  stop(): Promise<void>;
  /** Tests: stop at once, persisting nothing more, as if the process died. */
  crash(): void;
}

const nameOf = (ref: unknown): string | undefined => {
  const r = ref as { id?: string; systemId?: string } | undefined;
  return r ? (r.systemId ?? r.id) : undefined;
};

/** Messages worth journalling: ours, not XState's internal ones (which may hold non-JSON errors). */
const isJournalled = (type: string) => !type.startsWith('xstate.');

/**
 * Fills as the order machines received them, committed in the same batch as the order's new
 * state: the ledger is a projection of these facts (applied once per fill id), so a fill the
 * ledger had not written when the process died is applied again on restore, never lost.
 */
export const FILL_FACTS_SUBLEVEL = 'fill-facts';
export const fillFactKey = (signature: string, fillId: string) => JSON.stringify([signature, fillId]);

/**
 * The engine's bounded history (session outcomes, order results) is not in its snapshot:
 * each entry is an append-only record, written once in the commit of the step that added it
 * (it was ~75% of every snapshot, rewritten at every step). The snapshot keeps how many there
 * were (`historySeq`); a restore reads the last `historyLimit` of each back into the context.
 */
export const ENGINE_HISTORY_SUBLEVEL = 'engine-history';
type HistoryKind = 'history' | 'orderHistory';
const HISTORY_KINDS: readonly HistoryKind[] = ['history', 'orderHistory'];
const historyKey = (kind: HistoryKind, seq: number) => `${kind === 'history' ? 's' : 'o'}${String(seq).padStart(12, '0')}`;

/**
 * A running session's input (set at its spawn), market view and account (set at its fetching
 * step) are only read after, but the session is in every engine snapshot: they were rewritten at
 * every step of every running session (the market view, a quote of every symbol, was 3/4 of the
 * snapshot with 7 agents). Each is a record, `<session child id>/<field>`, written in the commit of the step that
 * set it (again only if the session sets it anew); the session in the snapshot lists them in
 * `parts` instead, and a restore puts them back.
 */
export const SESSION_PARTS_SUBLEVEL = 'engine-session-parts';
const SESSION_PARTS = ['input', 'market', 'account'] as const;
const isSession = (childId: string) => childId.startsWith('session:');

interface PersistedChild {
  readonly snapshot: { readonly context?: Record<string, unknown> };
  readonly parts?: readonly string[];
}

interface PersistedEngine {
  readonly context: Record<string, unknown> & { readonly historyLimit: number };
  readonly children?: Record<string, PersistedChild>;
  readonly historySeq?: Readonly<Record<HistoryKind, number>>;
}

/** The stored snapshot with its sessions' parts read back from their records. */
async function withSessionParts(store: Store, saved: PersistedEngine): Promise<PersistedEngine> {
  if (!saved.children) return saved;
  const children: Record<string, PersistedChild> = {};
  for (const [id, child] of Object.entries(saved.children)) {
    const { parts, ...entry } = child;
    if (!parts) {
      children[id] = child;
      continue;
    }
    const context = { ...entry.snapshot.context };
    for (const field of parts) {
      const value = await store.getRecord(SESSION_PARTS_SUBLEVEL, `${id}/${field}`);
      if (value === undefined) throw new Error(`engine snapshot: ${id}'s ${field} is missing from ${SESSION_PARTS_SUBLEVEL}`);
      context[field] = value;
    }
    children[id] = { ...entry, snapshot: { ...entry.snapshot, context } };
  }
  return { ...saved, children };
}

/** The stored snapshot with its history read back from the records (a snapshot written whole, before the records, is used as it is). */
async function withHistory(store: Store, saved: PersistedEngine): Promise<{ snapshot: PersistedEngine; seq: Record<HistoryKind, number> }> {
  const { historySeq, ...snapshot } = saved;
  if (!historySeq) return { snapshot, seq: { history: 0, orderHistory: 0 } };
  const context = { ...snapshot.context };
  for (const kind of HISTORY_KINDS) {
    const last = historySeq[kind];
    const entries: unknown[] = [];
    for (let seq = Math.max(1, last - snapshot.context.historyLimit + 1); seq <= last; seq++) {
      const entry = await store.getRecord(ENGINE_HISTORY_SUBLEVEL, historyKey(kind, seq));
      if (entry === undefined) throw new Error(`engine snapshot: history record ${historyKey(kind, seq)} is missing from ${ENGINE_HISTORY_SUBLEVEL}`);
      entries.push(entry);
    }
    context[kind] = entries;
  }
  return { snapshot: { ...snapshot, context }, seq: { ...historySeq } };
}

export async function startEngine(options: EngineRuntimeOptions): Promise<EngineRuntime> {
  const key = options.snapshotKey ?? 'engine';
  const { store } = options;
  const stored = await store.loadSnapshot<PersistedEngine>(key);
  const restored = stored ? await withHistory(store, await withSessionParts(store, stored)) : undefined;
  const saved = restored?.snapshot;

  // History entries already in the store: how many, and the newest held (by identity: the lists
  // are copied on every change, their entries are not). Each engine transition's new entries
  // are numbered as they appear and wait in `historyPuts` for the commit that ends the step.
  const seq: Record<HistoryKind, number> = restored?.seq ?? { history: 0, orderHistory: 0 };
  const newest: Record<HistoryKind, unknown> = { history: undefined, orderHistory: undefined };
  let historyPuts: RecordPut[] = [];
  const noteHistory = (context: Pick<EngineContext, HistoryKind>) => {
    for (const kind of HISTORY_KINDS) {
      const list: readonly unknown[] = context[kind];
      if (list.length === 0 || list.at(-1) === newest[kind]) continue;
      // Not found: the bound dropped it (and maybe others) in this one transition: what is held is new.
      const from = newest[kind] === undefined ? 0 : list.lastIndexOf(newest[kind]) + 1;
      for (const entry of list.slice(from)) historyPuts.push({ sublevel: ENGINE_HISTORY_SUBLEVEL, key: historyKey(kind, ++seq[kind]), value: entry });
      newest[kind] = list.at(-1);
    }
  };

  // The session parts in the store, by record key: the object last written (by identity: a part
  // is written again only when its session sets it anew). Finished sessions' keys are dropped.
  const partsWritten = new Map<string, unknown>();
  /** Move the sessions' parts out of `children` (a fresh object of this commit's) into records. */
  const takeSessionParts = (children: Record<string, PersistedChild>): RecordPut[] => {
    const puts: RecordPut[] = [];
    const held = new Set<string>();
    for (const [id, child] of Object.entries(children)) {
      const context = child.snapshot.context;
      if (!isSession(id) || !context) continue;
      const rest = { ...context };
      const parts: string[] = [];
      for (const field of SESSION_PARTS) {
        const value = context[field];
        if (value === undefined) continue;
        const partKey = `${id}/${field}`;
        held.add(partKey);
        if (partsWritten.get(partKey) !== value) {
          puts.push({ sublevel: SESSION_PARTS_SUBLEVEL, key: partKey, value });
          partsWritten.set(partKey, value);
        }
        delete rest[field];
        parts.push(field);
      }
      if (parts.length > 0) children[id] = { ...child, snapshot: { ...child.snapshot, context: rest }, parts };
    }
    for (const k of partsWritten.keys()) if (!held.has(k)) partsWritten.delete(k);
    return puts;
  };

  let journal: JournalEntry[] = [];
  let facts: RecordPut[] = [];
  let dirty = false;
  /** Set once the system stops (cleanly or not): nothing more is persisted. */
  let crashed = false;
  let failure: unknown;

  const inspect: Observer<InspectionEvent> = {
    next: (e) => {
      options.inspect?.(e);
      if (crashed) return;
      if (e.type === '@xstate.event' && isJournalled(e.event.type)) {
        journal.push({ from: nameOf(e.sourceRef), to: nameOf(e.actorRef) ?? '?', event: e.event });
        if (e.event.type === 'ledger.applyFill') {
          const m = e.event as Message<'ledger.applyFill'>;
          facts.push({ sublevel: FILL_FACTS_SUBLEVEL, key: fillFactKey(m.signature, m.fill.fillId), value: m });
        }
        store.touch();
      }
      if (e.type === '@xstate.snapshot') {
        if (nameOf(e.actorRef) === 'engine') noteHistory((e.snapshot as unknown as { context: EngineContext }).context);
        dirty = true;
        store.touch();
      }
    },
  };

  const logic = engineMachine.provide({ actors: { ...options.actors, ...options.machines } as never });
  const actor = saved
    ? createActor(logic, { snapshot: saved as never, input: options.input, systemId: 'engine', inspect })
    : createActor(logic, { input: options.input, systemId: 'engine', inspect });
  // (A snapshot written whole, by an older version, has its history written out at the first transition.)
  if (stored?.historySeq) for (const kind of HISTORY_KINDS) newest[kind] = actor.getSnapshot().context[kind].at(-1);
  // The restored sessions' parts are in the store already (if their identity did not survive the
  // restore, the first commit writes them again: harmless).
  for (const [id, child] of Object.entries(actor.getSnapshot().children)) {
    if (!isSession(id) || !child) continue;
    const context = (child.getSnapshot() as { context?: Record<string, unknown> }).context ?? {};
    for (const field of SESSION_PARTS) if (context[field] !== undefined) partsWritten.set(`${id}/${field}`, context[field]);
  }

  // The engine's part of every commit: its snapshot as of the end of the step (sessions and
  // orders in it), the messages that led there, and the fills they carried.
  const leave = store.participate({
    name: 'engine',
    collect: () => {
      if (crashed || (!dirty && journal.length === 0)) return undefined;
      dirty = false;
      // Persisted without the history (XState would otherwise copy it, entry by entry, at every step).
      const live = actor.getSnapshot();
      const persisted = actor.logic.getPersistedSnapshot({ ...live, context: { ...live.context, history: [], orderHistory: [] } } as typeof live);
      const snapshot = { ...persisted, historySeq: { ...seq } };
      const parts = takeSessionParts((snapshot as unknown as { children: Record<string, PersistedChild> }).children);
      const write = { snapshots: { [key]: snapshot }, journal, puts: [...facts, ...historyPuts, ...parts] };
      historyPuts = [];
      journal = [];
      facts = [];
      return write;
    },
  });
  const unfail = store.onFailure((err) => {
    failure = err;
    options.onFatal?.(err);
  });

  actor.subscribe({
    error: (err) => {
      failure = err;
      options.onFatal?.(err);
    },
  });
  actor.start();
  if (saved) actor.send({ type: 'resume', tsEvent: options.now() });

  const flush = async (): Promise<void> => {
    await store.commitNow();
    if (failure !== undefined) throw failure;
  };
  const halt = () => {
    crashed = true;
    leave();
    unfail();
    actor.stop();
  };

  return {
    actor,
    restored: saved !== undefined,
    send: (event) => actor.send(event),
    flush,
    stop: async () => {
      await flush();
      // What stopping does to the snapshot (children gone) is not a state to resume from.
      halt();
    },
    crash: halt,
  };
}

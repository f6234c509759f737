/**
 * The engine as a running actor system: creates (or restores) the engine actor
 * with the real system actors, persists its snapshot to the store after every
 * transition, journals every message, and resumes after a restore.
 *
 * Persistence: each snapshot change anywhere in the system marks the state dirty;
 * one write at a time saves the root's `getPersistedSnapshot()` (recursive: the
 * sessions and orders are in it) together with the journal entries since the last
 * write, in ONE LevelDB batch. Writes are coalesced, never reordered: the store
 * always holds a snapshot the machines actually passed through, and the journal
 * entries that led to it.
 *
 * Restore: the persisted snapshot is restored (children included, with their
 * system ids) and the engine is sent `resume`, which every waiting session and
 * order answers by re-sending its pending request: an order that was `submitting`
 * asks the broker for its status by client order id before anything else.
 */
import { createActor, type Actor, type AnyActorLogic, type InspectionEvent, type Observer } from 'xstate';
import type { SystemActorId } from '../domain/ids.js';
import { engineMachine, type EngineEvent, type EngineInput } from '../machines/engine.machine.js';
import type { Store } from '../actors/store/store.js';

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

export async function startEngine(options: EngineRuntimeOptions): Promise<EngineRuntime> {
  const key = options.snapshotKey ?? 'engine';
  const { store } = options;
  const saved = await store.loadSnapshot<unknown>(key);

  let journal: JournalEntry[] = [];
  let dirty = false;
  let writing: Promise<void> | undefined;
  /** Set once the system stops (cleanly or not): nothing more is persisted. */
  let crashed = false;
  let failure: unknown;

  const inspect: Observer<InspectionEvent> = {
    next: (e) => {
      options.inspect?.(e);
      if (crashed) return;
      if (e.type === '@xstate.event' && isJournalled(e.event.type)) {
        journal.push({ from: nameOf(e.sourceRef), to: nameOf(e.actorRef) ?? '?', event: e.event });
      }
      if (e.type === '@xstate.snapshot') {
        dirty = true;
        writing ??= persistLoop();
      }
    },
  };

  const logic = engineMachine.provide({ actors: { ...options.actors, ...options.machines } as never });
  const actor = saved
    ? createActor(logic, { snapshot: saved as never, input: options.input, systemId: 'engine', inspect })
    : createActor(logic, { input: options.input, systemId: 'engine', inspect });

  async function persistLoop(): Promise<void> {
    try {
      // Yield first so the whole macrostep that marked us dirty has finished.
      await Promise.resolve();
      while (dirty && !crashed) {
        dirty = false;
        const snapshot = actor.getPersistedSnapshot();
        const entries = journal;
        journal = [];
        await store.saveSnapshot(key, snapshot, { journal: entries });
      }
    } catch (err) {
      failure = err;
      options.onFatal?.(err);
    } finally {
      writing = undefined;
      if (dirty && !crashed && failure === undefined) writing = persistLoop();
    }
  }

  actor.subscribe({
    error: (err) => {
      failure = err;
      options.onFatal?.(err);
    },
  });
  actor.start();
  if (saved) actor.send({ type: 'resume', tsEvent: options.now() });

  const flush = async (): Promise<void> => {
    while (writing) await writing;
    if (failure !== undefined) throw failure;
  };

  return {
    actor,
    restored: saved !== undefined,
    send: (event) => actor.send(event),
    flush,
    stop: async () => {
      await flush();
      // What stopping does to the snapshot (children gone) is not a state to resume from.
      crashed = true;
      actor.stop();
    },
    crash: () => {
      crashed = true;
      actor.stop();
    },
  };
}

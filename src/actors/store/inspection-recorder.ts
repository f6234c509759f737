/**
 * Records XState inspection events as JSON lines, for offline inspection (the
 * Stately viewer needs the internet; a JSONL file does not).
 *
 * Pass the observer as `createActor(machine, { inspect })`: every actor of the system
 * (the root and every invoked / spawned child) reports to it. Each event becomes ONE
 * line in the shape of XState's inspection events:
 *
 * ```json
 * {"seq":7,"type":"@xstate.snapshot","rootId":"x:0","actorId":"x:3","id":"order:o-1","systemId":"order:o-1",
 *  "event":{"type":"broker.accepted",...},"snapshot":{"status":"active","value":"accepted"}}
 * ```
 *
 * - `seq`: 1, 2, 3, ... per recorder; `actorId`: the actor's `sessionId` (unique in the
 *   process), with its `id` and `systemId`; `@xstate.actor` adds `parentId` and the
 *   logic's name (`src`) when registered by name; `sourceId`: the sender's `sessionId`
 *   (`@xstate.event`); `event`, `action: { type, params }` (`@xstate.action`);
 *   `snapshot: { status, value, context?, output?, error? }`; `transitions` (microsteps:
 *   source and target state ids).
 * - JSON-safe: actor refs become `{ "$actor": "<sessionId>", "id", "systemId" }`,
 *   functions and symbols are dropped, objects with `toJSON` (DateTime, Decimal, Date)
 *   are written as that, cycles as `"[circular]"`, depth is bounded.
 * - The context is left out unless asked for (`context: true`, or a number: only
 *   contexts whose JSON is at most that many characters).
 * - Never throws into XState: an event that cannot be written is recorded as an
 *   `error` line.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { finished } from 'node:stream/promises';
import type { InspectionEvent } from 'xstate';

export interface InspectionRecorderOptions {
  /** Include snapshot contexts: `true` always, a number when their JSON is at most that long. Default: never. */
  readonly context?: boolean | number;
  /** Add `time` (epoch ms) to each line, read from this clock (inject the engine's clock). */
  readonly now?: () => number;
  /** Nesting depth kept in events, params and contexts; deeper values become `"[…]"`. Default 8. */
  readonly maxDepth?: number;
}

export type InspectionObserver = (event: InspectionEvent) => void;

interface ActorLike {
  readonly sessionId: string;
  readonly id?: string;
  readonly systemId?: string;
}

const isActorRef = (x: unknown): x is ActorLike =>
  typeof x === 'object' &&
  x !== null &&
  typeof (x as { sessionId?: unknown }).sessionId === 'string' &&
  typeof (x as { send?: unknown }).send === 'function';

/** A JSON-safe copy of `value` (see the file header). */
export function toJsonSafe(value: unknown, maxDepth = 8): unknown {
  const seen = new Set<object>();
  const walk = (v: unknown, depth: number): unknown => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        return Number.isFinite(v) ? v : String(v);
      case 'bigint':
        return v.toString();
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
      default:
        break;
    }
    if (v === null) return null;
    const obj = v as object;
    if (isActorRef(obj)) {
      return { $actor: obj.sessionId, ...(obj.id !== undefined ? { id: obj.id } : {}), ...(obj.systemId !== undefined ? { systemId: obj.systemId } : {}) };
    }
    if (obj instanceof Error) return { error: obj.name, message: obj.message };
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return walk(toJSON.call(obj), depth);
    if (seen.has(obj)) return '[circular]';
    if (depth >= maxDepth) return '[…]';
    seen.add(obj);
    try {
      if (Array.isArray(obj)) return obj.map((x) => walk(x, depth + 1) ?? null);
      if (obj instanceof Map) return walk(Object.fromEntries(obj), depth);
      if (obj instanceof Set) return walk([...obj], depth);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(obj)) {
        const w = walk(x, depth + 1);
        if (w !== undefined) out[k] = w;
      }
      return out;
    } finally {
      seen.delete(obj);
    }
  };
  return walk(value, 0);
}

interface ActorDetails extends Partial<ActorLike> {
  readonly src?: unknown;
  readonly options?: { readonly systemId?: string; readonly parent?: { readonly sessionId?: string } };
}

function actorFields(ref: unknown): Record<string, unknown> {
  const a = ref as ActorDetails | undefined;
  // At `@xstate.actor` the system id is not assigned yet: read it from the options.
  const systemId = a?.systemId ?? a?.options?.systemId;
  return {
    actorId: a?.sessionId,
    ...(a?.id !== undefined ? { id: a.id } : {}),
    ...(systemId !== undefined ? { systemId } : {}),
  };
}

/** The inspection event as one plain JSON-safe record (without `seq`). */
export function inspectionRecord(event: InspectionEvent, options: InspectionRecorderOptions = {}): Record<string, unknown> {
  const depth = options.maxDepth ?? 8;
  const rec: Record<string, unknown> = {
    type: event.type,
    rootId: event.rootId,
    ...actorFields(event.actorRef),
  };
  switch (event.type) {
    case '@xstate.actor': {
      const a = event.actorRef as ActorDetails;
      const parentId = a.options?.parent?.sessionId;
      if (parentId !== undefined) rec.parentId = parentId;
      if (typeof a.src === 'string') rec.src = a.src;
      break;
    }
    case '@xstate.event':
      if (event.sourceRef) rec.sourceId = event.sourceRef.sessionId;
      rec.event = toJsonSafe(event.event, depth);
      break;
    case '@xstate.action':
      rec.action = { type: event.action.type, params: toJsonSafe(event.action.params, depth) ?? null };
      break;
    case '@xstate.snapshot':
    case '@xstate.transition':
    case '@xstate.microstep': {
      rec.event = toJsonSafe(event.event, depth);
      rec.snapshot = snapshotRecord(event.snapshot, options, depth);
      if (event.type === '@xstate.microstep') {
        rec.transitions = event._transitions.map((t) => ({
          eventType: t.eventType,
          source: t.source.id,
          targets: (t.target ?? []).map((n: { id: string }) => n.id),
        }));
      }
      break;
    }
  }
  return rec;
}

function snapshotRecord(snapshot: unknown, options: InspectionRecorderOptions, depth: number): Record<string, unknown> {
  const s = snapshot as { status?: unknown; value?: unknown; context?: unknown; output?: unknown; error?: unknown };
  const out: Record<string, unknown> = { status: s.status };
  if (s.value !== undefined) out.value = toJsonSafe(s.value, depth);
  if (s.output !== undefined) out.output = toJsonSafe(s.output, depth);
  if (s.error !== undefined) out.error = s.error instanceof Error ? s.error.message : toJsonSafe(s.error, depth);
  const want = options.context ?? false;
  if (want !== false && s.context !== undefined) {
    const context = toJsonSafe(s.context, depth);
    if (want === true || JSON.stringify(context).length <= want) out.context = context;
  }
  return out;
}

/** An XState `inspect` observer calling `write` with one JSON line (ending in `\n`) per inspection event. */
export function createInspectionRecorder(
  write: (line: string) => void,
  options: InspectionRecorderOptions = {},
): InspectionObserver {
  let seq = 0;
  return (event) => {
    seq += 1;
    let line: string;
    try {
      const time = options.now?.();
      line = JSON.stringify({ seq, ...(time !== undefined ? { time } : {}), ...inspectionRecord(event, options) });
    } catch (err) {
      line = JSON.stringify({ seq, type: event.type, error: `unrecordable inspection event: ${String(err)}` });
    }
    try {
      write(`${line}\n`);
    } catch {
      // A failing sink must not break the actor system.
    }
  };
}

export interface JsonlFileInspector {
  readonly inspect: InspectionObserver;
  /** Flush and close the file. Idempotent. */
  close(): Promise<void>;
}

/** An inspection recorder appending to a JSONL file (created with its directory). */
export function createJsonlFileInspector(path: string, options: InspectionRecorderOptions = {}): JsonlFileInspector {
  mkdirSync(dirname(path), { recursive: true });
  const stream = createWriteStream(path, { flags: 'a', encoding: 'utf8' });
  let failure: Error | undefined;
  stream.on('error', (err) => {
    failure ??= err;
  });
  let closed: Promise<void> | undefined;
  const inspect = createInspectionRecorder((line) => {
    if (!closed && !failure) stream.write(line);
  }, options);
  return {
    inspect,
    close: () =>
      (closed ??= (async () => {
        if (failure) {
          stream.destroy();
          throw failure;
        }
        stream.end();
        await finished(stream);
      })()),
  };
}

/**
 * A tiny actor system around ONE real session actor, for tests.
 *
 * The root (system id `engine`) plays the engine: it spawns deterministic test
 * actors under the system ids the session talks to (`marketData`, `ledger`,
 * `agent`, `risk`, `clock`, `monitor`; any subset) and the session itself
 * (system id `session:<sessionId>`, as the engine does). The test actors are
 * sinks: they receive the real messages and never answer on their own. The test
 * answers for them with `answer()`, which takes the peer's last request of a
 * type and delivers the reply through the actor system to the address the
 * request carries (`replyTo`, the clock's `target`, the engine's session), so a
 * wrong address fails the test.
 *
 * Every message the session sends is recorded from the system's inspection
 * stream (`@xstate.event` with the session as source), and every transition it
 * takes (`@xstate.microstep`), so tests check side effects and edge coverage on
 * the real actor without touching its implementation.
 */
import {
  createActor,
  fromCallback,
  setup,
  type Actor,
  type AnyActorRef,
  type AnyEventObject,
  type AnyTransitionDefinition,
  type InspectionEvent,
  type SnapshotFrom,
} from 'xstate';
import { sessionSystemId, SYSTEM_IDS } from '../../../src/domain/ids.js';
import type { Message, MessageType } from '../../../src/domain/messages.js';
import { sessionMachine, type SessionEvent, type SessionInput } from '../../../src/machines/session.machine.js';

export const ALL_PEERS = ['marketData', 'ledger', 'agent', 'risk', 'clock', 'monitor'] as const;
export type PeerId = (typeof ALL_PEERS)[number];

export interface Delivery {
  /** Recipient: a peer's system id, or `engine` for the parent. */
  readonly to: string;
  readonly event: AnyEventObject;
}

export type SessionSnapshot = SnapshotFrom<typeof sessionMachine>;

interface HarnessInput {
  readonly session: SessionInput;
  readonly peers: readonly PeerId[];
}

/** A deterministic test actor: it only receives (the inspection stream records what). */
const peer = fromCallback<AnyEventObject>(() => () => {});

const harnessMachine = setup({
  types: {} as { input: HarnessInput; context: { sessionId: string } },
  actors: { peer, session: sessionMachine },
}).createMachine({
  id: SYSTEM_IDS.engine,
  context: ({ input, spawn }) => {
    for (const id of input.peers) spawn('peer', { id, systemId: id });
    const sid = sessionSystemId(input.session.sessionId);
    spawn('session', { id: sid, systemId: sid, input: input.session });
    return { sessionId: input.session.sessionId };
  },
  // As the engine does, take a child's error as an event (unhandled, it would error the root too).
  on: { 'xstate.error.actor.*': {} },
});

export interface HarnessOptions {
  /** Which system actors exist (default: all six). */
  readonly peers?: readonly PeerId[];
  /** Restore the whole system from a persisted snapshot of a previous harness (JSON-parsed). */
  readonly snapshot?: unknown;
  /** First `tsEvent` handed out by `now()`. */
  readonly startMs?: number;
}

export class SessionHarness {
  readonly root: Actor<typeof harnessMachine>;
  /** Everything the session sent, in order. */
  readonly sent: Delivery[] = [];
  /** Errors the session actor raised (`xstate.error.actor.*` to its parent). */
  readonly errors: unknown[] = [];
  /** Transition definitions the real session actor took. */
  readonly transitions = new Set<AnyTransitionDefinition>();
  private readonly sessionRef: Actor<typeof sessionMachine>;
  private cursor = 0;
  private clock: number;
  /** The event last delivered to the session by this harness, and the snapshot before it. */
  lastEvent: SessionEvent | undefined;
  before: SessionSnapshot | undefined;

  constructor(readonly input: SessionInput, options: HarnessOptions = {}) {
    this.clock = options.startMs ?? input.atMs;
    const systemId = sessionSystemId(input.sessionId);
    this.root = createActor(harnessMachine, {
      id: SYSTEM_IDS.engine,
      systemId: SYSTEM_IDS.engine,
      input: { session: input, peers: options.peers ?? ALL_PEERS },
      ...(options.snapshot ? { snapshot: options.snapshot as never } : {}),
      inspect: (ev: InspectionEvent) => {
        const isSession = (ref: unknown) => (ref as AnyActorRef | undefined)?.id === systemId;
        if (ev.type === '@xstate.event' && isSession(ev.sourceRef)) {
          const to = (ev.actorRef as AnyActorRef).id;
          if (ev.event.type.startsWith('xstate.error.actor')) this.errors.push((ev.event as { error?: unknown }).error);
          else if (!ev.event.type.startsWith('xstate.')) this.sent.push({ to, event: ev.event });
        }
        if (ev.type === '@xstate.microstep' && isSession(ev.actorRef)) {
          for (const t of ev._transitions) this.transitions.add(t);
        }
      },
    });
    this.root.subscribe({ error: (err) => this.errors.push(err) });
    this.root.start();
    const ref = this.root.getSnapshot().children[systemId];
    if (!ref) throw new Error(`no child ${systemId} in the harness`);
    this.sessionRef = ref as unknown as Actor<typeof sessionMachine>;
  }

  /** The session actor (kept: a finished actor leaves the system registry). */
  get session(): Actor<typeof sessionMachine> {
    return this.sessionRef;
  }

  snapshot(): SessionSnapshot {
    return this.session.getSnapshot();
  }

  /** A fresh, increasing `tsEvent` (one second per call). */
  now(): number {
    this.clock += 1000;
    return this.clock;
  }

  /** Messages the session sent since the last call. */
  takeEffects(): Delivery[] {
    const out = this.sent.slice(this.cursor);
    this.cursor = this.sent.length;
    return out;
  }

  /** Deliver `event` to the session as the engine does (start, resume). */
  send(event: SessionEvent): SessionEvent {
    this.before = this.snapshot();
    this.lastEvent = event;
    this.session.send(event);
    return event;
  }

  /** The last `type` request that `to` received from the session. */
  lastRequest<T extends MessageType>(to: string, type: T): Message<T> {
    const found = this.sent.findLast((d) => d.to === to && d.event.type === type);
    if (!found) throw new Error(`${to} never received ${type} from the session`);
    return found.event as Message<T>;
  }

  /** All `type` requests `to` received, in order. */
  requests<T extends MessageType>(to: string, type: T): Message<T>[] {
    return this.sent.filter((d) => d.to === to && d.event.type === type).map((d) => d.event as Message<T>);
  }

  /**
   * Answer, as peer `from`, its last `type` request: the reply goes through the
   * actor system to the address the request names.
   */
  answer<T extends MessageType>(from: string, type: T, build: (request: Message<T>) => SessionEvent): SessionEvent {
    const request = this.lastRequest(from, type);
    const address = replyAddress(request);
    const target = this.root.system.get(address);
    if (!target) throw new Error(`${type} names ${address}, which is not in the actor system`);
    const event = build(request);
    this.before = this.snapshot();
    this.lastEvent = event;
    target.send(event);
    return event;
  }

  /** The whole system's persisted snapshot, as JSON text (what the store would keep). */
  persist(): string {
    return JSON.stringify(this.root.getPersistedSnapshot());
  }

  stop(): void {
    this.root.stop();
  }
}

function replyAddress(request: AnyEventObject): string {
  if (typeof request.replyTo === 'string') return request.replyTo;
  if (request.type === 'clock.schedule') return (request as Message<'clock.schedule'>).target;
  if (request.type === 'engine.placeOrder') return sessionSystemId((request as Message<'engine.placeOrder'>).sessionId);
  throw new Error(`no reply address in ${request.type}`);
}

export const startSessionHarness = (input: SessionInput, options?: HarnessOptions): SessionHarness =>
  new SessionHarness(input, options);

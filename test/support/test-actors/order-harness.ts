/**
 * A tiny actor system around ONE real order actor, for tests.
 *
 * The root (system id `engine`) plays the engine, the order's parent: it spawns
 * deterministic test actors under the system ids the order talks to (`broker`,
 * `clock`, `ledger`, `monitor`, and the session under the order's `replyTo`; any
 * subset) and the order itself (system id `order:<clientOrderId>`, as the engine
 * does). The test actors are sinks: they receive the real messages and never answer
 * on their own. The test answers for them: `fromBroker()` delivers a broker event to
 * the address the broker's last request named (`replyTo`), `fromClock()` delivers
 * the deadline the clock was last asked to schedule to the `target` it names, so a
 * wrong address or an unscheduled deadline fails the test.
 *
 * Every message the order sends is recorded from the system's inspection stream
 * (`@xstate.event` with the order as source), and every transition it takes
 * (`@xstate.microstep`), so tests check side effects and edge coverage on the real
 * actor without touching its implementation. Nothing here mocks our own modules.
 */
import {
  createActor,
  fromCallback,
  setup,
  type Actor,
  type AnyActorRef,
  type AnyEventObject,
  type AnyStateNode,
  type AnyTransitionDefinition,
  type InspectionEvent,
  type SnapshotFrom,
} from 'xstate';
import { orderSystemId, SYSTEM_IDS } from '../../../src/domain/ids.js';
import type { Message, MessageType } from '../../../src/domain/messages.js';
import type { OrderEventType } from '../../../src/domain/order-status.js';
import type { Fill, OrderRequest, OrderStatus } from '../../../src/domain/orders.js';
import { orderMachine, type OrderEvent, type OrderMachineInput } from '../../../src/machines/order.machine.js';

export const ORDER_PEERS = ['broker', 'clock', 'ledger', 'monitor', 'session'] as const;
export type OrderPeer = (typeof ORDER_PEERS)[number];
export type OrderSnapshot = SnapshotFrom<typeof orderMachine>;

export interface Delivery {
  /** Recipient: a peer's system id (the session's is the order's `replyTo`), or `engine` for the parent. */
  readonly to: string;
  readonly event: AnyEventObject;
}

// ---------------------------------------------------------------------------
// Fixtures

export const T0 = Date.UTC(2025, 9, 9, 1, 35); // 2025-10-09T09:35+08:00

export const marketOrder: OrderRequest = {
  clientOrderId: 'rules-momentum.20251009T0935.0',
  signature: 'rules-momentum',
  side: 'buy',
  symbol: '600519.SH',
  quantity: 100,
  type: 'market',
};

export const limitOrder: OrderRequest = { ...marketOrder, clientOrderId: 'rules-momentum.20251009T0935.1', type: 'limit', limitPrice: '10.05' };

export function orderInput(order: OrderRequest, overrides: Partial<OrderMachineInput> = {}): OrderMachineInput {
  const sessionId = `rules-momentum@2025-10-09T09:35:00+08:00`;
  return {
    order,
    sessionId,
    replyTo: `session:${sessionId}`,
    marketOpen: true,
    nextOpenMs: T0 + 24 * 3600_000,
    outsideHours: 'reject',
    submitTimeoutMs: 5_000,
    cancelTimeoutMs: 5_000,
    limitTimeoutMs: 60_000,
    queryRetryMs: 3_000,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------
// Events: one generator for the model (graph traversal) and the real actor

/**
 * Every variant of every order event, built from an order snapshot's context so
 * the same variant means the same thing whatever path led there: a `partial`
 * fill is one share (never completes an order of 100 within a test path), a
 * `complete` fill is the remaining quantity, `broker.status` answers carry the
 * fills the broker has (all known ones, plus a new partial or completing one),
 * the deadline is the one currently pending.
 */
export function orderEvents(snapshot: OrderSnapshot, tsEvent: number): OrderEvent[] {
  const c = snapshot.context;
  const clientOrderId = c.order.clientOrderId;
  const n = c.fills.length + 1;
  const remaining = Math.max(1, c.order.quantity - c.filledQuantity);
  const partial: Fill = { fillId: `partial-${n}`, quantity: 1, price: '10.01', fee: '0.05', atMs: tsEvent };
  const complete: Fill = { fillId: `complete-${n}`, quantity: remaining, price: '10.02', fee: '1.25', atMs: tsEvent };
  const status = (s: Message<'broker.status'>['status'], fills: Fill[] = [...c.fills]): OrderEvent => ({
    type: 'broker.status',
    clientOrderId,
    status: s,
    brokerOrderId: 'B-1',
    fills,
    ...(s === 'rejected' ? { reason: 'INSUFFICIENT_CASH', message: 'not enough cash' } : {}),
    tsEvent,
  });
  return [
    { type: 'order.place', tsEvent },
    { type: 'order.cancel', reason: 'CANCELLED_BY_REQUEST', tsEvent },
    { type: 'resume', tsEvent },
    { type: 'broker.accepted', clientOrderId, brokerOrderId: 'B-1', tsEvent },
    { type: 'broker.rejected', clientOrderId, reason: 'INSUFFICIENT_CASH', message: 'not enough cash', tsEvent },
    { type: 'broker.rejected', clientOrderId, reason: 'DUPLICATE_CLIENT_ORDER_ID', message: 'duplicate', tsEvent },
    { type: 'broker.fill', clientOrderId, fill: partial, tsEvent },
    { type: 'broker.fill', clientOrderId, fill: complete, tsEvent },
    { type: 'broker.cancelled', clientOrderId, tsEvent },
    { type: 'broker.expired', clientOrderId, tsEvent },
    status('not_found', []),
    status('accepted'),
    status('partially_filled', [...c.fills, partial]),
    status('filled', [...c.fills, complete]),
    status('cancelling'),
    status('cancelled'),
    status('rejected'),
    status('expired'),
    { type: 'broker.disconnected', tsEvent },
    { type: 'clock.deadline', key: c.deadline?.key ?? 'no-deadline', tsEvent },
  ];
}

/** What makes two generated events "the same move" (independent of ids and times). */
export function variantOf(event: AnyEventObject): string {
  const e = event as OrderEvent;
  switch (e.type) {
    case 'broker.rejected':
      return `${e.type}:${e.reason}`;
    case 'broker.fill':
      return `${e.type}:${e.fill.fillId.split('-')[0]}`;
    case 'broker.status':
      return `${e.type}:${e.status}`;
    default:
      return e.type;
  }
}

// ---------------------------------------------------------------------------
// The machine's edges, read from its state nodes

export interface Edge {
  readonly source: OrderStatus;
  readonly event: OrderEventType;
  readonly target: OrderStatus;
}
export const edgeKey = (e: Edge): string => `${e.source} --${e.event}--> ${e.target}`;

/** A transition definition as an edge; a targetless one stays in its source. */
export function edgeOf(t: AnyTransitionDefinition): Edge {
  const source = t.source as AnyStateNode;
  const target = (t.target?.[0] ?? source) as AnyStateNode;
  return { source: source.key as OrderStatus, event: t.eventType as OrderEventType, target: target.key as OrderStatus };
}

/** Every (state, event type, target) edge of the machine. */
export function machineEdges(): Edge[] {
  const out = new Map<string, Edge>();
  for (const node of Object.values(orderMachine.root.states) as AnyStateNode[]) {
    for (const defs of node.transitions.values()) {
      for (const t of defs) out.set(edgeKey(edgeOf(t)), edgeOf(t));
    }
  }
  return [...out.values()];
}

// ---------------------------------------------------------------------------
// The harness

interface HarnessInput {
  readonly order: OrderMachineInput;
  readonly peers: readonly OrderPeer[];
}

/** A deterministic test actor: it only receives (the inspection stream records what). */
const peer = fromCallback<AnyEventObject>(() => () => {});

const harnessMachine = setup({
  types: {} as { input: HarnessInput; context: { clientOrderId: string } },
  actors: { peer, order: orderMachine },
}).createMachine({
  id: SYSTEM_IDS.engine,
  context: ({ input, spawn }) => {
    for (const p of input.peers) {
      const id = p === 'session' ? input.order.replyTo : SYSTEM_IDS[p];
      spawn('peer', { id, systemId: id });
    }
    const id = orderSystemId(input.order.order.clientOrderId);
    spawn('order', { id, systemId: id, input: input.order });
    return { clientOrderId: input.order.order.clientOrderId };
  },
  // like the engine, survive a crashed child (the inspection stream records its error)
  on: { 'xstate.error.actor.*': {} },
});

export interface OrderHarnessOptions {
  /** Which peers exist (default: all five). */
  readonly peers?: readonly OrderPeer[];
  /** Restore the whole system from a persisted snapshot of a previous harness (JSON-parsed). */
  readonly snapshot?: unknown;
  /** First `tsEvent` handed out by `now()`. */
  readonly startMs?: number;
}

export class OrderHarness {
  readonly root: Actor<typeof harnessMachine>;
  /** Everything the order sent, in order. */
  readonly sent: Delivery[] = [];
  /** Errors the order actor raised (`xstate.error.actor.*` to its parent). */
  readonly errors: unknown[] = [];
  /** Transition definitions the real order actor took. */
  readonly transitions = new Set<AnyTransitionDefinition>();
  /** The real order actor. */
  readonly order: Actor<typeof orderMachine>;
  private cursor = 0;
  private clock: number;
  /** The event last delivered to the order by this harness, and the snapshot before it. */
  lastEvent: OrderEvent | undefined;
  before: OrderSnapshot | undefined;

  constructor(
    readonly input: OrderMachineInput,
    options: OrderHarnessOptions = {},
  ) {
    this.clock = options.startMs ?? T0;
    const systemId = orderSystemId(input.order.clientOrderId);
    this.root = createActor(harnessMachine, {
      id: SYSTEM_IDS.engine,
      systemId: SYSTEM_IDS.engine,
      input: { order: input, peers: options.peers ?? ORDER_PEERS },
      ...(options.snapshot ? { snapshot: options.snapshot as never } : {}),
      inspect: (ev: InspectionEvent) => {
        const order = this.order ?? this.root?.system.get(systemId);
        if (ev.type === '@xstate.event' && order && ev.sourceRef === order) {
          const to = (ev.actorRef as AnyActorRef).id;
          if (ev.event.type.startsWith('xstate.error.actor')) this.errors.push((ev.event as { error?: unknown }).error);
          else if (!ev.event.type.startsWith('xstate.')) this.sent.push({ to, event: ev.event });
        }
        if (ev.type === '@xstate.microstep' && order && ev.actorRef === order) {
          for (const t of ev._transitions) this.transitions.add(t);
        }
      },
    });
    this.root.subscribe({ error: (err) => this.errors.push(err) });
    this.root.start();
    // kept: a finished order leaves the system (its system id is released), its last snapshot stays readable
    const ref = this.root.system.get(systemId);
    if (!ref) throw new Error('the order actor is not in the system');
    this.order = ref as Actor<typeof orderMachine>;
  }

  get selfId(): string {
    return orderSystemId(this.input.order.clientOrderId);
  }


  snapshot(): OrderSnapshot {
    return this.order.getSnapshot();
  }

  /** A fresh, increasing `tsEvent` (one second per call). */
  now(): number {
    this.clock += 1000;
    return this.clock;
  }

  /** Messages the order sent since the last call. */
  takeEffects(): Delivery[] {
    const out = this.sent.slice(this.cursor);
    this.cursor = this.sent.length;
    return out;
  }

  /** All `type` messages `to` received from the order, in order. */
  received<T extends MessageType>(to: string, type: T): Message<T>[] {
    return this.sent.filter((d) => d.to === to && d.event.type === type).map((d) => d.event as Message<T>);
  }

  private deliver(target: AnyActorRef, event: OrderEvent): OrderEvent {
    this.before = this.snapshot();
    this.lastEvent = event;
    target.send(event);
    return event;
  }

  /** Deliver `event` to the order as the engine does (place, cancel, resume). */
  send(event: OrderEvent): OrderEvent {
    return this.deliver(this.order, event);
  }

  /** Deliver a broker event to the address the broker's last request from the order named. */
  fromBroker(event: OrderEvent): OrderEvent {
    const request = this.sent.findLast((d) => d.to === SYSTEM_IDS.broker);
    if (!request) throw new Error(`the broker never heard from the order, yet answers ${event.type}`);
    const address = (request.event as unknown as { replyTo: string }).replyTo;
    const target = this.root.system.get(address);
    if (!target) throw new Error(`${request.event.type} names ${address}, which is not in the actor system`);
    return this.deliver(target, event);
  }

  /**
   * The clock delivers the deadline it was last asked to schedule for the order
   * (or an explicit, e.g. stale, key) to the target that request named.
   */
  fromClock(key?: string): OrderEvent {
    const schedules = this.received(SYSTEM_IDS.clock, 'clock.schedule');
    const last = schedules.at(-1);
    if (!last) throw new Error('the clock was never asked to schedule anything');
    const target = this.root.system.get(last.target);
    if (!target) throw new Error(`clock.schedule names ${last.target}, which is not in the actor system`);
    return this.deliver(target, { type: 'clock.deadline', key: key ?? last.key, tsEvent: Math.max(this.now(), last.atMs) });
  }

  /** The whole system's persisted snapshot, as JSON text (what the store would keep). */
  persist(): string {
    return JSON.stringify(this.root.getPersistedSnapshot());
  }

  stop(): void {
    this.root.stop();
  }
}

export const startOrderHarness = (input: OrderMachineInput, options?: OrderHarnessOptions): OrderHarness =>
  new OrderHarness(input, options);

/**
 * Model-based tests of the order machine, generated from its graph with
 * `xstate/graph`: every path drives a REAL order actor inside a tiny actor system
 * of deterministic test actors (test/support/test-actors/order-harness.ts) and
 * checks, at every step, the real actor's state and exactly what it sent.
 *
 * The graph: a vertex is the state value, whether anything is filled, where
 * `reconciling` came from (the hidden context the guards read), and whether the
 * state was just re-entered through one of its own self-loops (so simple paths can
 * take self-loops once). Paths, for four inputs (market, limit, closed + reject,
 * closed + queue):
 * - shortest paths: every vertex reached; at its end the whole system is persisted,
 *   restored from JSON and resumed (a restart at every state);
 * - simple paths with `filterEvents: s.can(e)` in two phases, because simple paths
 *   over the whole graph do not finish (reconciling links every state with every
 *   other): phase 1 from the initial state with `reconciling` as a sink (every way
 *   to the first unknown outcome), phase 2 from every way into `reconciling` with
 *   its exits as sinks (every way out), and phase 3 likewise from every way into
 *   `backing_off` (the wait before a resubmission), which only `reconciling` leads to.
 * Then: every state node reached, every (state, event, target) edge of the machine
 * taken by a real actor, and those edges equal the table in order-status.ts.
 */
import type { TestPath } from 'xstate/graph';
import { createTestModel } from 'xstate/graph';
import { afterAll, describe, expect, it } from 'vitest';
import { ORDER_EVENT_TYPES, ORDER_TRANSITIONS, isTerminal } from '../../src/domain/order-status.js';
import { OrderStatusSchema, type OrderStatus } from '../../src/domain/orders.js';
import type { Message } from '../../src/domain/messages.js';
import { orderMachine, type OrderEvent, type OrderMachineInput } from '../../src/machines/order.machine.js';
import { resubmitDelayMs } from '../../src/machines/order/context.js';
import {
  edgeKey,
  edgeOf,
  limitOrder,
  machineEdges,
  marketOrder,
  orderEvents,
  orderInput,
  startOrderHarness,
  T0,
  variantOf,
  type Delivery,
  type OrderHarness,
  type OrderSnapshot,
} from '../support/test-actors/order-harness.js';

type Path = TestPath<OrderSnapshot, OrderEvent>;

const INPUTS: Record<string, OrderMachineInput> = {
  'market order': orderInput(marketOrder),
  'limit order': orderInput(limitOrder),
  'market closed, reject': orderInput(limitOrder, { marketOpen: false, outsideHours: 'reject' }),
  'market closed, queue for the next open': orderInput(limitOrder, { marketOpen: false, outsideHours: 'queue_next_open' }),
};

const STATUSES = OrderStatusSchema.options;
const WAITING = new Set<OrderStatus>(['queued', 'submitting', 'cancelling', 'reconciling', 'backing_off']);

/** Self-loop edges (from the table): taking one marks the vertex, so a simple path can take it once. */
const selfLoop = (value: unknown, eventType: string): boolean =>
  ORDER_TRANSITIONS[value as OrderStatus]?.[eventType as (typeof ORDER_EVENT_TYPES)[number]]?.includes(value as OrderStatus) ?? false;

/** The hidden context guards read: filled or not, and for reconciling where it came from. */
const core = (s: OrderSnapshot): string =>
  `${String(s.value)}|${s.context.filledQuantity > 0 ? 'filled' : 'none'}${s.value === 'reconciling' ? `|from:${s.context.cameFrom}` : ''}`;

const vertex = (s: OrderSnapshot, e?: OrderEvent, prev?: OrderSnapshot): string =>
  core(s) + (e && prev && prev.value === s.value && selfLoop(s.value, e.type) ? ' ~' : '');

function modelFor(input: OrderMachineInput) {
  return createTestModel(orderMachine, {
    events: (s) => orderEvents(s as OrderSnapshot, T0),
    serializeState: (s, e, prev) => vertex(s as OrderSnapshot, e as OrderEvent | undefined, prev as OrderSnapshot | undefined),
    input,
  });
}

const can = (s: OrderSnapshot, e: OrderEvent): boolean => s.can(e);

// ---------------------------------------------------------------------------
// What the real actor must have sent after each step

const label = (d: Delivery): string => `${d.to} <- ${d.event.type}`;

function expectedEffects(h: OrderHarness, before: OrderSnapshot, event: OrderEvent, after: OrderSnapshot): string[] {
  const { input } = h;
  const same = before.value === after.value;
  const reentered = same && after.value === 'reconciling' && (event.type === 'clock.deadline' || event.type === 'resume');
  const entered = !same || reentered;
  const out: string[] = [];
  if (entered) {
    switch (after.value) {
      case 'queued':
        out.push('clock <- clock.schedule', `${input.replyTo} <- order.result`);
        break;
      case 'backing_off':
        out.push('clock <- clock.schedule');
        break;
      case 'submitting':
        out.push('broker <- broker.submit', 'clock <- clock.schedule');
        break;
      case 'cancelling':
        out.push('broker <- broker.cancel', 'clock <- clock.schedule');
        break;
      case 'reconciling':
        out.push('broker <- broker.queryStatus', 'clock <- clock.schedule');
        break;
      case 'accepted':
      case 'partially_filled':
        // the limit timeout, unless it is already pending (accepted -> partially_filled keeps it)
        if (input.order.type === 'limit' && !before.context.deadline?.key.startsWith('limit#')) out.push('clock <- clock.schedule');
        break;
      default:
        if (isTerminal(String(after.value))) out.push(`${input.replyTo} <- order.result`, 'engine <- order.finished');
    }
  } else if ((after.value === 'queued' || after.value === 'backing_off') && event.type === 'resume') {
    out.push('clock <- clock.schedule');
  }
  for (let i = before.context.fills.length; i < after.context.fills.length; i++) out.push('ledger <- ledger.applyFill');
  if (event.type === 'broker.status' && event.status === 'not_found' && after.value === 'cancelled' && before.context.cameFrom !== 'cancelling') {
    out.push('monitor <- monitor.alert');
  }
  return out.sort();
}

/** Rules of docs/machines.md checked independently of the machine's own definition. */
function checkProtocol(before: OrderSnapshot, event: OrderEvent, after: OrderSnapshot): void {
  const from = before.value as OrderStatus;
  const to = after.value as OrderStatus;
  if (to === 'submitting' && from !== 'submitting') {
    // never resubmit blindly: only a fresh order, a queued one at the open, or one the broker never saw once its back-off is over
    const fresh = from === 'new' || (from === 'queued' && event.type === 'clock.deadline');
    const backedOff = from === 'backing_off' && event.type === 'clock.deadline';
    expect(fresh || backedOff, `${from} --${event.type}--> submitting`).toBe(true);
  }
  if (to === 'backing_off' && from !== 'backing_off') {
    // only an order the broker never saw waits to be submitted again, for the doubling back-off
    const neverSeen =
      from === 'reconciling' &&
      event.type === 'broker.status' &&
      event.status === 'not_found' &&
      before.context.cameFrom === 'submitting' &&
      before.context.filledQuantity === 0;
    expect(neverSeen, `${from} --${event.type}--> backing_off`).toBe(true);
    const n = after.context.resubmits ?? 0;
    expect(n).toBe((before.context.resubmits ?? 0) + 1);
    expect(after.context.deadline).toEqual({ key: `backoff#${after.context.deadlineSeq}`, atMs: event.tsEvent + resubmitDelayMs(after.context, n) });
  }
  if (to === 'reconciling' && from !== 'reconciling') {
    // only an unknown outcome leads to reconciling
    const unknown =
      event.type === 'clock.deadline' ||
      event.type === 'broker.disconnected' ||
      event.type === 'resume' ||
      (event.type === 'broker.rejected' && (event.reason === 'DUPLICATE_CLIENT_ORDER_ID' || from === 'cancelling'));
    expect(unknown, `${from} --${event.type}--> reconciling`).toBe(true);
  }
  if (event.type === 'broker.status' && from === 'reconciling') {
    // the broker's answer wins
    if (isTerminal(event.status)) expect(to).toBe(event.status);
    if (event.status === 'not_found') expect(to).toBe(before.context.cameFrom === 'submitting' && before.context.filledQuantity === 0 ? 'backing_off' : 'cancelled');
  }
  if (to === 'accepted' || to === 'partially_filled') expect(to).toBe(after.context.filledQuantity > 0 ? 'partially_filled' : 'accepted');
  if (isTerminal(to) && to !== 'filled') expect(after.context.filledQuantity).toBeLessThan(after.context.order.quantity);
}

/** The real actor is where the model is, and sent exactly what this step should have. */
function checkStep(h: OrderHarness, model: OrderSnapshot): void {
  const real = h.snapshot();
  expect(real.value).toEqual(model.value);
  expect(core(real)).toBe(core(model));
  expect(real.status).toBe(isTerminal(String(real.value)) ? 'done' : 'active');
  expect(h.errors).toEqual([]);
  const effects = h.takeEffects();
  const { before, lastEvent } = h;
  if (before && lastEvent) checkProtocol(before, lastEvent, real);
  expect(effects.map(label).sort()).toEqual(before && lastEvent ? expectedEffects(h, before, lastEvent, real) : []);

  const { order, replyTo } = h.input;
  const c = real.context;
  for (const { event: msg } of effects) {
    switch (msg.type) {
      case 'broker.submit':
        // the same request, the same client order id, every time
        expect(msg).toEqual({ type: 'broker.submit', order, replyTo: h.selfId });
        break;
      case 'broker.cancel':
      case 'broker.queryStatus':
        expect(msg).toEqual({ type: msg.type, clientOrderId: order.clientOrderId, replyTo: h.selfId });
        break;
      case 'clock.schedule':
        expect(msg).toEqual({ type: 'clock.schedule', target: h.selfId, ...c.deadline });
        break;
      case 'ledger.applyFill': {
        const m = msg as Message<'ledger.applyFill'>;
        expect(m.clientOrderId).toBe(order.clientOrderId);
        expect(before?.context.fills.some((f) => f.fillId === m.fill.fillId)).toBe(false);
        break;
      }
      case 'order.result': {
        const m = msg as Message<'order.result'>;
        expect(m.result).toMatchObject({
          clientOrderId: order.clientOrderId,
          status: String(real.value),
          filledQuantity: c.filledQuantity,
          fees: c.fees,
        });
        expect(m.result.averagePrice).toBe(c.averagePrice);
        break;
      }
      case 'order.finished': {
        const m = msg as Message<'order.finished'>;
        expect(m.result).toEqual(h.received(replyTo, 'order.result').at(-1)?.result);
        break;
      }
    }
  }
  // a waiting state has exactly one pending deadline: the one the clock was last asked for
  const limitWait = (real.value === 'accepted' || real.value === 'partially_filled') && order.type === 'limit';
  if (WAITING.has(real.value as OrderStatus) || limitWait) {
    expect(h.received('clock', 'clock.schedule').at(-1)).toEqual({ type: 'clock.schedule', target: h.selfId, ...c.deadline });
  } else {
    expect(c.deadline).toBeUndefined();
  }
  // each fill reached the ledger exactly once
  expect(h.received('ledger', 'ledger.applyFill').map((m) => m.fill.fillId)).toEqual(c.fills.map((f) => f.fillId));
  // a submit is only ever sent on entering submitting
  expect(h.received('broker', 'broker.submit').length).toBe(submits.get(h) ?? 0);
}

const submits = new WeakMap<OrderHarness, number>();

/** Perform the model's event on the real system, as the actor that sends it would. */
function drive(h: OrderHarness, modelEvent: OrderEvent): void {
  const real = orderEvents(h.snapshot(), h.now()).find((e) => variantOf(e) === variantOf(modelEvent));
  if (!real) throw new Error(`no real counterpart for ${variantOf(modelEvent)}`);
  const before = h.snapshot();
  if (real.type === 'order.place' || real.type === 'order.cancel' || real.type === 'resume') h.send(real);
  else if (real.type === 'clock.deadline') {
    // the pending deadline is the one the clock was last asked for; the clock delivers it
    expect(h.received('clock', 'clock.schedule').at(-1)?.key).toBe(before.context.deadline?.key);
    h.fromClock();
  } else h.fromBroker(real);
  if (h.snapshot().value === 'submitting' && before.value !== 'submitting') submits.set(h, (submits.get(h) ?? 0) + 1);
}

// ---------------------------------------------------------------------------
// Coverage bookkeeping

const takenEdges = new Set<string>();
const reachedStates = new Set<string>();
let pathsRun = 0;

async function runPath(input: OrderMachineInput, path: Path): Promise<OrderHarness> {
  const h = startOrderHarness(input);
  const states = Object.fromEntries(STATUSES.map((s) => [s, (model: OrderSnapshot) => checkStep(h, model)]));
  const events = Object.fromEntries(ORDER_EVENT_TYPES.map((t) => [t, ({ event }: { event: OrderEvent }) => drive(h, event)]));
  await path.test({ states, events });
  for (const t of h.transitions) takenEdges.add(edgeKey(edgeOf(t)));
  for (const step of path.steps) reachedStates.add(String(step.state.value));
  reachedStates.add(String(h.snapshot().value));
  pathsRun++;
  return h;
}

/** Restart at this point: persist the whole system, restore it from JSON, resume. */
function restartAndResume(h: OrderHarness): void {
  const saved = h.snapshot();
  // a finished order has left its parent (the engine drops it): nothing to restore
  if (saved.status === 'done') return;
  const persisted = JSON.parse(h.persist()) as unknown;
  h.stop();
  const r = startOrderHarness(h.input, { snapshot: persisted, startMs: T0 + 3_600_000 });
  const restored = r.snapshot();
  expect(restored.value).toEqual(saved.value);
  expect(restored.context).toEqual(JSON.parse(JSON.stringify(saved.context)));
  expect(r.takeEffects()).toEqual([]); // a restore runs no actions
  r.send({ type: 'resume', tsEvent: r.now() });
  const sent = r.takeEffects().map(label).sort();
  const after = r.snapshot();
  switch (saved.value) {
    case 'new':
      // never placed before the crash: place it now
      expect(after.value).toBe(h.input.marketOpen ? 'submitting' : h.input.outsideHours === 'reject' ? 'rejected' : 'queued');
      break;
    case 'queued':
    case 'backing_off':
      // waiting for a time: the same deadline again (a back-off already over is delivered at once)
      expect(after.value).toBe(saved.value);
      expect(sent).toEqual(['clock <- clock.schedule']);
      expect(r.received('clock', 'clock.schedule')).toEqual([{ type: 'clock.schedule', target: r.selfId, ...saved.context.deadline }]);
      break;
    default:
      // submitting, accepted, partially_filled, cancelling, reconciling: ask the broker, never resubmit
      expect(after.value).toBe('reconciling');
      expect(sent).toEqual(['broker <- broker.queryStatus', 'clock <- clock.schedule']);
  }
  if (saved.value !== 'new') expect(r.received('broker', 'broker.submit')).toEqual([]);
  r.stop();
}

// ---------------------------------------------------------------------------

const summary: string[] = [];

for (const [name, input] of Object.entries(INPUTS)) {
  const model = modelFor(input);
  const shortest = model.getShortestPaths() as Path[];
  const phase1 = model.getSimplePaths({ filterEvents: can, stopWhen: (s) => s.value === 'reconciling' }) as Path[];
  const toEvery = model.getShortestPaths({ allowDuplicatePaths: true }) as Path[];
  const intoReconciling = toEvery.filter((p) => p.state.value === 'reconciling');
  const phase2 = model.getSimplePathsFrom(intoReconciling, { filterEvents: can, stopWhen: (s) => s.value !== 'reconciling' }) as Path[];
  const intoBackingOff = toEvery.filter((p) => p.state.value === 'backing_off');
  const phase3 = model.getSimplePathsFrom(intoBackingOff, { filterEvents: can, stopWhen: (s) => s.value !== 'backing_off' }) as Path[];
  const adjacency = model.getAdjacencyMap();
  summary.push(
    `${name}: ${Object.keys(adjacency).length} vertices, ${shortest.length} shortest paths, ${phase1.length} + ${phase2.length} + ${phase3.length} simple paths`,
  );

  describe(`order machine model: ${name}`, () => {
    it(`reaches every vertex (${shortest.length} shortest paths)`, async () => {
      const reached = new Set<string>();
      for (const path of shortest) {
        path.steps.forEach((step, i) => reached.add(i === 0 ? vertex(step.state) : vertex(step.state, step.event, path.steps[i - 1]?.state)));
        (await runPath(input, path)).stop();
      }
      expect([...reached].sort()).toEqual(Object.keys(adjacency).sort());
    });

    it(`restarts at every vertex: restore from JSON, resume, never resubmit (${toEvery.length} paths)`, async () => {
      for (const path of toEvery) restartAndResume(await runPath(input, path));
    });

    it(`takes every transition up to the first unknown outcome (${phase1.length} simple paths)`, async () => {
      for (const path of phase1) (await runPath(input, path)).stop();
    });

    it(`takes every transition through reconciling (${phase2.length} simple paths from ${intoReconciling.length} ways in)`, async () => {
      for (const path of phase2) (await runPath(input, path)).stop();
    });

    it(`takes every transition out of the back-off (${phase3.length} simple paths from ${intoBackingOff.length} ways in)`, async () => {
      for (const path of phase3) (await runPath(input, path)).stop();
    });
  });
}

describe('order machine model: coverage', () => {
  afterAll(() => console.info(`order machine model paths:\n  ${summary.join('\n  ')}\n  ${pathsRun} paths run`));

  it('reached every state node of the machine', () => {
    expect([...reachedStates].sort()).toEqual(Object.keys(orderMachine.root.states).sort());
  });

  it('took every (state, event, target) edge of the machine, and the edges are the order-status table', () => {
    const all = machineEdges().map(edgeKey).sort();
    const missing = all.filter((e) => !takenEdges.has(e));
    expect(missing).toEqual([]);
    expect([...takenEdges].sort()).toEqual(all);
    const table = Object.entries(ORDER_TRANSITIONS)
      .flatMap(([source, byEvent]) =>
        Object.entries(byEvent).flatMap(([event, targets]) => (targets ?? []).map((target) => `${source} --${event}--> ${target}`)),
      )
      .sort();
    expect(all).toEqual(table);
    console.info(`order machine: ${Object.keys(orderMachine.root.states).length} states, ${all.length} edges, all taken`);
  });
});

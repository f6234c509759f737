/**
 * Model-based tests of the session machine, generated from its graph with
 * `xstate/graph`. Every path drives a REAL session actor inside a tiny actor
 * system (test/support/test-actors/session-harness.ts) whose test actors stand
 * for marketData, ledger, agent, risk, clock and monitor; the test answers for
 * them from the requests they actually received. In every state the test checks
 * the real actor's state value and exactly what it sent during the step.
 *
 * The model is abstract: a state is serialized as its value plus two flags
 * (`atMax`: in `deciding` with no order left, so the maxIntents refusal is
 * enabled; `via`: the event of a self-transition, so `resume` and the refusal
 * show up as edges). Counters in the context are left out to keep the graph
 * finite, so a model snapshot's context is not trusted: events are built by the
 * harness from the real requests, and the checks read the real actor.
 *
 * Coverage is measured twice: from the model paths' steps, and from the
 * transitions the real actors took (inspection `@xstate.microstep`); both must
 * be every (source, event, target) edge of the machine, and the real actors
 * must have been in every state node.
 */
import { describe, expect, it } from 'vitest';
import type { AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { createTestModel, getStateNodes } from 'xstate/graph';
import type { Message, SessionStep } from '../../src/domain/messages.js';
import { sessionMachine, type SessionEvent, type SessionInput } from '../../src/machines/session.machine.js';
import {
  ACCOUNT,
  AT,
  BUDGETS,
  BUY,
  filled,
  NEXT_OPEN_MS,
  orderId,
  SESSION_ID,
  SESSION_SYSTEM_ID,
  SIGNATURE,
  SUMMARY,
  sessionInput,
  VIEW,
} from '../support/test-actors/session-fixtures.js';
import { driver, RISK_REJECTION } from '../support/test-actors/session-driver.js';
import { startSessionHarness, type Delivery, type SessionHarness, type SessionSnapshot } from '../support/test-actors/session-harness.js';

// ---------------------------------------------------------------------------
// The model

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

const serializeState = (s: SessionSnapshot, event: SessionEvent | undefined, prev?: SessionSnapshot): string =>
  JSON.stringify({
    value: s.value,
    atMax: s.matches('deciding') && s.context.orderIndex >= s.context.input.maxIntents,
    via: prev && sameValue(prev.value, s.value) ? event?.type : undefined,
  });

/** One event of each type the session handles, valid for the (model) snapshot `s`. */
function modelEvents(s: SessionSnapshot): SessionEvent[] {
  const c = s.context;
  const sessionId = c.input.sessionId;
  const clientOrderId = c.clientOrderId ?? '';
  const tsEvent = c.input.atMs;
  return [
    { type: 'session.start', tsEvent },
    { type: 'resume', tsEvent },
    { type: 'marketData.fetched', sessionId, view: VIEW, tsEvent },
    { type: 'marketData.failed', sessionId, message: 'x', tsEvent },
    { type: 'ledger.account', sessionId, account: ACCOUNT, tsEvent },
    { type: 'ledger.failed', sessionId, message: 'x', tsEvent },
    { type: 'ledger.recorded', sessionId, tsEvent },
    { type: 'agent.intent', sessionId, step: c.intentCount, intent: BUY, tsEvent },
    { type: 'agent.done', sessionId, summary: SUMMARY, tsEvent },
    { type: 'agent.failed', sessionId, message: 'x', tsEvent },
    { type: 'risk.approved', sessionId, clientOrderId, tsEvent },
    { type: 'risk.rejected', sessionId, clientOrderId, ...RISK_REJECTION, tsEvent },
    {
      type: 'order.result',
      sessionId,
      result: filled({ ...BUY, clientOrderId, signature: c.input.signature }),
      tsEvent,
    },
    { type: 'clock.deadline', key: c.deadline?.key ?? '', tsEvent: c.deadline?.atMs ?? tsEvent },
  ];
}

const modelFor = (input: SessionInput) => createTestModel(sessionMachine, { input, events: modelEvents, serializeState });

// ---------------------------------------------------------------------------
// Driving the real actor: the harness answers as the test actors would

type Executors = { [K in SessionEvent['type']]: () => void };

function executors(h: SessionHarness): Executors {
  const d = driver(h);
  return {
    'session.start': d.start,
    resume: d.resume,
    'marketData.fetched': () => d.fetched(),
    'marketData.failed': d.fetchFailed,
    'ledger.account': () => d.account(),
    'ledger.failed': () => (h.snapshot().matches('recording') ? d.recordFailed() : d.accountFailed()),
    'ledger.recorded': d.recorded,
    'agent.intent': () => d.intent(),
    'agent.done': () => d.done(),
    'agent.failed': d.agentFailed,
    'risk.approved': d.approve,
    'risk.rejected': () => d.reject(),
    'order.result': () => d.orderResult(),
    'clock.deadline': d.deadline,
  };
}

// ---------------------------------------------------------------------------
// What the real actor must have sent in each state, from the event that led there

const STEPS: readonly SessionStep[] = ['fetching', 'analyzing', 'deciding', 'executing', 'recording'];
const stepOf = (value: unknown): SessionStep => {
  const top = typeof value === 'string' ? value : Object.keys(value as object)[0];
  const step = STEPS.find((s) => s === top);
  if (!step) throw new Error(`not a step: ${JSON.stringify(value)}`);
  return step;
};
const stateKey = (value: unknown): string =>
  typeof value === 'string' ? value : Object.entries(value as Record<string, string>).map(([k, v]) => `${k}.${v}`)[0]!;

function expectedEffects(h: SessionHarness, now: SessionSnapshot): Delivery[] {
  const event = h.lastEvent;
  const prev = h.before;
  const ctx = now.context;
  // `resume` re-sends the pending request; from idle it is the start the session missed
  const resumed = event?.type === 'resume' && prev !== undefined && sameValue(prev.value, now.value);
  const schedule = (step: SessionStep): Delivery => {
    const before = prev!.context;
    const deadline = resumed
      ? before.deadline!
      : { key: `${step}#${before.deadlineCount + 1}`, atMs: event!.tsEvent + BUDGETS[`${step}Ms`] };
    expect(ctx.deadline).toEqual(deadline);
    return { to: 'clock', event: { type: 'clock.schedule', target: SESSION_SYSTEM_ID, ...deadline } };
  };
  const ask = { sessionId: SESSION_ID, signature: SIGNATURE, at: AT };

  switch (stateKey(now.value)) {
    case 'idle':
      return [];
    case 'fetching':
      return [{ to: 'marketData', event: { type: 'marketData.fetch', ...ask, replyTo: SESSION_SYSTEM_ID } }, schedule('fetching')];
    case 'analyzing':
      expect(ctx.market).toEqual(VIEW);
      return [{ to: 'ledger', event: { type: 'ledger.getAccount', ...ask, replyTo: SESSION_SYSTEM_ID } }, schedule('analyzing')];
    case 'deciding': {
      const decide: Delivery = {
        to: 'agent',
        event: { type: 'agent.decide', ...ask, step: ctx.intentCount, market: VIEW, account: ACCOUNT, results: ctx.results, replyTo: SESSION_SYSTEM_ID },
      };
      if (event?.type === 'agent.intent') {
        // beyond maxIntents: refused here, risk never asked, the same deadline still runs
        expect(ctx.results.at(-1)).toMatchObject({ status: 'denied', reason: 'MAX_ORDERS_PER_SESSION', intent: event.intent });
        expect(ctx.deadline).toEqual(prev!.context.deadline);
        return [decide];
      }
      if (event?.type === 'risk.rejected') {
        expect(ctx.results.at(-1)).toEqual({
          clientOrderId: orderId(1),
          intent: BUY,
          status: 'denied',
          filledQuantity: 0,
          fees: '0',
          ...RISK_REJECTION,
        });
      }
      if (event?.type === 'order.result') expect(ctx.results.at(-1)).toEqual(event.result);
      return [decide, schedule('deciding')];
    }
    case 'executing.checking': {
      expect(ctx.clientOrderId).toBe(orderId(1));
      const check: Delivery = {
        to: 'risk',
        event: { type: 'risk.check', ...ask, clientOrderId: orderId(1), intent: BUY, replyTo: SESSION_SYSTEM_ID },
      };
      return resumed ? [check, schedule('executing')] : [schedule('executing'), check];
    }
    case 'executing.ordering':
      // on resume the engine resumes the order actor it holds: no second engine.placeOrder
      if (resumed) return [schedule('executing')];
      return [
        {
          to: 'engine',
          event: {
            type: 'engine.placeOrder',
            sessionId: SESSION_ID,
            order: { ...BUY, clientOrderId: orderId(1), signature: SIGNATURE },
            marketOpen: true,
            nextOpenMs: NEXT_OPEN_MS,
            // the price the agent saw: a queued order's protective limit is set from it
            decisionPrice: VIEW.quotes[BUY.symbol]!.price,
            tsEvent: event!.tsEvent,
          },
        },
      ];
    case 'recording':
      return [
        {
          to: 'ledger',
          event: {
            type: 'ledger.recordSession',
            outcome: { ...ask, status: 'completed', results: ctx.results, summary: SUMMARY },
            replyTo: SESSION_SYSTEM_ID,
          },
        },
        schedule('recording'),
      ];
    case 'completed': {
      const outcome = { ...ask, status: 'completed', results: ctx.results, summary: SUMMARY };
      expect(now.status).toBe('done');
      expect(now.output).toEqual(outcome);
      return [{ to: 'engine', event: { type: 'session.finished', outcome, tsEvent: event!.tsEvent } }];
    }
    case 'skipped': {
      const outcome = { ...ask, status: 'skipped', reason: 'AGENT_DISABLED', results: [] };
      expect(now.status).toBe('done');
      expect(now.output).toEqual(outcome);
      return [{ to: 'engine', event: { type: 'session.finished', outcome, tsEvent: event!.tsEvent } }];
    }
    case 'failed': {
      const step = stepOf(prev!.value);
      const error =
        event!.type === 'clock.deadline'
          ? { step, reason: 'DEADLINE', message: `${step} did not finish within its budget of ${BUDGETS[`${step}Ms`]} ms (deadline ${event!.key})` }
          : { step, reason: 'ACTOR_FAILED', message: `${event!.type}: ${(event as Message<'agent.failed'>).message}` };
      expect(ctx.error).toEqual(error);
      const outcome = {
        ...ask,
        status: 'failed',
        reason: error.reason,
        error,
        results: ctx.results,
        ...(ctx.summary ? { summary: ctx.summary } : {}),
      };
      expect(now.status).toBe('done');
      expect(now.output).toEqual(outcome);
      return [
        {
          to: 'monitor',
          event: {
            type: 'monitor.alert',
            level: 'critical',
            code: 'SESSION_FAILED',
            message: `session ${SESSION_ID} failed in ${step}: ${error.reason}: ${error.message}`,
            signature: SIGNATURE,
            sessionId: SESSION_ID,
            tsEvent: event!.tsEvent,
          },
        },
        { to: 'engine', event: { type: 'session.finished', outcome, tsEvent: event!.tsEvent } },
      ];
    }
    default:
      throw new Error(`unexpected state ${JSON.stringify(now.value)}`);
  }
}

// ---------------------------------------------------------------------------
// Coverage bookkeeping

const ALL_NODES: readonly AnyStateNode[] = getStateNodes(sessionMachine.root);
const nodeName = (n: AnyStateNode) => n.path.join('.') || '(root)';
const edgeName = (t: AnyTransitionDefinition) =>
  `${nodeName(t.source)} --${t.eventType}--> ${t.target ? t.target.map(nodeName).join(',') : '(stays)'}`;
const MACHINE_EDGES: readonly AnyTransitionDefinition[] = [sessionMachine.root as AnyStateNode, ...ALL_NODES].flatMap(
  (n): AnyTransitionDefinition[] => Object.values(n.on).flat(),
);
const EDGE_NAMES = MACHINE_EDGES.map(edgeName);

/** The machine edge a model step took: same source chain, event type and target (guards are not re-evaluated). */
function edgeOf(prev: SessionSnapshot, event: SessionEvent, next: SessionSnapshot): string {
  const nextNodes: readonly AnyStateNode[] = next._nodes;
  const candidates = (prev._nodes as readonly AnyStateNode[])
    .flatMap((n): AnyTransitionDefinition[] => n.on[event.type] ?? [])
    .filter((t) => (t.target ? t.target.every((target) => nextNodes.includes(target)) : sameValue(prev.value, next.value)));
  if (candidates.length !== 1) throw new Error(`${candidates.length} edges match ${JSON.stringify(prev.value)} --${event.type}-->`);
  return edgeName(candidates[0]!);
}

const coverage = {
  modelEdges: new Set<string>(),
  realEdges: new Set<string>(),
  realNodes: new Set<string>(),
  paths: 0,
};

type TestPath = ReturnType<ReturnType<typeof modelFor>['getShortestPaths']>[number];

const describePath = (path: TestPath) => path.steps.slice(1).map((s) => s.event.type).join(' → ') || '(start)';

async function runPath(input: SessionInput, path: TestPath): Promise<void> {
  const h = startSessionHarness(input);
  try {
    await path.test({
      events: executors(h),
      states: {
        '*': (modelState) => {
          const now = h.snapshot();
          expect(h.errors).toEqual([]);
          expect(now.value).toEqual(modelState.value);
          expect(h.takeEffects()).toEqual(expectedEffects(h, now));
          for (const n of now._nodes) if (n.path.length > 0) coverage.realNodes.add(nodeName(n));
        },
      },
    });
  } finally {
    h.stop();
  }
  for (const t of h.transitions) coverage.realEdges.add(edgeName(t));
  for (let i = 1; i < path.steps.length; i++) {
    coverage.modelEdges.add(edgeOf(path.steps[i - 1]!.state, path.steps[i]!.event, path.steps[i]!.state));
  }
  coverage.paths += 1;
}

// ---------------------------------------------------------------------------
// The tests

const INPUTS = [
  { name: 'enabled agent (maxIntents 1)', input: sessionInput({ maxIntents: 1 }) },
  { name: 'disabled agent', input: sessionInput({ enabled: false }) },
] as const;

const PLANS = INPUTS.map(({ name, input }) => {
  const model = modelFor(input);
  const shortest = model.getShortestPaths();
  const simple = model.getSimplePaths({ filterEvents: (s, e) => s.can(e) });
  const byEnd = new Map<string, TestPath[]>();
  for (const p of simple) {
    const key = `${stateKey(p.state.value)} by ${p.steps.at(-1)!.event.type}`;
    byEnd.set(key, [...(byEnd.get(key) ?? []), p]);
  }
  return { name, input, shortest, simple, byEnd: [...byEnd.entries()] };
});
const TOTAL_PATHS = PLANS.reduce((n, p) => n + p.shortest.length + p.simple.length, 0);

describe.each(PLANS)('session model: $name', ({ input, shortest, simple, byEnd }) => {
  describe(`${shortest.length} shortest paths (every reachable state)`, () => {
    for (const path of shortest) {
      it(`reaches ${stateKey(path.state.value)}: ${describePath(path)}`, async () => {
        await runPath(input, path);
      });
    }
  });

  describe(`${simple.length} simple paths (every edge)`, () => {
    for (const [end, paths] of byEnd) {
      it(`the ${paths.length} simple paths ending in ${end}`, { timeout: 60_000 }, async () => {
        for (const path of paths) await runPath(input, path);
      });
    }
  });
});

describe('session model coverage', () => {
  it(`the ${TOTAL_PATHS} paths reach all ${ALL_NODES.length} state nodes and take all ${MACHINE_EDGES.length} edges, on the model and on the real actors`, () => {
    expect(new Set(EDGE_NAMES).size, 'every (source, event, target) edge is distinct').toBe(EDGE_NAMES.length);
    expect(coverage.paths, 'run the whole file: coverage is collected by the path tests above').toBe(TOTAL_PATHS);
    expect([...coverage.modelEdges].sort()).toEqual([...EDGE_NAMES].sort());
    expect([...coverage.realEdges].sort()).toEqual([...EDGE_NAMES].sort());
    expect([...coverage.realNodes].sort()).toEqual(ALL_NODES.map(nodeName).sort());
  });
});

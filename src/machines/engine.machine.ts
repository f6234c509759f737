/**
 * The engine: the supervisor of one trading process.
 *
 * It spawns the system actors (clock, market data, ledger, agent, risk, broker,
 * monitor) once, then on each `clock.tick` one session per agent, and on a
 * session's `engine.placeOrder` the order actor (orders are the engine's children,
 * not the session's, because a queued order outlives its session). Children are
 * found by system id, so any actor can answer any other without the engine in the
 * middle; the engine only creates, supervises and forgets.
 *
 * A child that throws (`xstate.error.actor.<id>`) fails its own session only: the
 * outcome is recorded as failed, an alert goes out, and the other sessions go on.
 * Outcomes are kept in a bounded history (the journal in the store keeps all).
 *
 * Pure: no I/O, no timers, time only from events. The system actors are typed
 * stubs here; the runtime provides the real ones with `engineMachine.provide`.
 */
import { enqueueActions, fromCallback, setup, type AnyActorRef } from 'xstate';
import { orderSystemId, sessionId as makeSessionId, sessionSystemId, SYSTEM_IDS } from '../domain/ids.js';
import type { Frequency, Market } from '../domain/markets.js';
import type { ControlMessages, Message, SessionOutcome, SessionStep } from '../domain/messages.js';
import type { OrderResult } from '../domain/orders.js';
import { DEFAULT_QUEUED_LIMIT_BAND, queuedOrder } from '../domain/queued-orders.js';
import { orderMachine, type OrderMachineInput } from './order.machine.js';
import { sessionMachine, type SessionInput } from './session.machine.js';

export interface EngineAgent {
  readonly signature: string;
  readonly enabled: boolean;
}

export interface EngineInput {
  readonly market: Market;
  readonly frequency: Frequency;
  readonly agents: readonly EngineAgent[];
  readonly budgets: SessionInput['budgets'];
  readonly maxIntents: number;
  readonly orders: Pick<
    OrderMachineInput,
    'outsideHours' | 'submitTimeoutMs' | 'cancelTimeoutMs' | 'limitTimeoutMs' | 'queryRetryMs' | 'resubmitBackoffMs' | 'resubmitBackoffMaxMs'
  > & {
    /** `execution.queued_limit_band`: a queued market order's protective limit (default DEFAULT_QUEUED_LIMIT_BAND). */
    readonly queuedLimitBand?: number;
  };
  /** How many session outcomes (and order results) the engine keeps in its snapshot. */
  readonly historyLimit: number;
}

export interface EngineContext extends EngineInput {
  /** signature -> its running session. */
  readonly running: Readonly<Record<string, { readonly sessionId: string; readonly at: string }>>;
  /** client order id -> the session (or protective order source) that asked for it, and its signature (open orders only). */
  readonly openOrders: Readonly<Record<string, { readonly sessionId: string; readonly signature: string }>>;
  readonly history: readonly SessionOutcome[];
  readonly orderHistory: readonly OrderResult[];
  readonly lastTick: { readonly at: string; readonly atMs: number } | undefined;
  readonly ticks: number;
}

type ChildError = { type: `xstate.error.actor.${string}`; error: unknown };
export type EngineEvent =
  | ControlMessages['clock.tick']
  | ControlMessages['engine.placeOrder']
  | ControlMessages['engine.cancelOpenOrders']
  | ControlMessages['session.finished']
  | ControlMessages['order.finished']
  | ControlMessages['resume']
  | ChildError;

/** Placeholder for a system actor: the runtime must provide the real one. */
const notProvided = (name: string) =>
  fromCallback(() => {
    throw new Error(`system actor "${name}" was not provided to the engine`);
  });

const bounded = <T>(list: readonly T[], item: T, limit: number): T[] => [...list, item].slice(-limit);

const STEPS: readonly SessionStep[] = ['fetching', 'analyzing', 'deciding', 'executing', 'recording'];

/** The step a crashed session was in, read from its last snapshot value. */
function stepOf(value: unknown): SessionStep {
  const top = typeof value === 'string' ? value : value && typeof value === 'object' ? Object.keys(value)[0] : undefined;
  return STEPS.find((s) => s === top) ?? 'fetching';
}

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

export const engineMachine = setup({
  types: {} as { context: EngineContext; events: EngineEvent; input: EngineInput },
  actors: {
    session: sessionMachine,
    order: orderMachine,
    clock: notProvided('clock'),
    marketData: notProvided('marketData'),
    ledger: notProvided('ledger'),
    agent: notProvided('agent'),
    risk: notProvided('risk'),
    broker: notProvided('broker'),
    monitor: notProvided('monitor'),
  },
  actions: {
    spawnSystemActors: enqueueActions(({ enqueue }) => {
      for (const id of Object.values(SYSTEM_IDS)) {
        if (id === SYSTEM_IDS.engine) continue;
        enqueue.spawnChild(id, { id, systemId: id });
      }
    }),

    startSessions: enqueueActions(({ enqueue, context, event }) => {
      const tick = event as Message<'clock.tick'>;
      let running = { ...context.running };
      let history = context.history;
      for (const agent of context.agents) {
        const id = makeSessionId(agent.signature, tick.at);
        // Paused (control API): no session at all, its open orders stay as they are.
        if (tick.paused?.includes(agent.signature)) {
          history = bounded(history, { sessionId: id, signature: agent.signature, at: tick.at, status: 'skipped', reason: 'AGENT_PAUSED', results: [] }, context.historyLimit);
          continue;
        }
        if (running[agent.signature]) {
          history = bounded(
            history,
            {
              sessionId: id,
              signature: agent.signature,
              at: tick.at,
              status: 'skipped',
              reason: 'PREVIOUS_SESSION_RUNNING',
              results: [],
            },
            context.historyLimit,
          );
          enqueue.sendTo(SYSTEM_IDS.monitor, {
            type: 'monitor.alert',
            level: 'warning',
            code: 'PREVIOUS_SESSION_RUNNING',
            message: `${agent.signature}: session at ${tick.at} skipped, ${running[agent.signature]!.sessionId} is still running`,
            signature: agent.signature,
            sessionId: id,
            tsEvent: tick.tsEvent,
          } satisfies Message<'monitor.alert'>);
          continue;
        }
        const input: SessionInput = {
          sessionId: id,
          signature: agent.signature,
          market: tick.market,
          frequency: tick.frequency,
          at: tick.at,
          atMs: tick.atMs,
          enabled: agent.enabled,
          marketOpen: tick.marketOpen,
          nextOpenMs: tick.nextOpenMs,
          budgets: context.budgets,
          maxIntents: context.maxIntents,
        };
        const childId = sessionSystemId(id);
        enqueue.spawnChild('session', { id: childId, systemId: childId, input });
        enqueue.sendTo(childId, { type: 'session.start', tsEvent: tick.tsEvent } satisfies Message<'session.start'>);
        running = { ...running, [agent.signature]: { sessionId: id, at: tick.at } };
      }
      enqueue.assign({
        running,
        history,
        lastTick: { at: tick.at, atMs: tick.atMs },
        ticks: context.ticks + 1,
      });
    }),

    placeOrder: enqueueActions(({ enqueue, context, event }) => {
      const e = event as Message<'engine.placeOrder'>;
      const cid = e.order.clientOrderId;
      const childId = orderSystemId(cid);
      // A restarted session asks again for an order the engine already holds: the
      // existing actor answers; never a second actor (or a second submit) per id.
      if (context.openOrders[cid]) return;
      const { queuedLimitBand = DEFAULT_QUEUED_LIMIT_BAND, ...orders } = context.orders;
      // Outside hours and queued: the order waits as queuedOrder shapes it (a protective limit).
      const queue =
        !e.marketOpen && orders.outsideHours === 'queue_next_open'
          ? queuedOrder(context.market, e.order, { atMs: e.tsEvent, nextOpenMs: e.nextOpenMs, decisionPrice: e.decisionPrice, band: queuedLimitBand })
          : undefined;
      const input: OrderMachineInput = {
        order: e.order,
        sessionId: e.sessionId,
        replyTo: e.replyTo ?? sessionSystemId(e.sessionId),
        marketOpen: e.marketOpen,
        nextOpenMs: e.nextOpenMs,
        ...orders,
        ...(queue ? { queue } : {}),
      };
      enqueue.spawnChild('order', { id: childId, systemId: childId, input });
      enqueue.sendTo(childId, { type: 'order.place', tsEvent: e.tsEvent } satisfies Message<'order.place'>);
      enqueue.assign({ openOrders: { ...context.openOrders, [cid]: { sessionId: e.sessionId, signature: e.order.signature } } });
    }),

    cancelOpenOrders: enqueueActions(({ enqueue, context, event }) => {
      const e = event as Message<'engine.cancelOpenOrders'>;
      for (const [cid, { signature }] of Object.entries(context.openOrders)) {
        if (e.signature !== undefined && e.signature !== signature) continue;
        enqueue.sendTo(orderSystemId(cid), { type: 'order.cancel', reason: e.reason, tsEvent: e.tsEvent } satisfies Message<'order.cancel'>);
      }
    }),

    finishSession: enqueueActions(({ enqueue, context, event }) => {
      const { outcome } = event as Message<'session.finished'>;
      const { [outcome.signature]: current, ...others } = context.running;
      enqueue.assign({
        running: current?.sessionId === outcome.sessionId ? others : context.running,
        history: bounded(context.history, outcome, context.historyLimit),
      });
      enqueue.stopChild(sessionSystemId(outcome.sessionId));
    }),

    finishOrder: enqueueActions(({ enqueue, context, event }) => {
      const { clientOrderId, result } = event as Message<'order.finished'>;
      const { [clientOrderId]: _done, ...open } = context.openOrders;
      enqueue.assign({ openOrders: open, orderHistory: bounded(context.orderHistory, result, context.historyLimit) });
      enqueue.stopChild(orderSystemId(clientOrderId));
    }),

    resumeChildren: enqueueActions(({ enqueue, context, event }) => {
      const e = event as Message<'resume'>;
      for (const { sessionId } of Object.values(context.running)) enqueue.sendTo(sessionSystemId(sessionId), e);
      for (const cid of Object.keys(context.openOrders)) enqueue.sendTo(orderSystemId(cid), e);
    }),

    superviseChildError: enqueueActions(({ enqueue, context, event, self }) => {
      const e = event as ChildError;
      const childId = e.type.slice('xstate.error.actor.'.length);
      const tsEvent = context.lastTick?.atMs ?? 0;
      const message = errorMessage(e.error);
      const session = Object.entries(context.running).find(([, r]) => sessionSystemId(r.sessionId) === childId);
      if (session) {
        const [signature, { sessionId: id, at }] = session;
        const child = self.getSnapshot().children[childId] as AnyActorRef | undefined;
        const step = stepOf(child?.getSnapshot()?.value);
        const { [signature]: _gone, ...running } = context.running;
        const outcome: SessionOutcome = {
          sessionId: id,
          signature,
          at,
          status: 'failed',
          reason: 'ACTOR_FAILED',
          error: { step, reason: 'ACTOR_FAILED', message: `session crashed: ${message}` },
          results: [],
        };
        enqueue.assign({ running, history: bounded(context.history, outcome, context.historyLimit) });
        enqueue.stopChild(childId);
      }
      const order = Object.keys(context.openOrders).find((cid) => orderSystemId(cid) === childId);
      enqueue.sendTo(SYSTEM_IDS.monitor, {
        type: 'monitor.alert',
        level: 'critical',
        code: session ? 'SESSION_CRASHED' : order ? 'ORDER_ACTOR_CRASHED' : 'ACTOR_CRASHED',
        message: `${childId} crashed: ${message}${order ? ' (order state unknown: check the broker)' : ''}`,
        ...(session ? { signature: session[0], sessionId: session[1].sessionId } : {}),
        ...(order ? { clientOrderId: order } : {}),
        tsEvent,
      } satisfies Message<'monitor.alert'>);
    }),
  },
}).createMachine({
  id: 'engine',
  context: ({ input }) => ({
    ...input,
    running: {},
    openOrders: {},
    history: [],
    orderHistory: [],
    lastTick: undefined,
    ticks: 0,
  }),
  initial: 'running',
  entry: 'spawnSystemActors',
  states: {
    running: {
      on: {
        'clock.tick': { actions: 'startSessions' },
        'engine.placeOrder': { actions: 'placeOrder' },
        'engine.cancelOpenOrders': { actions: 'cancelOpenOrders' },
        'session.finished': { actions: 'finishSession' },
        'order.finished': { actions: 'finishOrder' },
        resume: { actions: 'resumeChildren' },
        'xstate.error.actor.*': { actions: 'superviseChildError' },
      },
    },
  },
});

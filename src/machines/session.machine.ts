/**
 * The session machine: one actor per agent per trading instant (docs/machines.md,
 * "Session machine").
 *
 *   idle → fetching → analyzing → deciding ⇄ executing → recording → completed
 *   plus skipped (agent disabled) and failed (a step's error or deadline)
 *
 * Pure and event-driven: no invoke, no after, no delayed actions. Each waiting
 * step sends its request by system id (`replyTo` = `session:<sessionId>`) and asks
 * the clock for a deadline on entry, and again on `resume` (after a restore, which
 * runs no actions). Replies for another session, for another order, for an older
 * decision step and deadlines with a stale key are ignored.
 *
 * Choices the table in docs/machines.md leaves open:
 * - `executing` has ONE deadline (`executingMs`, from the `agent.intent`) for the
 *   risk check and the order together; `resume` in either substate re-schedules it.
 * - An intent beyond `maxIntents` is answered in place (a targetless transition):
 *   the `denied` result goes to the agent, which decides again under the deadline
 *   already running, so a runaway agent cannot keep the session alive forever.
 * - `resume` in `idle` (restored before `session.start` was handled) starts the
 *   session, so a restore never leaves a session waiting for a start nobody re-sends.
 *
 * A missing required system actor (marketData, ledger, agent, risk, clock) or a
 * missing parent is a wiring bug: the send is replaced by an action that throws,
 * so the actor errors and its parent (the engine) receives
 * `xstate.error.actor.<id>`, reports it and records the session as failed. The
 * throw is an executed action, not part of the transition's resolution, so pure
 * traversals (`xstate/graph`, `machine.transition`) never trip over it. Only the
 * `monitor` is optional: without one, alerts are dropped.
 */
import { and, assertEvent, assign, enqueueActions, setup, type AnyActorRef, type AnyEventObject } from 'xstate';
import { SYSTEM_IDS, type SystemActorId } from '../domain/ids.js';
import type { SessionOutcome, SessionStep } from '../domain/messages.js';
import type { ReasonCode } from '../domain/reasons.js';
import {
  acceptIntent,
  agentDecide,
  clockSchedule,
  enginePlaceOrder,
  initialContext,
  ledgerGetAccount,
  ledgerRecordSession,
  marketDataFetch,
  monitorAlert,
  nextDeadline,
  outcomeOf,
  refuseIntent,
  required,
  riskCheck,
  riskDenial,
  sessionFinished,
  settleIntent,
  stepError,
  type FinalStatus,
  type SessionContext,
  type SessionEvent,
  type SessionInput,
} from './session/context.js';

export type { SessionBudgets, SessionContext, SessionEvent, SessionInput } from './session/context.js';

interface Enqueuer {
  (action: () => void): void;
  sendTo: (to: AnyActorRef, event: AnyEventObject) => void;
}
interface SystemLike {
  get: (systemId: string) => AnyActorRef | undefined;
}

const missing = (context: SessionContext, who: string, what: string) =>
  function missingActor(): void {
    throw new Error(
      `session ${context.input.sessionId}: no ${who} to send ${what} to; the actor system is wired wrong (see src/bootstrap.ts)`,
    );
  };

/** Send `message` to the system actor `id`; a missing one throws when the action executes. */
function sendToSystem(enqueue: Enqueuer, system: SystemLike, context: SessionContext, id: SystemActorId, message: AnyEventObject): void {
  const ref = system.get(id);
  if (ref) enqueue.sendTo(ref, message);
  else enqueue(missing(context, `actor with system id "${id}"`, message.type));
}

export const sessionMachine = setup({
  types: {} as {
    context: SessionContext;
    events: SessionEvent;
    input: SessionInput;
    output: SessionOutcome;
  },
  guards: {
    isAgentDisabled: ({ context }) => !context.input.enabled,
    isForThisSession: ({ context, event }) => 'sessionId' in event && event.sessionId === context.input.sessionId,
    isCurrentDeadline: ({ context, event }) => event.type === 'clock.deadline' && event.key === context.deadline?.key,
    /** An answer to the decision the session is waiting for (not a late one to an earlier step). */
    isCurrentStep: ({ context, event }) =>
      event.type === 'agent.intent' && event.sessionId === context.input.sessionId && event.step === context.intentCount,
    isBeyondMaxIntents: ({ context }) => context.orderIndex >= context.input.maxIntents,
    isForPendingOrder: ({ context, event }) => {
      if (context.clientOrderId === undefined) return false;
      if (event.type === 'order.result') {
        return event.sessionId === context.input.sessionId && event.result.clientOrderId === context.clientOrderId;
      }
      return (
        (event.type === 'risk.approved' || event.type === 'risk.rejected') &&
        event.sessionId === context.input.sessionId &&
        event.clientOrderId === context.clientOrderId
      );
    },
  },
  actions: {
    // requests (on entry and on resume)
    requestMarketData: enqueueActions(({ enqueue, system, context }) =>
      sendToSystem(enqueue, system, context, SYSTEM_IDS.marketData, marketDataFetch(context)),
    ),
    requestAccount: enqueueActions(({ enqueue, system, context }) =>
      sendToSystem(enqueue, system, context, SYSTEM_IDS.ledger, ledgerGetAccount(context)),
    ),
    requestDecision: enqueueActions(({ enqueue, system, context }) =>
      sendToSystem(enqueue, system, context, SYSTEM_IDS.agent, agentDecide(context)),
    ),
    requestRiskCheck: enqueueActions(({ enqueue, system, context }) =>
      sendToSystem(enqueue, system, context, SYSTEM_IDS.risk, riskCheck(context)),
    ),
    requestRecord: enqueueActions(({ enqueue, system, context }) =>
      sendToSystem(enqueue, system, context, SYSTEM_IDS.ledger, ledgerRecordSession(context)),
    ),
    scheduleDeadline: enqueueActions(({ enqueue, system, context }) =>
      sendToSystem(enqueue, system, context, SYSTEM_IDS.clock, clockSchedule(context)),
    ),
    /** To the engine, which spawns (and on restore resumes) the order actor: sent once, never on resume. */
    placeOrder: enqueueActions(({ enqueue, self, context, event }) => {
      const message = enginePlaceOrder(context, event.tsEvent);
      if (self._parent) enqueue.sendParent(message);
      else enqueue(missing(context, 'parent', message.type));
    }),
    alertFailure: enqueueActions(({ enqueue, system, context, event }) => {
      const monitor = system.get(SYSTEM_IDS.monitor);
      if (monitor) enqueue.sendTo(monitor, monitorAlert(context, event.tsEvent));
    }),
    reportOutcome: enqueueActions(({ enqueue, self, context, event }) => {
      const message = sessionFinished(context, event.tsEvent);
      if (self._parent) enqueue.sendParent(message);
      else enqueue(missing(context, 'parent', message.type));
    }),

    // context updates
    setDeadline: assign(({ context, event }, params: { step: SessionStep }) => nextDeadline(context, params.step, event.tsEvent)),
    storeMarket: assign(({ event }) => {
      assertEvent(event, 'marketData.fetched');
      return { market: event.view };
    }),
    storeAccount: assign(({ event }) => {
      assertEvent(event, 'ledger.account');
      return { account: event.account };
    }),
    acceptIntent: assign(({ context, event }) => {
      assertEvent(event, 'agent.intent');
      return acceptIntent(context, event.intent);
    }),
    refuseIntent: assign(({ context, event }) => {
      assertEvent(event, 'agent.intent');
      return refuseIntent(context, event.intent);
    }),
    recordDenial: assign(({ context, event }) => {
      assertEvent(event, 'risk.rejected');
      return settleIntent(context, riskDenial(context, event));
    }),
    recordResult: assign(({ context, event }) => {
      assertEvent(event, 'order.result');
      return settleIntent(context, event.result);
    }),
    storeSummary: assign(({ event }) => {
      assertEvent(event, 'agent.done');
      return { summary: event.summary, holdReason: event.reason };
    }),
    setError: assign(({ context, event }, params: { step: SessionStep }) => ({ error: stepError(context, params.step, event) })),
    setOutcome: assign(({ context }, params: { status: FinalStatus; reason?: ReasonCode }) => ({
      deadline: undefined,
      outcome: outcomeOf(context, params.status, params.reason),
    })),
  },
}).createMachine({
  id: 'session',
  initial: 'idle',
  context: ({ input }) => initialContext(input),
  output: ({ context }) => required(context.outcome, 'outcome'),
  states: {
    idle: {
      on: {
        'session.start': [{ guard: 'isAgentDisabled', target: 'skipped' }, { target: 'fetching' }],
        // Restored before its start was handled: the engine's `resume` is the start it missed.
        resume: [{ guard: 'isAgentDisabled', target: 'skipped' }, { target: 'fetching' }],
      },
    },
    fetching: {
      entry: [{ type: 'setDeadline', params: { step: 'fetching' } }, 'requestMarketData', 'scheduleDeadline'],
      on: {
        'marketData.fetched': { guard: 'isForThisSession', target: 'analyzing', actions: 'storeMarket' },
        'marketData.failed': { guard: 'isForThisSession', target: 'failed', actions: { type: 'setError', params: { step: 'fetching' } } },
        'clock.deadline': { guard: 'isCurrentDeadline', target: 'failed', actions: { type: 'setError', params: { step: 'fetching' } } },
        resume: { actions: ['requestMarketData', 'scheduleDeadline'] },
      },
    },
    analyzing: {
      entry: [{ type: 'setDeadline', params: { step: 'analyzing' } }, 'requestAccount', 'scheduleDeadline'],
      on: {
        'ledger.account': { guard: 'isForThisSession', target: 'deciding', actions: 'storeAccount' },
        'ledger.failed': { guard: 'isForThisSession', target: 'failed', actions: { type: 'setError', params: { step: 'analyzing' } } },
        'clock.deadline': { guard: 'isCurrentDeadline', target: 'failed', actions: { type: 'setError', params: { step: 'analyzing' } } },
        resume: { actions: ['requestAccount', 'scheduleDeadline'] },
      },
    },
    deciding: {
      entry: [{ type: 'setDeadline', params: { step: 'deciding' } }, 'requestDecision', 'scheduleDeadline'],
      on: {
        'agent.intent': [
          // Refused locally; the agent decides again within the same deadline (a runaway agent cannot extend it).
          { guard: and(['isCurrentStep', 'isBeyondMaxIntents']), actions: ['refuseIntent', 'requestDecision'] },
          { guard: 'isCurrentStep', target: 'executing', actions: 'acceptIntent' },
        ],
        'agent.done': { guard: 'isForThisSession', target: 'recording', actions: 'storeSummary' },
        'agent.failed': { guard: 'isForThisSession', target: 'failed', actions: { type: 'setError', params: { step: 'deciding' } } },
        'clock.deadline': { guard: 'isCurrentDeadline', target: 'failed', actions: { type: 'setError', params: { step: 'deciding' } } },
        resume: { actions: ['requestDecision', 'scheduleDeadline'] },
      },
    },
    executing: {
      // One deadline for the whole step (risk check and order), set when the intent arrives.
      entry: [{ type: 'setDeadline', params: { step: 'executing' } }, 'scheduleDeadline'],
      initial: 'checking',
      on: {
        'clock.deadline': { guard: 'isCurrentDeadline', target: 'failed', actions: { type: 'setError', params: { step: 'executing' } } },
      },
      states: {
        checking: {
          entry: 'requestRiskCheck',
          on: {
            'risk.approved': { guard: 'isForPendingOrder', target: 'ordering' },
            'risk.rejected': { guard: 'isForPendingOrder', target: '#session.deciding', actions: 'recordDenial' },
            resume: { actions: ['requestRiskCheck', 'scheduleDeadline'] },
          },
        },
        ordering: {
          entry: 'placeOrder',
          on: {
            'order.result': { guard: 'isForPendingOrder', target: '#session.deciding', actions: 'recordResult' },
            // The engine holds the order actor and resumes it; only the deadline is asked for again.
            resume: { actions: 'scheduleDeadline' },
          },
        },
      },
    },
    recording: {
      entry: [{ type: 'setDeadline', params: { step: 'recording' } }, 'requestRecord', 'scheduleDeadline'],
      on: {
        'ledger.recorded': { guard: 'isForThisSession', target: 'completed' },
        'ledger.failed': { guard: 'isForThisSession', target: 'failed', actions: { type: 'setError', params: { step: 'recording' } } },
        'clock.deadline': { guard: 'isCurrentDeadline', target: 'failed', actions: { type: 'setError', params: { step: 'recording' } } },
        resume: { actions: ['requestRecord', 'scheduleDeadline'] },
      },
    },
    completed: {
      type: 'final',
      entry: [{ type: 'setOutcome', params: { status: 'completed' } }, 'reportOutcome'],
    },
    skipped: {
      type: 'final',
      entry: [{ type: 'setOutcome', params: { status: 'skipped', reason: 'AGENT_DISABLED' } }, 'reportOutcome'],
    },
    failed: {
      type: 'final',
      entry: [{ type: 'setOutcome', params: { status: 'failed' } }, 'alertFailure', 'reportOutcome'],
    },
  },
});

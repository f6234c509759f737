/**
 * The `agent` system actor: routes each `agent.decide` to the decider of its
 * signature, with a point-in-time view bound to the session instant, and answers the
 * asker (`replyTo`, a session's system id) with `agent.intent { step }`, `agent.done`
 * or `agent.failed`.
 *
 * - An unknown signature, an invalid instant, a decider that throws or rejects, or an
 *   intent that is not a valid order intent: `agent.failed` with the message.
 * - Deciders may be async (an LLM); a synchronous one (rules, replay) is answered at
 *   once, within the same turn. Requests are handled independently: several
 *   sessions (agents) may be deciding at once. A reply whose session is gone (no actor
 *   with `replyTo` any more), or that is ready after this actor stopped, is dropped.
 * - `tsEvent` of every reply is the injected clock's `now()` when the reply is sent.
 */
import { DateTime } from 'luxon';
import { fromCallback, type AnyActorRef } from 'xstate';
import type { AnyMessage, Message } from '../../domain/messages.js';
import { OrderIntentSchema } from '../../domain/orders.js';
import type { PointInTimeView } from '../../domain/point-in-time.js';
import type { Decider, Decision } from './agent.js';
import { InFlight } from '../../domain/in-flight.js';

type Reply = Message<'agent.intent'> | Message<'agent.done'> | Message<'agent.failed'>;

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A reply before it is stamped with tsEvent (Omit distributed over the union). */
type Answer = Reply extends infer R ? (R extends unknown ? Omit<R, 'tsEvent'> : never) : never;

const isPromiseLike = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

/**
 * Decide one request; never throws. A synchronous decider is answered synchronously
 * (a backtest on virtual time must not wait for the microtask queue), an async one
 * with a promise.
 */
export function decideOnce(
  deciders: Readonly<Record<string, Decider>>,
  views: (at: DateTime) => PointInTimeView,
  request: Message<'agent.decide'>,
): Answer | Promise<Answer> {
  const { sessionId, signature, step } = request;
  const failed = (message: string): Answer => ({ type: 'agent.failed', sessionId, message });
  const decider = Object.hasOwn(deciders, signature) ? deciders[signature] : undefined;
  if (!decider) return failed(`no agent for signature "${signature}" (known: ${Object.keys(deciders).sort().join(', ') || 'none'})`);
  const at = DateTime.fromISO(request.at, { setZone: true });
  if (!at.isValid) return failed(`not an ISO instant: ${JSON.stringify(request.at)}`);
  const answer = (decision: Decision): Answer => {
    if (decision.kind === 'done') {
      return { type: 'agent.done', sessionId, summary: decision.summary, ...(decision.reason ? { reason: decision.reason } : {}) };
    }
    const intent = OrderIntentSchema.safeParse(decision.intent);
    if (!intent.success) {
      return failed(`${signature}: invalid order intent ${JSON.stringify(decision.intent)}: ${intent.error.issues.map((i) => i.message).join('; ')}`);
    }
    return { type: 'agent.intent', sessionId, step, intent: intent.data };
  };
  let out: Decision | Promise<Decision>;
  try {
    out = decider.decide(request, views(at));
  } catch (e) {
    return failed(`${signature}: ${messageOf(e)}`);
  }
  if (isPromiseLike(out)) return Promise.resolve(out).then(answer, (e: unknown) => failed(`${signature}: ${messageOf(e)}`));
  return answer(out);
}

/**
 * Decisions still being worked on (an LLM call in flight). A backtest waits for
 * `idle()` before it lets virtual time move, so a model's thinking time never
 * counts against the session's (virtual) deadline.
 */
/** Decisions in flight (the backtest driver waits for them): the shared in-flight counter. */
export class PendingDecisions extends InFlight {}

export function agentActor(
  deciders: Readonly<Record<string, Decider>>,
  views: (at: DateTime) => PointInTimeView,
  now: () => number,
  pending?: PendingDecisions,
) {
  return fromCallback<AnyMessage>(({ receive, system }) => {
    let stopped = false;
    receive((m) => {
      if (m.type !== 'agent.decide') return;
      const send = (a: Answer) => {
        if (stopped) return;
        const target = system.get(m.replyTo) as AnyActorRef | undefined;
        target?.send({ ...a, tsEvent: now() } as Reply);
      };
      const a = decideOnce(deciders, views, m);
      if (isPromiseLike(a)) void (pending ? pending.track(Promise.resolve(a)) : a).then(send);
      else send(a);
    });
    return () => {
      stopped = true;
    };
  });
}

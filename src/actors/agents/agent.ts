/**
 * An agent decides, one step at a time, what to do in a session: the next order
 * intent, or done. Every kind (rules, replay, llm) implements `Decider`; the
 * `agent` system actor (agent-actor.ts) routes each `agent.decide` to the decider
 * of its signature and answers `agent.intent` / `agent.done` / `agent.failed`.
 *
 * A decider sees the market only through a point-in-time view bound to the
 * session instant, and the account and the results of its earlier orders in this
 * session through the request.
 */
import type { Message } from '../../domain/messages.js';
import type { OrderIntent } from '../../domain/orders.js';
import type { PointInTimeView } from '../../domain/point-in-time.js';
import type { ReasonCode } from '../../domain/reasons.js';

export type Decision =
  | { readonly kind: 'intent'; readonly intent: OrderIntent }
  | { readonly kind: 'done'; readonly summary: string; readonly reason?: ReasonCode };

export interface Decider {
  decide(request: Message<'agent.decide'>, view: PointInTimeView): Promise<Decision> | Decision;
}

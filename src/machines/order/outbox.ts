/**
 * How the order machine addresses other actors: by system id, resolved when the
 * transition is resolved (inside `enqueueActions`). Required peers (broker, clock,
 * ledger) missing from the system are a wiring bug: instead of the send, the
 * transition gets a `missingSystemActor` action that throws when the actor runs it,
 * so the order actor fails visibly and its parent (the engine) reports the crash.
 * A pure `transition()` or the graph traversal, whose system is empty, only returns
 * that action; nothing runs there. Optional peers (the session, which may have
 * finished; the monitor) are skipped silently when absent.
 */
import type { AnyActorRef } from 'xstate';
import { SYSTEM_IDS } from '../../domain/ids.js';
import type { AnyMessage, Message } from '../../domain/messages.js';
import type { OrderContext } from './context.js';

export interface Outgoing {
  readonly to: string;
  readonly msg: AnyMessage;
  readonly required: boolean;
}

/** The part of `enqueueActions`' `enqueue` this needs. */
export interface Enqueue {
  sendTo: (to: AnyActorRef, msg: AnyMessage) => void;
  (action: () => void): void;
}

/** A wiring bug (broker, clock or ledger not registered in the actor system). */
export class MissingSystemActorError extends Error {
  override readonly name = 'MissingSystemActorError';
}

const missingSystemActor = (selfId: string, systemId: string, messageType: string) =>
  function missingSystemActor(): never {
    throw new MissingSystemActorError(`${selfId}: no actor registered as '${systemId}' to send ${messageType} to`);
  };

/** Enqueue each message to its system id; a missing required target enqueues `missingSystemActor` instead. */
export function post(
  enqueue: Enqueue,
  system: { get: (id: string) => AnyActorRef | undefined },
  selfId: string,
  outbox: readonly Outgoing[],
): void {
  for (const { to, msg, required } of outbox) {
    const ref = system.get(to);
    if (ref) enqueue.sendTo(ref, msg);
    else if (required) enqueue(missingSystemActor(selfId, to, msg.type));
  }
}

/** A request to a required peer. */
export const toPeer = (to: string, msg: AnyMessage): Outgoing => ({ to, msg, required: true });

/** A message to the session (gone once it finished: then skipped). */
export const toSession = (context: OrderContext, msg: AnyMessage): Outgoing => ({ to: context.replyTo, msg, required: false });

/** An alert to the monitor (best effort: an order never fails for want of a monitor). */
export function alert(
  context: OrderContext,
  code: string,
  message: string,
  tsEvent: number,
  level: 'warning' | 'critical' = 'warning',
): Outgoing {
  const msg: Message<'monitor.alert'> = {
    type: 'monitor.alert',
    level,
    code,
    message,
    signature: context.order.signature,
    sessionId: context.sessionId,
    clientOrderId: context.order.clientOrderId,
    tsEvent,
  };
  return { to: SYSTEM_IDS.monitor, msg, required: false };
}

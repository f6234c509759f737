/**
 * From what the actors say to each other (inspection events of the engine's actor
 * system) to what the event feed tells people: one table from message type to feed
 * event, plus session state changes. Pure, so it is tested without a socket.
 *
 * Only messages worth watching are mapped (ticks, decisions, risk rejections,
 * orders, fills, session ends, alerts); payloads are the messages' own plain JSON
 * fields, which carry no secret.
 */
import { DateTime } from 'luxon';
import type { InspectionEvent } from 'xstate';
import type { FeedEvent, FeedEventType } from '../domain/feed.js';
import type { AnyMessage, Message, MessageType } from '../domain/messages.js';

const signatureOfSession = (sessionId: string): string | undefined => sessionId.split('@')[0] || undefined;
export const signatureOfOrder = (cid: string): string | undefined => /^(.+?)\.\d{8}T\d{4}\./.exec(cid)?.[1];

type Mapped = { type: FeedEventType; signature?: string | undefined; payload: Record<string, unknown> };
type Mapper<T extends MessageType> = (m: Message<T>) => Mapped;

const MAP: { [T in MessageType]?: Mapper<T> } = {
  'clock.tick': (m) => ({ type: 'tick', payload: { market: m.market, frequency: m.frequency, at: m.at, marketOpen: m.marketOpen } }),
  'agent.intent': (m) => ({ type: 'decision', signature: signatureOfSession(m.sessionId), payload: { sessionId: m.sessionId, step: m.step, intent: m.intent } }),
  'agent.done': (m) => ({ type: 'decision', signature: signatureOfSession(m.sessionId), payload: { sessionId: m.sessionId, done: true, summary: m.summary, ...(m.reason ? { reason: m.reason } : {}) } }),
  'agent.failed': (m) => ({ type: 'decision', signature: signatureOfSession(m.sessionId), payload: { sessionId: m.sessionId, failed: true, message: m.message } }),
  'risk.rejected': (m) => ({
    type: 'risk.rejected',
    signature: signatureOfSession(m.sessionId),
    payload: { sessionId: m.sessionId, clientOrderId: m.clientOrderId, reason: m.reason, message: m.message, ...(m.checks ? { checks: m.checks } : {}) },
  }),
  'engine.placeOrder': (m) => ({ type: 'order', signature: m.order.signature, payload: { clientOrderId: m.order.clientOrderId, status: 'new', order: m.order, sessionId: m.sessionId } }),
  'broker.accepted': (m) => ({ type: 'order', signature: signatureOfOrder(m.clientOrderId), payload: { clientOrderId: m.clientOrderId, status: 'accepted' } }),
  'broker.rejected': (m) => ({ type: 'order', signature: signatureOfOrder(m.clientOrderId), payload: { clientOrderId: m.clientOrderId, status: 'rejected', reason: m.reason, message: m.message } }),
  'broker.fill': (m) => ({ type: 'fill', signature: signatureOfOrder(m.clientOrderId), payload: { clientOrderId: m.clientOrderId, fill: m.fill } }),
  'order.finished': (m) => ({ type: 'order', signature: signatureOfOrder(m.clientOrderId), payload: { clientOrderId: m.clientOrderId, status: m.result.status, result: m.result } }),
  'session.finished': (m) => ({ type: 'session', signature: m.outcome.signature, payload: { sessionId: m.outcome.sessionId, state: m.outcome.status, outcome: m.outcome } }),
  'monitor.alert': (m) => ({
    type: 'alert',
    signature: m.signature,
    payload: { level: m.level, code: m.code, message: m.message, ...(m.sessionId ? { sessionId: m.sessionId } : {}), ...(m.clientOrderId ? { clientOrderId: m.clientOrderId } : {}) },
  }),
};

/** A feed event for one message, or undefined when the message is not one people watch. */
export function feedEventOfMessage(message: AnyMessage, time: DateTime): FeedEvent | undefined {
  const map = MAP[message.type] as Mapper<MessageType> | undefined;
  if (!map) return undefined;
  const { type, signature, payload } = map(message as never);
  return { type, time: time.toISO()!, ...(signature ? { signature } : {}), payload };
}

/**
 * An inspection observer that turns the actor system's traffic into feed events:
 * messages by the table, and each session's move to another state.
 */
export function feedInspector(now: () => DateTime, emit: (event: FeedEvent) => void): (e: InspectionEvent) => void {
  const lastState = new Map<string, string>();
  return (e) => {
    if (e.type === '@xstate.event') {
      const ev = feedEventOfMessage(e.event as AnyMessage, now());
      if (ev) emit(ev);
      return;
    }
    if (e.type === '@xstate.snapshot') {
      const id = (e.actorRef as { id?: string }).id ?? "";
      if (!id.startsWith('session:')) return;
      const value = (e.snapshot as { value?: unknown }).value;
      const state = typeof value === 'string' ? value : JSON.stringify(value);
      if (lastState.get(id) === state) return;
      lastState.set(id, state);
      const sessionId = id.slice('session:'.length);
      if ((e.snapshot as { status?: string }).status === 'done') lastState.delete(id);
      emit({ type: 'session', time: now().toISO()!, ...(signatureOfSession(sessionId) ? { signature: signatureOfSession(sessionId)! } : {}), payload: { sessionId, state } });
    }
  };
}

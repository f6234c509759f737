/**
 * The event feed's message: what the process tells people and tools watching it
 * (WebSocket `/feed`, the dashboard). One envelope for everything:
 * `{ type, time, signature?, payload }`, `time` an ISO instant with its offset.
 *
 * Payloads are plain JSON and never carry a secret: they are built from domain
 * messages (orders, fills, outcomes, alerts), which hold none.
 */
import { z } from 'zod';

export const FEED_EVENT_TYPES = [
  'hello', // first message to a client: server time, the filter it got
  'tick', // a scheduled trading instant fired
  'session', // a session moved to another state (payload: sessionId, state, outcome?)
  'decision', // an agent's intent or done (payload: sessionId, step, intent | summary)
  'order', // an order changed status (payload: clientOrderId, status, result?)
  'fill', // a fill (payload: clientOrderId, fill)
  'risk.rejected', // pre-trade risk refused an intent (payload: reason, message, checks)
  'alert', // monitor alert (payload: level, code, message)
  'quote', // a live quote (payload: Quote); only sent to clients that ask for it
  'kill', // kill switch engaged or reset (payload: KillSwitchState)
  'heartbeat', // periodic: server time, clients, quote feed freshness
  'notice', // to one client: why it is being dropped, a bad request, ...
] as const;

export const FeedEventTypeSchema = z.enum(FEED_EVENT_TYPES);
export type FeedEventType = z.infer<typeof FeedEventTypeSchema>;

export const FeedEventSchema = z.strictObject({
  type: FeedEventTypeSchema,
  /** ISO instant with offset (the injected clock's now when it happened). */
  time: z.string().min(1),
  signature: z.string().optional(),
  payload: z.record(z.string(), z.unknown()),
});
export type FeedEvent = z.infer<typeof FeedEventSchema>;

/**
 * What a client may send on the feed socket. `subscribe` replaces its filter
 * (absent list = everything, except `quote`, which must be asked for by name);
 * `kill` / `kill.reset` need an authenticated connection (see src/server).
 */
export const FeedClientMessageSchema = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('subscribe'),
    types: z.array(FeedEventTypeSchema).optional(),
    signatures: z.array(z.string().min(1)).optional(),
  }),
  z.strictObject({ action: z.literal('kill'), signature: z.string().min(1).optional(), reason: z.string().max(500).optional() }),
  z.strictObject({ action: z.literal('kill.reset'), signature: z.string().min(1).optional() }),
]);
export type FeedClientMessage = z.infer<typeof FeedClientMessageSchema>;

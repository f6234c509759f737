/**
 * Every message between actors, typed once (zod) and shared by the machines and
 * the actors that answer them. Commands are imperative (`broker.submit`), events
 * past tense (`broker.accepted`). Requests name who answers by system id
 * (`replyTo`), never by an actor reference, so they can be journalled, persisted
 * and re-sent after a restart. Every reply carries `tsEvent`: the injected
 * clock's epoch ms when it happened; machines read time only from there.
 *
 * Payloads are plain JSON: ISO instants with offset, epoch ms, decimal strings.
 */
import { z } from 'zod';
import { FrequencySchema, MarketSchema } from './markets.js';
import { DecimalString, FillSchema, OrderIntentSchema, OrderRequestSchema, OrderResultSchema, OrderStatusSchema } from './orders.js';
import { ReasonCodeSchema } from './reasons.js';

const ts = { tsEvent: z.number() };
const IsoInstant = z.string().min(1);

// ---------------------------------------------------------------------------
// Views handed to the agent (issue 5 and later fill these in)

export const QuoteViewSchema = z.strictObject({
  price: DecimalString,
  /** When the price became known (ISO). */
  at: IsoInstant,
  source: z.string(),
});

export const MarketViewSchema = z.strictObject({
  at: IsoInstant,
  quotes: z.record(z.string(), QuoteViewSchema),
});
export type MarketView = z.infer<typeof MarketViewSchema>;

export const PositionViewSchema = z.strictObject({
  quantity: z.number().int(),
  /** Shares that may be sold now (A-share T+1 holds back today's buys). */
  sellable: z.number().int(),
  costBasis: DecimalString,
});

export const AccountViewSchema = z.strictObject({
  signature: z.string(),
  cash: DecimalString,
  positions: z.record(z.string(), PositionViewSchema),
  equity: DecimalString,
  startOfDayEquity: DecimalString,
});
export type AccountView = z.infer<typeof AccountViewSchema>;

export const StepSchema = z.enum(['fetching', 'analyzing', 'deciding', 'executing', 'recording']);
export type SessionStep = z.infer<typeof StepSchema>;

export const SessionErrorSchema = z.strictObject({
  step: StepSchema,
  reason: ReasonCodeSchema.optional(),
  message: z.string(),
});
export type SessionError = z.infer<typeof SessionErrorSchema>;

export const SessionOutcomeSchema = z.strictObject({
  sessionId: z.string(),
  signature: z.string(),
  at: IsoInstant,
  status: z.enum(['completed', 'skipped', 'failed']),
  reason: ReasonCodeSchema.optional(),
  error: SessionErrorSchema.optional(),
  results: z.array(OrderResultSchema),
  summary: z.string().optional(),
});
export type SessionOutcome = z.infer<typeof SessionOutcomeSchema>;

/** One pre-trade check as it ran: which rule, its reason code, whether it passed, the value it measured and its limit. */
export const RiskCheckRecordSchema = z.strictObject({
  rule: z.string(),
  code: ReasonCodeSchema,
  passed: z.boolean(),
  value: z.string(),
  limit: z.string(),
});
export type RiskCheckRecord = z.infer<typeof RiskCheckRecordSchema>;

// ---------------------------------------------------------------------------
// Requests (commands) to system actors

export const Requests = {
  'marketData.fetch': z.strictObject({
    type: z.literal('marketData.fetch'),
    sessionId: z.string(),
    signature: z.string(),
    at: IsoInstant,
    replyTo: z.string(),
  }),
  'ledger.getAccount': z.strictObject({
    type: z.literal('ledger.getAccount'),
    sessionId: z.string(),
    signature: z.string(),
    at: IsoInstant,
    replyTo: z.string(),
  }),
  'ledger.recordSession': z.strictObject({
    type: z.literal('ledger.recordSession'),
    outcome: SessionOutcomeSchema,
    replyTo: z.string(),
  }),
  'ledger.applyFill': z.strictObject({
    type: z.literal('ledger.applyFill'),
    signature: z.string(),
    clientOrderId: z.string(),
    intent: OrderIntentSchema,
    fill: FillSchema,
  }),
  'agent.decide': z.strictObject({
    type: z.literal('agent.decide'),
    sessionId: z.string(),
    signature: z.string(),
    at: IsoInstant,
    /** How many intents the agent has produced so far in this session. */
    step: z.number().int().nonnegative(),
    market: MarketViewSchema,
    account: AccountViewSchema,
    results: z.array(OrderResultSchema),
    replyTo: z.string(),
  }),
  'risk.check': z.strictObject({
    type: z.literal('risk.check'),
    sessionId: z.string(),
    signature: z.string(),
    at: IsoInstant,
    clientOrderId: z.string(),
    intent: OrderIntentSchema,
    replyTo: z.string(),
  }),
  'broker.submit': z.strictObject({ type: z.literal('broker.submit'), order: OrderRequestSchema, replyTo: z.string() }),
  'broker.cancel': z.strictObject({ type: z.literal('broker.cancel'), clientOrderId: z.string(), replyTo: z.string() }),
  'broker.queryStatus': z.strictObject({
    type: z.literal('broker.queryStatus'),
    clientOrderId: z.string(),
    replyTo: z.string(),
  }),
  /** Deliver `key` as a `clock.deadline` event to `target` once the clock reaches `atMs`. */
  'clock.schedule': z.strictObject({
    type: z.literal('clock.schedule'),
    target: z.string(),
    atMs: z.number(),
    key: z.string(),
  }),
  'monitor.alert': z.strictObject({
    type: z.literal('monitor.alert'),
    level: z.enum(['info', 'warning', 'critical']),
    code: z.string(),
    message: z.string(),
    signature: z.string().optional(),
    sessionId: z.string().optional(),
    clientOrderId: z.string().optional(),
    ...ts,
  }),
} as const;

// ---------------------------------------------------------------------------
// Replies and notifications (events)

export const Events = {
  'marketData.fetched': z.strictObject({ type: z.literal('marketData.fetched'), sessionId: z.string(), view: MarketViewSchema, ...ts }),
  'marketData.failed': z.strictObject({ type: z.literal('marketData.failed'), sessionId: z.string(), message: z.string(), ...ts }),
  'ledger.account': z.strictObject({ type: z.literal('ledger.account'), sessionId: z.string(), account: AccountViewSchema, ...ts }),
  'ledger.recorded': z.strictObject({ type: z.literal('ledger.recorded'), sessionId: z.string(), ...ts }),
  'ledger.failed': z.strictObject({ type: z.literal('ledger.failed'), sessionId: z.string(), message: z.string(), ...ts }),
  'agent.intent': z.strictObject({
    type: z.literal('agent.intent'),
    sessionId: z.string(),
    step: z.number().int().nonnegative(),
    intent: OrderIntentSchema,
    ...ts,
  }),
  'agent.done': z.strictObject({
    type: z.literal('agent.done'),
    sessionId: z.string(),
    summary: z.string(),
    /** Set when the agent stopped early and holds (an LLM timeout, a bad tool call, ...): recorded on the outcome. */
    reason: ReasonCodeSchema.optional(),
    ...ts,
  }),
  'agent.failed': z.strictObject({ type: z.literal('agent.failed'), sessionId: z.string(), message: z.string(), ...ts }),
  'risk.approved': z.strictObject({
    type: z.literal('risk.approved'),
    sessionId: z.string(),
    clientOrderId: z.string(),
    /** The pre-trade checks that ran (audit trail; journalled with the message). */
    checks: z.array(RiskCheckRecordSchema).optional(),
    ...ts,
  }),
  'risk.rejected': z.strictObject({
    type: z.literal('risk.rejected'),
    sessionId: z.string(),
    clientOrderId: z.string(),
    reason: ReasonCodeSchema,
    message: z.string(),
    /** The pre-trade checks that ran, the failing one last (audit trail). */
    checks: z.array(RiskCheckRecordSchema).optional(),
    ...ts,
  }),
  'broker.accepted': z.strictObject({
    type: z.literal('broker.accepted'),
    clientOrderId: z.string(),
    brokerOrderId: z.string(),
    ...ts,
  }),
  'broker.rejected': z.strictObject({
    type: z.literal('broker.rejected'),
    clientOrderId: z.string(),
    reason: ReasonCodeSchema,
    message: z.string(),
    ...ts,
  }),
  'broker.fill': z.strictObject({ type: z.literal('broker.fill'), clientOrderId: z.string(), fill: FillSchema, ...ts }),
  'broker.cancelled': z.strictObject({ type: z.literal('broker.cancelled'), clientOrderId: z.string(), ...ts }),
  'broker.expired': z.strictObject({ type: z.literal('broker.expired'), clientOrderId: z.string(), ...ts }),
  /** The broker's answer to queryStatus: authoritative, fills included (duplicates are ignored by fillId). */
  'broker.status': z.strictObject({
    type: z.literal('broker.status'),
    clientOrderId: z.string(),
    status: z.union([z.literal('not_found'), OrderStatusSchema]),
    brokerOrderId: z.string().optional(),
    fills: z.array(FillSchema),
    reason: ReasonCodeSchema.optional(),
    message: z.string().optional(),
    ...ts,
  }),
  /** The connection to the broker dropped: outcomes of in-flight requests are unknown. */
  'broker.disconnected': z.strictObject({ type: z.literal('broker.disconnected'), ...ts }),
  'clock.deadline': z.strictObject({ type: z.literal('clock.deadline'), key: z.string(), ...ts }),
} as const;

// ---------------------------------------------------------------------------
// Session, order and engine control

export const Controls = {
  'clock.tick': z.strictObject({
    type: z.literal('clock.tick'),
    market: MarketSchema,
    frequency: FrequencySchema,
    at: IsoInstant,
    atMs: z.number(),
    /**
     * Whether orders trade at once at `at`: the venue's hours (tickMessage), the exchange
     * calendar's continuous trading for a real exchange; AI-Trader's venue trades at every session.
     */
    marketOpen: z.boolean(),
    /** Epoch ms of the next open (for orders queued outside hours). */
    nextOpenMs: z.number(),
    /** Signatures paused by the control API at this tick: no session for them (skipped, AGENT_PAUSED). */
    paused: z.array(z.string()).optional(),
    ...ts,
  }),
  'session.start': z.strictObject({ type: z.literal('session.start'), ...ts }),
  /** After a restore: re-send whatever request the actor was waiting on, idempotently. */
  resume: z.strictObject({ type: z.literal('resume'), ...ts }),
  'order.place': z.strictObject({ type: z.literal('order.place'), ...ts }),
  'order.cancel': z.strictObject({ type: z.literal('order.cancel'), reason: ReasonCodeSchema, ...ts }),
  /** Order -> the session that asked for it: a terminal result, or `queued`. */
  'order.result': z.strictObject({ type: z.literal('order.result'), sessionId: z.string(), result: OrderResultSchema, ...ts }),
  /** Session (or risk, for a protective order) -> engine: please spawn this order (orders may outlive their session when queued). */
  'engine.placeOrder': z.strictObject({
    type: z.literal('engine.placeOrder'),
    sessionId: z.string(),
    order: OrderRequestSchema,
    marketOpen: z.boolean(),
    nextOpenMs: z.number(),
    /** The price the agent saw when it decided (its market view): a queued market order's protective limit is set from it. */
    decisionPrice: DecimalString.optional(),
    /** Who gets the order's results; default the session's system id. Risk sets 'risk' for stop-loss orders. */
    replyTo: z.string().optional(),
    ...ts,
  }),
  /** Risk -> engine (kill switch): cancel every open order, or those of one signature. */
  'engine.cancelOpenOrders': z.strictObject({
    type: z.literal('engine.cancelOpenOrders'),
    signature: z.string().optional(),
    reason: ReasonCodeSchema,
    ...ts,
  }),
  /** Session -> engine when it reaches a final state. */
  'session.finished': z.strictObject({ type: z.literal('session.finished'), outcome: SessionOutcomeSchema, ...ts }),
  /** Order -> engine when it reaches a final state. */
  'order.finished': z.strictObject({ type: z.literal('order.finished'), clientOrderId: z.string(), result: OrderResultSchema, ...ts }),
} as const;

type Infer<T extends Record<string, z.ZodType>> = { [K in keyof T]: z.infer<T[K]> };
export type RequestMessages = Infer<typeof Requests>;
export type EventMessages = Infer<typeof Events>;
export type ControlMessages = Infer<typeof Controls>;
export type AnyMessage =
  | RequestMessages[keyof RequestMessages]
  | EventMessages[keyof EventMessages]
  | ControlMessages[keyof ControlMessages];
export type MessageType = AnyMessage['type'];
export type Message<T extends MessageType> = Extract<AnyMessage, { type: T }>;

const ALL = { ...Requests, ...Events, ...Controls } as Record<MessageType, z.ZodType<AnyMessage>>;

/** Validate a message that crossed a process boundary (feed, journal). */
export function parseMessage(raw: unknown): AnyMessage {
  const type = (raw as { type?: unknown } | null)?.type;
  const schema = typeof type === 'string' ? ALL[type as MessageType] : undefined;
  if (!schema) throw new Error(`unknown message type: ${JSON.stringify(type)}`);
  return schema.parse(raw);
}

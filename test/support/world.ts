/**
 * A deterministic world around the engine, for tests: test actors registered
 * under the real system ids (clock, marketData, ledger, agent, risk, broker,
 * monitor) that answer the real messages, without timers or randomness.
 *
 * Every request an actor receives is turned into a pending *step* (a thunk);
 * nothing happens until the test runs steps, so a test can stop the system
 * between any two of them. The venue (the broker's book of orders, keyed by
 * client order id) and the ledger's fills live outside the actor system, as a
 * real broker and a real store do, so they survive a simulated crash; pending
 * steps (messages in flight) and scheduled deadlines do not.
 */
import { fromCallback, type ActorSystem, type AnyActorRef } from 'xstate';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyActorSystem = ActorSystem<any>;
import type { SystemActors } from '../../src/runtime/engine-runtime.js';
import type { AnyMessage, Message, SessionOutcome } from '../../src/domain/messages.js';
import type { Fill, OrderIntent, OrderRequest, OrderStatus } from '../../src/domain/orders.js';

/** What the venue does with an order, chosen by symbol (`lost`: the first submit never reaches it; a later one fills). */
export type VenueScript = 'fill' | 'partial' | 'reject' | 'rest' | 'expire' | 'lost';

export interface VenueOrder {
  readonly request: OrderRequest;
  status: OrderStatus;
  fills: Fill[];
  submits: number;
  rejection?: { reason: 'INSUFFICIENT_POSITION'; message: string };
}

export interface WorldOptions {
  /** signature -> the intents its agent asks for, in order; then it is done. */
  readonly intents: Readonly<Record<string, readonly OrderIntent[]>>;
  /** symbol -> venue behaviour (default: fill). */
  readonly venue?: Readonly<Record<string, VenueScript>>;
  /** symbols risk refuses. */
  readonly riskDenies?: readonly string[];
  /** signatures whose agent never answers (to exercise deadlines). */
  readonly silentAgents?: readonly string[];
  readonly price?: string;
}

type Step = { readonly label: string; readonly run: () => void };

export class World {
  now: number;
  readonly venue = new Map<string, VenueOrder>();
  readonly ledgerFills = new Map<string, Fill>();
  duplicateFillsToLedger = 0;
  readonly alerts: Message<'monitor.alert'>[] = [];
  readonly recorded: SessionOutcome[] = [];
  readonly received: { to: string; message: AnyMessage }[] = [];
  private pending: Step[] = [];
  /** The venue's own future work (a second fill, an expiry): it happens at the broker, so a crash of ours does not stop it. */
  private venueWork: Step[] = [];
  /** The actor system the broker connection currently belongs to (replaced on restart). */
  private brokerSystem: AnyActorSystem | undefined;
  private deadlines: { target: string; key: string; atMs: number; system: AnyActorSystem }[] = [];
  private brokerOrderSeq = 0;
  /** Orders whose first submit was lost on the way (the venue never saw it). */
  readonly lostSubmits = new Set<string>();

  constructor(
    start: number,
    private readonly options: WorldOptions,
  ) {
    this.now = start;
  }

  /** Steps waiting to run. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Run the oldest pending step (messages first, then the venue's own work); false when there is none. */
  step(): boolean {
    const next = this.pending.shift() ?? this.venueWork.shift();
    if (!next) return false;
    next.run();
    return true;
  }

  /** Fire the earliest scheduled deadline (advancing `now` to it); false when none. */
  fireNextDeadline(): boolean {
    this.deadlines.sort((a, b) => a.atMs - b.atMs);
    const d = this.deadlines.shift();
    if (!d) return false;
    this.now = Math.max(this.now, d.atMs);
    d.system.get(d.target)?.send({ type: 'clock.deadline', key: d.key, tsEvent: this.now });
    return true;
  }

  /** Run steps, then deadlines, until nothing is left (bounded). Returns how many it ran. */
  runToEnd(limit = 10_000): number {
    let n = 0;
    while (n < limit && (this.step() || this.fireNextDeadline())) n++;
    if (n === limit) throw new Error('world did not settle');
    return n;
  }

  /** One unit of progress for crash tests: a pending step, else a deadline. */
  advance(): boolean {
    return this.step() || this.fireNextDeadline();
  }

  /** The process died: messages in flight and the in-process clock's timers are lost. */
  crash(): void {
    this.pending = [];
    this.deadlines = [];
  }

  submitsOf(clientOrderId: string): number {
    return this.venue.get(clientOrderId)?.submits ?? 0;
  }

  /** The test actors for one actor system (a new set after each restart). */
  actors(): SystemActors {
    const actor = (name: string, handle: (m: AnyMessage, system: AnyActorSystem) => void) =>
      fromCallback<AnyMessage>(({ receive, system }) => {
        receive((m) => {
          this.received.push({ to: name, message: m });
          handle(m, system);
        });
      });
    const later = (label: string, run: () => void) => this.pending.push({ label, run });
    const reply = (system: AnyActorSystem, to: string, message: AnyMessage) =>
      later(`${message.type} -> ${to}`, () => (system.get(to) as AnyActorRef | undefined)?.send(message));

    return {
      clock: actor('clock', (m, system) => {
        if (m.type !== 'clock.schedule') return;
        this.deadlines = this.deadlines.filter((d) => !(d.target === m.target && d.key === m.key));
        this.deadlines.push({ target: m.target, key: m.key, atMs: m.atMs, system });
      }),
      marketData: actor('marketData', (m, system) => {
        if (m.type !== 'marketData.fetch') return;
        const price = this.options.price ?? '10.00';
        reply(system, m.replyTo, {
          type: 'marketData.fetched',
          sessionId: m.sessionId,
          view: { at: m.at, quotes: { AAPL: { price, at: m.at, source: 'test' } } },
          tsEvent: this.now,
        });
      }),
      ledger: actor('ledger', (m, system) => {
        if (m.type === 'ledger.getAccount') {
          reply(system, m.replyTo, {
            type: 'ledger.account',
            sessionId: m.sessionId,
            account: { signature: m.signature, cash: '100000', positions: {}, equity: '100000', startOfDayEquity: '100000' },
            tsEvent: this.now,
          });
        } else if (m.type === 'ledger.recordSession') {
          later(`record ${m.outcome.sessionId}`, () => {
            if (!this.recorded.some((o) => o.sessionId === m.outcome.sessionId)) this.recorded.push(m.outcome);
            (system.get(m.replyTo) as AnyActorRef | undefined)?.send({
              type: 'ledger.recorded',
              sessionId: m.outcome.sessionId,
              tsEvent: this.now,
            } satisfies AnyMessage);
          });
        } else if (m.type === 'ledger.applyFill') {
          if (this.ledgerFills.has(m.fill.fillId)) this.duplicateFillsToLedger++;
          else this.ledgerFills.set(m.fill.fillId, m.fill);
        }
      }),
      agent: actor('agent', (m, system) => {
        if (m.type !== 'agent.decide' || this.options.silentAgents?.includes(m.signature)) return;
        const intents = this.options.intents[m.signature] ?? [];
        const intent = intents[m.step];
        reply(
          system,
          m.replyTo,
          intent
            ? { type: 'agent.intent', sessionId: m.sessionId, step: m.step, intent, tsEvent: this.now }
            : { type: 'agent.done', sessionId: m.sessionId, summary: `done after ${m.results.length} orders`, tsEvent: this.now },
        );
      }),
      risk: actor('risk', (m, system) => {
        if (m.type !== 'risk.check') return;
        const denied = this.options.riskDenies?.includes(m.intent.symbol);
        reply(
          system,
          m.replyTo,
          denied
            ? {
                type: 'risk.rejected',
                sessionId: m.sessionId,
                clientOrderId: m.clientOrderId,
                reason: 'SYMBOL_NOT_ALLOWED',
                message: `SYMBOL_NOT_ALLOWED: ${m.intent.symbol} is on the deny list`,
                tsEvent: this.now,
              }
            : { type: 'risk.approved', sessionId: m.sessionId, clientOrderId: m.clientOrderId, tsEvent: this.now },
        );
      }),
      broker: fromCallback<AnyMessage>(({ receive, system }) => {
        this.brokerSystem = system;
        receive((m) => {
          this.received.push({ to: 'broker', message: m });
          this.brokerReceive(m, system, later, reply);
        });
      }),
      monitor: actor('monitor', (m) => {
        if (m.type === 'monitor.alert') this.alerts.push(m);
      }),
    };
  }

  private brokerReceive(
    m: AnyMessage,
    system: AnyActorSystem,
    later: (label: string, run: () => void) => void,
    reply: (system: AnyActorSystem, to: string, message: AnyMessage) => void,
  ): void {
    if (m.type === 'broker.submit') {
      later(`venue submit ${m.order.clientOrderId}`, () => {
        const cid = m.order.clientOrderId;
        const existing = this.venue.get(cid);
        if (existing) {
          existing.submits++;
          reply(system, m.replyTo, {
            type: 'broker.rejected',
            clientOrderId: cid,
            reason: 'DUPLICATE_CLIENT_ORDER_ID',
            message: `DUPLICATE_CLIENT_ORDER_ID: ${cid}`,
            tsEvent: this.now,
          });
          return;
        }
        const script = this.options.venue?.[m.order.symbol] ?? 'fill';
        if (script === 'lost' && !this.lostSubmits.has(cid)) {
          this.lostSubmits.add(cid); // no answer: the submit timeout will ask for its status
          return;
        }
        const order: VenueOrder = { request: m.order, status: 'accepted', fills: [], submits: 1 };
        this.venue.set(cid, order);
        if (script === 'reject') {
          order.status = 'rejected';
          order.rejection = { reason: 'INSUFFICIENT_POSITION', message: `INSUFFICIENT_POSITION: no ${m.order.symbol} to sell` };
          reply(system, m.replyTo, { type: 'broker.rejected', clientOrderId: cid, ...order.rejection, tsEvent: this.now });
          return;
        }
        reply(system, m.replyTo, { type: 'broker.accepted', clientOrderId: cid, brokerOrderId: `B${++this.brokerOrderSeq}`, tsEvent: this.now });
        const fill = (quantity: number, price: string) => {
          const f: Fill = { fillId: `${cid}#${order.fills.length + 1}`, quantity, price, fee: '0', atMs: this.now };
          order.fills.push(f);
          const filled = order.fills.reduce((s, x) => s + x.quantity, 0);
          order.status = filled >= m.order.quantity ? 'filled' : 'partially_filled';
          reply(this.brokerSystem ?? system, m.replyTo, { type: 'broker.fill', clientOrderId: cid, fill: f, tsEvent: this.now });
        };
        if (script === 'fill' || script === 'lost') fill(m.order.quantity, '10.00');
        if (script === 'partial') {
          const first = Math.floor(m.order.quantity * 0.4);
          fill(first, '10.01');
          this.venueWork.push({ label: `venue second fill ${cid}`, run: () => fill(m.order.quantity - first, '10.02') });
        }
        if (script === 'expire') {
          this.venueWork.push({
            label: `venue expire ${cid}`,
            run: () => {
              if (order.status !== 'accepted') return;
              order.status = 'expired';
              reply(this.brokerSystem ?? system, m.replyTo, { type: 'broker.expired', clientOrderId: cid, tsEvent: this.now });
            },
          });
        }
      });
    } else if (m.type === 'broker.cancel') {
      later(`venue cancel ${m.clientOrderId}`, () => {
        const order = this.venue.get(m.clientOrderId);
        if (order && (order.status === 'accepted' || order.status === 'partially_filled')) order.status = 'cancelled';
        reply(system, m.replyTo, order?.status === 'cancelled'
          ? { type: 'broker.cancelled', clientOrderId: m.clientOrderId, tsEvent: this.now }
          : {
              type: 'broker.rejected',
              clientOrderId: m.clientOrderId,
              reason: 'BROKER_REJECTED',
              message: `cannot cancel ${m.clientOrderId}: ${order?.status ?? 'unknown'}`,
              tsEvent: this.now,
            });
      });
    } else if (m.type === 'broker.queryStatus') {
      later(`venue status ${m.clientOrderId}`, () => {
        const order = this.venue.get(m.clientOrderId);
        reply(system, m.replyTo, {
          type: 'broker.status',
          clientOrderId: m.clientOrderId,
          status: order?.status ?? 'not_found',
          fills: order ? [...order.fills] : [],
          ...order?.rejection,
          tsEvent: this.now,
        });
      });
    }
  }
}

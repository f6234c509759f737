/**
 * The order tracker: a venue adapter (venue-adapter.ts: Futu OpenD, the A-share terminal bridge,
 * EastMoney) made into an account broker (account-broker.ts) with Alpaca's guarantees, for venues
 * that have no stream of their own, or pushes that may be lost. Its `updates$` speaks what every
 * broker speaks (broker.accepted / rejected / fill / cancelled / expired).
 *
 * What it learns from: the answer of `place`, the adapter's pushes (where there are any), and the
 * account's order list (+ fill list) read every `pollMs` while an order of ours is open, after
 * every cancel, on every `status` call and on every reconciliation. Every road ends in `#apply`.
 *
 * Invariants (each has a test through a real adapter against its fake in another process):
 * - Every fill comes out exactly once, whichever road it came by, twice-sent or out of order: a
 *   fill is known by its id; where the venue cannot list fills (Futu's simulate environment) they
 *   are made from the order's cumulative quantity and average price, one per increase, with the id
 *   `<broker order id>:cum:<filled>`, so reading the same list twice makes the same fill. A fill
 *   listed later than the order shows it waits `fillGraceMs`; past that the shares come as one fill
 *   at the price the order's totals imply (no share is lost), and a listed fill they already cover
 *   is dropped. No order ever gets more fills than its quantity.
 * - `broker.accepted` at most once, before the first fill; a terminal answer at most once, after
 *   every fill the venue reports for the order.
 * - Our client order id: where the venue carries it (Futu's remark) it is read from the order; where
 *   it cannot (the bridge, EastMoney) the broker's order number is mapped to it here, from the answer
 *   of `place`, from the engine's committed state on a restart (`resumeOrder`), and, for a submit
 *   whose answer was lost, by matching today's orders no client order id claims: same symbol, side,
 *   quantity (and limit price), created since the order's session began, one to one when there are
 *   as many such orders as lost answers of that shape (more: ambiguous, nothing matched).
 * - An unknown outcome is never sent again blindly. A `place` that got no answer is looked for in
 *   the order list; not there, `status` keeps looking (every poll) until `unknownOutcomeGraceMs` has
 *   passed since the attempt (a terminal may put an order through after our deadline). After it: on a venue that carries our id (Futu), `not_found`, and
 *   the order may be sent again; on one that cannot (the bridge, EastMoney), the order is rejected
 *   and never sent again (a number we cannot tie to ours might be it). A refusal (`VenueRefused`)
 *   rejects the order with its reason.
 * - A refused credential or an expired session (`VenueHalted`) halts: `halts$` emits once, every
 *   later submit throws without reaching the venue.
 * - Orders on the account no client order id of ours claims go to `external$` (each new one, each
 *   fill of one), never to `updates$`; those on the account before the start are taken as they are.
 * - Time comes from the injected scheduler only.
 *
 * Updates of one order are handled one after the other (a promise chain per order).
 */
import { Subject, type SchedulerLike, type Subscription } from 'rxjs';
import { dec } from '../../domain/money.js';
import type { Fill, OrderRequest, OrderStatus } from '../../domain/orders.js';
import { renderReason, type ReasonCode } from '../../domain/reasons.js';
import type { AccountBroker, AccountOrder, BrokerConnectionEvent, BrokerHalt, ExternalActivity, KnownOrder } from './account-broker.js';
import type { BrokerBalance, BrokerPosition, BrokerStatus, BrokerUpdate } from './broker.js';
import { TERMINAL_VENUE_STATES, VenueHalted, VenueRefused, VenueUnavailable, type VenueAdapter, type VenueFill, type VenueOrder, type VenueOrderState } from './venue-adapter.js';

export interface PolledBrokerOptions {
  readonly adapter: VenueAdapter;
  /** The wall clock: polls, waits, `tsEvent`. */
  readonly scheduler: SchedulerLike;
  /** Which client order ids are ours (see alpaca-broker.ts `ownedBy`). */
  readonly isOurs: (clientOrderId: string) => boolean;
  /** The instant an order's session began, from its client order id: a lost answer's order is not older. */
  readonly sessionInstantOf?: (clientOrderId: string) => number | undefined;
  /** Between reads of the order list while an order of ours is open; default 2 000 ms. */
  readonly pollMs?: number;
  /** Between reads while none is open (orders not ours, the connection); default 30 000 ms. */
  readonly idlePollMs?: number;
  /** How long after a lost answer the order may still show up; default 60 000 ms. */
  readonly unknownOutcomeGraceMs?: number;
  /** How long an order's fills may lag behind its totals before they are made from the totals; default 60 000 ms. */
  readonly fillGraceMs?: number;
  /** Sends again of a submit the venue certainly did not carry out (outcomeKnown); default 4, waits 1 s doubling. */
  readonly maxRetries?: number;
}

/** The venue's word -> the order machine's (a status call's answer). */
const STATUS_OF: Readonly<Record<VenueOrderState, OrderStatus>> = {
  pending: 'accepted',
  open: 'accepted',
  cancelling: 'cancelling',
  filled: 'filled',
  cancelled: 'cancelled',
  expired: 'expired',
  rejected: 'rejected',
};

type Terminal = 'filled' | 'cancelled' | 'expired' | 'rejected';

interface Tracked {
  readonly cid: string;
  brokerOrderId?: string;
  request?: KnownOrder['request'] & { readonly quantity: number };
  quantity?: number;
  accepted: boolean;
  terminal?: Terminal;
  reason?: ReasonCode;
  message?: string;
  readonly fills: Fill[];
  readonly fillIds: Set<string>;
  filled: number;
  /** The most the venue has said is filled (order snapshots). */
  reported: number;
  /** Shares made up from the totals: listed fills up to here are already counted. */
  coveredTo: number;
  /** Since when the venue's totals run ahead of the fills listed (the grace's start). */
  lagSince?: number;
  /** A submit whose outcome is unknown was last tried at (the not-found grace's start). */
  unknownSince?: number;
  queue: Promise<void>;
}

interface Listing {
  readonly orders: readonly VenueOrder[];
  /** undefined: the venue cannot list fills. */
  readonly fills: readonly VenueFill[] | undefined;
}

const CLOCK_MARGIN_MS = 3_600_000;
const DEFAULT_MAX_RETRIES = 4;

/** The wait before send number `attempt` (2, 3, ...) of a submit the venue certainly did not carry out: 1 s doubling, at most a minute. */
const retryDelayMs = (attempt: number): number => Math.min(60_000, 1_000 * 2 ** (attempt - 2));

/**
 * The longest a submit through the tracker may take before its outcome is unknown: every send
 * (`maxRetries` + 1, each a request and a look in the order list of up to `requestTimeoutMs`) and
 * the waits between them. The order machine waits this long for the answer (config/live-gate.ts).
 */
export function submitBudgetMs(requestTimeoutMs: number, maxRetries = DEFAULT_MAX_RETRIES): number {
  let waits = 0;
  for (let attempt = 2; attempt <= maxRetries + 1; attempt++) waits += retryDelayMs(attempt);
  return (maxRetries + 1) * 2 * requestTimeoutMs + waits;
}

export class PolledBroker implements AccountBroker {
  readonly venue: string;
  readonly #adapter: VenueAdapter;
  readonly #scheduler: SchedulerLike;
  readonly #isOurs: (cid: string) => boolean;
  readonly #sessionInstantOf: (cid: string) => number | undefined;
  readonly #pollMs: number;
  readonly #idlePollMs: number;
  readonly #graceMs: number;
  readonly #fillGraceMs: number;
  readonly #maxRetries: number;
  readonly #orders = new Map<string, Tracked>();
  /** Broker order number -> our client order id. */
  readonly #cidOf = new Map<string, string>();
  /** Orders not ours, by broker number: the filled quantity last seen (for external$). */
  readonly #foreign = new Map<string, number>();
  readonly #updates = new Subject<BrokerUpdate>();
  readonly #external = new Subject<ExternalActivity>();
  readonly #halts = new Subject<BrokerHalt>();
  readonly #connection = new Subject<BrokerConnectionEvent>();
  readonly #subs: Subscription[] = [];
  #halt: VenueHalted | undefined;
  #fillsEmitted = 0;
  #started = false;
  #closed = false;
  #listening = false;
  #baseline = false;
  #catchingUp: Promise<void> = Promise.resolve();
  #timer: Subscription | undefined;

  readonly updates$ = this.#updates.asObservable();
  readonly external$ = this.#external.asObservable();
  readonly halts$ = this.#halts.asObservable();
  readonly connection$ = this.#connection.asObservable();

  constructor(options: PolledBrokerOptions) {
    this.#adapter = options.adapter;
    this.venue = options.adapter.name;
    this.#scheduler = options.scheduler;
    this.#isOurs = options.isOurs;
    this.#sessionInstantOf = options.sessionInstantOf ?? (() => undefined);
    this.#pollMs = options.pollMs ?? 2_000;
    this.#idlePollMs = options.idlePollMs ?? 30_000;
    this.#graceMs = options.unknownOutcomeGraceMs ?? 60_000;
    this.#fillGraceMs = options.fillGraceMs ?? 60_000;
    this.#maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  }

  // -------------------------------------------------------------------------------------
  // Life

  async start(): Promise<void> {
    try {
      await this.#adapter.connect();
    } catch (e) {
      this.#haltOn(e, 'session');
      throw e;
    }
    this.#started = true;
    if (this.#adapter.pushes$) this.#subs.push(this.#adapter.pushes$.subscribe((p) => (p.kind === 'order' ? this.#onOrder(p.order) : this.#onPushedFill(p.fill))));
    if (this.#adapter.connection$) {
      this.#subs.push(
        this.#adapter.connection$.subscribe((e) => {
          if (e.type === 'listening') void this.reconcileOrders().catch(() => undefined);
          this.#connected(e.type === 'listening');
        }),
      );
    }
    await this.reconcileOrders();
    this.#connected(true);
    this.#arm();
  }

  close(): void {
    this.#closed = true;
    this.#timer?.unsubscribe();
    for (const s of this.#subs.splice(0)) s.unsubscribe();
    this.#adapter.close();
    this.#updates.complete();
    this.#external.complete();
    this.#halts.complete();
    this.#connection.complete();
  }

  resumeOrder(clientOrderId: string, known: KnownOrder): void {
    const t = this.#track(clientOrderId);
    if (known.brokerOrderId) this.#map(t, known.brokerOrderId);
    t.quantity = known.quantity;
    if (known.request) t.request = { ...known.request, quantity: known.quantity };
    for (const f of known.fills) {
      if (t.fillIds.has(f.fillId)) continue;
      t.fillIds.add(f.fillId);
      t.filled += f.quantity;
      t.fills.push(f);
    }
    t.reported = Math.max(t.reported, t.filled);
    t.accepted ||= known.brokerOrderId !== undefined || known.fills.length > 0;
    // Its submit's answer may have been lost just before the stop: not "not found" before the grace.
    if (!known.brokerOrderId) t.unknownSince = this.#scheduler.now();
  }

  get fillsEmitted(): number {
    return this.#fillsEmitted;
  }

  get halted(): VenueHalted | undefined {
    return this.#halt;
  }

  async settled(): Promise<void> {
    await Promise.all([...this.#orders.values()].map((t) => t.queue));
  }

  // -------------------------------------------------------------------------------------
  // Broker

  async submit(order: OrderRequest): Promise<void> {
    if (this.#halt) throw this.#halt;
    const t = this.#track(order.clientOrderId);
    t.quantity = order.quantity;
    t.request = { symbol: order.symbol, side: order.side, quantity: order.quantity, ...(order.limitPrice ? { limitPrice: order.limitPrice } : {}) };
    let last: VenueUnavailable | undefined;
    for (let attempt = 1; attempt <= this.#maxRetries + 1; attempt++) {
      if (last) await this.#sleep(retryDelayMs(attempt));
      if (this.#halt) throw this.#halt;
      try {
        const { brokerOrderId } = await this.#adapter.place(order);
        t.unknownSince = undefined;
        this.#map(t, brokerOrderId);
        await this.#enqueue(t, () => this.#accept(t));
        this.#arm(0);
        return;
      } catch (e) {
        this.#haltOn(e, 'session');
        if (e instanceof VenueRefused) {
          const message = renderReason(e.reason, `${this.venue} refused the order: ${e.message}`);
          return await this.#enqueue(t, () => this.#end(t, 'rejected', e.reason, message));
        }
        if (!(e instanceof VenueUnavailable)) throw e;
        last = e;
        if (e.outcomeKnown) continue;
        // Unknown outcome: look before anything is sent again; not there, the order machine asks (status) after the grace.
        t.unknownSince = this.#scheduler.now();
        const found = await this.#find(t).catch(() => undefined);
        if (found) return await this.#enqueue(t, () => this.#apply(t, found.order, found.listing));
        throw e;
      }
    }
    throw last!;
  }

  async cancel(clientOrderId: string): Promise<void> {
    const t = this.#track(clientOrderId);
    try {
      const id = t.brokerOrderId ?? (await this.#find(t))?.order.brokerOrderId;
      if (!id) return this.#emitRejected(t, renderReason('BROKER_REJECTED', `${this.venue} has no order ${clientOrderId} to cancel`));
      await this.#adapter.cancel({ brokerOrderId: id, clientOrderId });
      this.#arm(0);
    } catch (e) {
      this.#haltOn(e, 'session');
      if (!(e instanceof VenueRefused)) throw e;
      // Not cancelable (filled, cancelled, ...): what it is now says what happened.
      const now = await this.#find(t).catch(() => undefined);
      if (now) await this.#enqueue(t, () => this.#apply(t, now.order, now.listing));
      if (!t.terminal && now?.order.state !== 'cancelling') this.#emitRejected(t, renderReason('BROKER_REJECTED', `${this.venue} refused the cancel of ${clientOrderId}: ${e.message}`));
    }
  }

  async status(clientOrderId: string): Promise<BrokerStatus> {
    const t = this.#track(clientOrderId);
    let found: { order: VenueOrder; listing: Listing } | undefined;
    try {
      found = await this.#find(t);
      // Its submit's outcome is unknown and the grace is not over: wait for the polls (every `pollMs`
      // while an order is open; each matches lost answers) to find it or the grace to end, then look
      // once more and answer (an answer that comes only at the order machine's next query deadline
      // could hold a session for that long).
      while (!found && t.unknownSince !== undefined && !this.#closed) {
        const end = t.unknownSince + this.#graceMs;
        if (this.#scheduler.now() >= end) break;
        await this.#sleep(Math.min(this.#pollMs, end - this.#scheduler.now()));
        if (t.brokerOrderId !== undefined || this.#scheduler.now() >= end) found = await this.#find(t);
      }
    } catch (e) {
      this.#haltOn(e, 'session');
      throw e;
    }
    if (!found) {
      if (this.#closed) throw new VenueUnavailable(`${this.venue}: the broker was closed while ${clientOrderId} was looked for`);
      if (t.unknownSince !== undefined && !this.#adapter.carriesClientOrderId) {
        // Not listed, but the broker could have it under a number we cannot tie to ours: sending it
        // again could double it. Ended instead; should it show up later, it is an order not ours.
        return {
          clientOrderId,
          status: 'rejected',
          fills: [],
          reason: 'BROKER_REJECTED',
          message: renderReason('BROKER_REJECTED', `${this.venue} never answered the submit and does not list the order ${Math.round(this.#graceMs / 1000)} s later; it is not sent again (the broker cannot tell us it has it under our id): check the terminal`),
        };
      }
      return { clientOrderId, status: 'not_found', fills: [] };
    }
    await this.#enqueue(t, () => this.#apply(t, found.order, found.listing));
    const mapped = STATUS_OF[found.order.state];
    const status: OrderStatus = t.terminal ?? (mapped === 'accepted' && t.filled > 0 ? 'partially_filled' : mapped === 'filled' ? 'partially_filled' : mapped);
    return {
      clientOrderId,
      status,
      brokerOrderId: found.order.brokerOrderId,
      fills: [...t.fills],
      ...(status === 'rejected' ? { reason: t.reason ?? 'BROKER_REJECTED', message: t.message ?? renderReason('BROKER_REJECTED', `${this.venue} rejected the order`) } : {}),
    };
  }

  async positions(_account?: string): Promise<BrokerPosition[]> {
    return this.#call(() => this.#adapter.positions());
  }

  async balance(_account?: string): Promise<BrokerBalance> {
    return { cash: await this.cash() };
  }

  async cash(): Promise<string> {
    return dec((await this.#call(() => this.#adapter.account())).cash).toFixed();
  }

  async buyingPower(_account?: string): Promise<string> {
    const a = await this.#call(() => this.#adapter.account());
    return dec(a.buyingPower ?? a.cash).toFixed();
  }

  async recentOrders(afterMs: number): Promise<AccountOrder[]> {
    const listing = await this.#list(false);
    return listing.orders
      .filter((o) => o.createdAtMs > afterMs || !TERMINAL_VENUE_STATES.has(o.state))
      .map((o) => ({ clientOrderId: this.#claim(o), brokerOrderId: o.brokerOrderId, symbol: o.symbol, side: o.side, quantity: o.quantity, filledQuantity: o.filledQuantity, status: o.rawStatus ?? o.state, createdAtMs: o.createdAtMs }));
  }

  async fillsBeyond(wanted: readonly { readonly order: AccountOrder; readonly known: number }[]): Promise<Fill[][]> {
    if (wanted.length === 0) return [];
    const listing = await this.#list(true);
    return wanted.map(({ order, known }) => {
      const venueOrder = listing.orders.find((o) => o.brokerOrderId === order.brokerOrderId);
      if (!venueOrder) return [];
      const all = fillsOfOrder(venueOrder, listing.fills);
      const out: Fill[] = [];
      let cum = 0;
      for (const f of all) {
        cum += f.quantity;
        if (cum - f.quantity >= known) out.push(f);
      }
      if (cum < venueOrder.filledQuantity && venueOrder.avgFillPrice !== undefined) out.push(impliedRest(venueOrder, Math.max(known, cum), all));
      return out;
    });
  }

  reconcileOrders(): Promise<void> {
    const run = this.#catchingUp.then(() => this.#catchUp());
    this.#catchingUp = run.catch(() => undefined);
    return run;
  }

  // -------------------------------------------------------------------------------------
  // Learning what the venue knows

  #track(cid: string): Tracked {
    let t = this.#orders.get(cid);
    if (!t) this.#orders.set(cid, (t = { cid, accepted: false, fills: [], fillIds: new Set(), filled: 0, reported: 0, coveredTo: 0, queue: Promise.resolve() }));
    return t;
  }

  #map(t: Tracked, brokerOrderId: string): void {
    t.brokerOrderId = brokerOrderId;
    this.#cidOf.set(brokerOrderId, t.cid);
    this.#foreign.delete(brokerOrderId);
  }

  #enqueue(t: Tracked, step: () => Promise<void> | void): Promise<void> {
    const run = t.queue.then(step);
    t.queue = run.catch(() => undefined);
    return run;
  }

  async #call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      this.#haltOn(e, 'session');
      throw e;
    }
  }

  async #list(withFills: boolean): Promise<Listing> {
    const orders = await this.#call(() => this.#adapter.orders());
    const fills = withFills && this.#adapter.fills ? await this.#call(() => this.#adapter.fills!()) : undefined;
    // The adapters check their broker's answers; this is the net under all of them: an impossible
    // order or fill stops the read (loudly, retried at the next) rather than being booked.
    const bad = orders.map(impossibleOrder).find(Boolean) ?? fills?.map(impossibleFill).find(Boolean);
    if (bad) throw new VenueUnavailable(`${this.venue} listed ${bad}; nothing of this read is used`);
    return { orders, fills };
  }

  /** Our client order id for a venue order, if one claims it (carried, or mapped here). */
  #claim(o: VenueOrder): string | undefined {
    const carried = o.clientOrderId !== undefined && this.#isOurs(o.clientOrderId) ? o.clientOrderId : undefined;
    return carried ?? this.#cidOf.get(o.brokerOrderId);
  }

  /** The venue's order for `t` now: by its number, its carried client order id, or (a lost answer) by matching. */
  async #find(t: Tracked): Promise<{ order: VenueOrder; listing: Listing } | undefined> {
    const listing = await this.#list(this.#adapter.fills !== undefined);
    this.#matchLost(listing.orders);
    const order = listing.orders.find((o) => (t.brokerOrderId !== undefined && o.brokerOrderId === t.brokerOrderId) || o.clientOrderId === t.cid);
    return order ? { order, listing } : undefined;
  }

  /**
   * Submits whose answer was lost, on a venue that cannot carry our id: each takes the earliest
   * order no one claims with its symbol, side, quantity (and limit price), created since its session
   * began (less a margin for clocks that are off).
   */
  #matchLost(orders: readonly VenueOrder[]): void {
    const lost = [...this.#orders.values()].filter((t) => t.brokerOrderId === undefined && t.request && !t.terminal);
    if (lost.length === 0) return;
    const free = orders.filter((o) => o.clientOrderId === undefined && !this.#cidOf.has(o.brokerOrderId)).sort((a, b) => a.createdAtMs - b.createdAtMs || (a.brokerOrderId < b.brokerOrderId ? -1 : 1));
    const fits = (t: Tracked) => (o: VenueOrder) => {
      const r = t.request!;
      const since = (this.#sessionInstantOf(t.cid) ?? -Infinity) - CLOCK_MARGIN_MS;
      return o.symbol === r.symbol && o.side === r.side && o.quantity === r.quantity && (r.limitPrice === undefined || o.limitPrice === undefined || dec(o.limitPrice).eq(dec(r.limitPrice))) && o.createdAtMs >= since;
    };
    // Lost answers of one shape take the orders of that shape one to one, the earliest first, but
    // only when there are as many of them as lost answers: one more (someone at the terminal placed
    // the same order) and no agent could be told which is its own. Those stay unmatched: after the
    // grace they end rejected, never sent again, and the orders are the account's (EXTERNAL_ORDER).
    const shape = (t: Tracked) => JSON.stringify([t.request!.symbol, t.request!.side, t.request!.quantity, t.request!.limitPrice ?? null]);
    const groups = new Map<string, Tracked[]>();
    for (const t of lost) groups.set(shape(t), [...(groups.get(shape(t)) ?? []), t]);
    for (const group of groups.values()) {
      const candidates = free.filter(fits(group[0]!));
      if (candidates.length !== group.length) continue;
      group.forEach((t, i) => this.#map(t, candidates[i]!.brokerOrderId));
    }
  }

  /** Bring the order up to `order`: acceptance, the fills it shows that we lack, its end. */
  #apply(t: Tracked, order: VenueOrder, listing: Listing): void {
    if (t.brokerOrderId === undefined) this.#map(t, order.brokerOrderId);
    t.quantity ??= order.quantity;
    t.reported = Math.max(t.reported, order.filledQuantity);
    if (order.state !== 'rejected' || order.filledQuantity > 0) this.#accept(t);
    if (listing.fills) {
      for (const f of fillsOfOrder(order, listing.fills)) this.#addFill(t, f);
    }
    if (t.filled < order.filledQuantity) {
      const now = this.#scheduler.now();
      // The end waits for the fills the venue will list: the next read tries again.
      if (this.#adapter.fills !== undefined && (t.lagSince ??= now) + this.#fillGraceMs > now) return;
      if (order.avgFillPrice === undefined) return;
      const rest = impliedRest(order, t.filled, t.fills);
      this.#addFill(t, rest, true);
    }
    t.lagSince = undefined;
    if (order.state === 'cancelled' || order.state === 'expired') this.#end(t, order.state);
    else if (order.state === 'rejected') this.#end(t, 'rejected', 'BROKER_REJECTED', renderReason('BROKER_REJECTED', `${this.venue} rejected the order${order.message ? `: ${order.message}` : ''}${order.rawStatus ? ` (${order.rawStatus})` : ''}`));
  }

  #accept(t: Tracked): void {
    if (t.accepted || t.terminal) return;
    t.accepted = true;
    this.#updates.next({ type: 'broker.accepted', clientOrderId: t.cid, brokerOrderId: t.brokerOrderId ?? '', tsEvent: this.#scheduler.now() });
  }

  /** A fill, unless its id is known, it is covered by shares made up from the totals, or it would pass the order's quantity. */
  #addFill(t: Tracked, f: Fill, madeUp = false): void {
    if (t.fillIds.has(f.fillId) || f.quantity <= 0) return;
    t.fillIds.add(f.fillId);
    if (!madeUp && t.coveredTo > 0 && t.filled + f.quantity > t.reported) return;
    if (t.quantity !== undefined && t.filled + f.quantity > t.quantity) return;
    this.#accept(t);
    t.fills.push(f);
    t.filled += f.quantity;
    if (madeUp) t.coveredTo = t.filled;
    this.#fillsEmitted++;
    this.#updates.next({ type: 'broker.fill', clientOrderId: t.cid, fill: f, tsEvent: this.#scheduler.now() });
    if (t.quantity !== undefined && t.filled >= t.quantity && !t.terminal) t.terminal = 'filled';
  }

  #end(t: Tracked, how: Exclude<Terminal, 'filled'>, reason?: ReasonCode, message?: string): void {
    if (t.terminal) return;
    t.terminal = how;
    const tsEvent = this.#scheduler.now();
    if (how === 'rejected') {
      t.reason = reason ?? 'BROKER_REJECTED';
      t.message = message ?? renderReason(t.reason);
      this.#updates.next({ type: 'broker.rejected', clientOrderId: t.cid, reason: t.reason, message: t.message, tsEvent });
    } else {
      this.#updates.next({ type: how === 'cancelled' ? 'broker.cancelled' : 'broker.expired', clientOrderId: t.cid, tsEvent });
    }
  }

  #emitRejected(t: Tracked, message: string): void {
    this.#updates.next({ type: 'broker.rejected', clientOrderId: t.cid, reason: 'BROKER_REJECTED', message, tsEvent: this.#scheduler.now() });
  }

  #onOrder(order: VenueOrder): void {
    if (impossibleOrder(order)) return;
    const cid = this.#claim(order);
    if (cid === undefined) return this.#noteForeign(order);
    const t = this.#orders.get(cid);
    if (!t) return;
    void this.#enqueue(t, () => this.#apply(t, order, { orders: [order], fills: undefined })).catch(() => undefined);
  }

  #onPushedFill(fill: VenueFill): void {
    if (impossibleFill(fill)) return; // the next read of the lists says it loudly, or brings the true one
    const cid = this.#cidOf.get(fill.brokerOrderId);
    if (cid === undefined) return; // an order not ours (its order push tells), or one not yet mapped (the next read brings it)
    const t = this.#track(cid);
    t.reported = Math.max(t.reported, t.filled + fill.quantity);
    void this.#enqueue(t, () => this.#addFill(t, toFill(fill))).catch(() => undefined);
  }

  /** An order no client order id of ours claims: alerted when it is new (after the start) and when it fills. */
  #noteForeign(o: VenueOrder): void {
    const lostOfOurs = [...this.#orders.values()].some((t) => t.brokerOrderId === undefined && t.request && !t.terminal && t.request.symbol === o.symbol && t.request.side === o.side && t.request.quantity === o.quantity);
    if (lostOfOurs) return; // may be ours: its answer was lost; the match decides
    const before = this.#foreign.get(o.brokerOrderId);
    this.#foreign.set(o.brokerOrderId, o.filledQuantity);
    if (!this.#baseline) return;
    const event = before === undefined ? 'new' : o.filledQuantity > before ? (o.filledQuantity >= o.quantity ? 'fill' : 'partial_fill') : undefined;
    if (!event) return;
    this.#external.next({
      event,
      clientOrderId: o.clientOrderId ?? '',
      orderId: o.brokerOrderId,
      symbol: o.symbol,
      side: o.side,
      ...(event === 'new' ? { qty: o.quantity } : { qty: o.filledQuantity - (before ?? 0) }),
      ...(o.avgFillPrice ? { price: o.avgFillPrice } : o.limitPrice ? { price: o.limitPrice } : {}),
      tsEvent: this.#scheduler.now(),
    });
  }

  /** One read of the account's orders (and fills), handed to every order of ours; orders not ours noted. */
  async #catchUp(): Promise<void> {
    const pending = [...this.#orders.values()].filter((t) => !t.terminal);
    const lagging = pending.some((t) => t.brokerOrderId !== undefined);
    const listing = await this.#list(lagging && this.#adapter.fills !== undefined);
    this.#matchLost(listing.orders);
    const jobs: Promise<void>[] = [];
    for (const o of listing.orders) {
      const cid = this.#claim(o);
      if (cid === undefined) {
        this.#noteForeign(o);
        continue;
      }
      // An order of ours this process does not follow is the account pass's (adopted there), as on Alpaca.
      const t = this.#orders.get(cid);
      if (t && !t.terminal) jobs.push(this.#enqueue(t, () => this.#apply(t, o, listing)));
    }
    this.#baseline = true;
    await Promise.all(jobs);
  }

  /** The next read: soon while an order of ours is open, now and then otherwise. */
  #arm(delayMs?: number): void {
    if (!this.#started || this.#closed) return;
    this.#timer?.unsubscribe();
    const open = [...this.#orders.values()].some((t) => !t.terminal);
    this.#timer = this.#scheduler.schedule(() => {
      this.#timer = undefined;
      void this.reconcileOrders().then(
        () => this.#connected(true),
        (e: unknown) => {
          if (e instanceof VenueUnavailable) this.#connected(false);
        },
      ).finally(() => this.#arm());
    }, delayMs ?? (open ? this.#pollMs : this.#idlePollMs));
  }

  #connected(up: boolean): void {
    if (this.#closed || up === this.#listening) return;
    this.#listening = up;
    this.#connection.next({ type: up ? 'listening' : 'disconnected' });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#scheduler.schedule(() => resolve(), ms));
  }

  #haltOn(e: unknown, source: string): void {
    if (!(e instanceof VenueHalted)) return;
    const first = this.#halt === undefined;
    this.#halt = e;
    if (first) {
      this.#connection.next({ type: 'unauthorized' });
      this.#halts.next({ source, message: e.message, tsEvent: this.#scheduler.now() });
    }
  }
}

const isShares = (n: number) => Number.isSafeInteger(n) && n >= 0;

function impossibleOrder(o: VenueOrder): string | undefined {
  if (!isShares(o.quantity) || o.quantity === 0) return `order ${o.brokerOrderId} of ${o.quantity} shares`;
  if (!isShares(o.filledQuantity) || o.filledQuantity > o.quantity) return `order ${o.brokerOrderId} with ${o.filledQuantity} of ${o.quantity} shares filled`;
  if (o.avgFillPrice !== undefined && !dec(o.avgFillPrice).gt(0)) return `order ${o.brokerOrderId} filled at an average of ${o.avgFillPrice}`;
  return undefined;
}

function impossibleFill(f: VenueFill): string | undefined {
  if (!isShares(f.quantity) || f.quantity === 0) return `fill ${f.fillId} of ${f.quantity} shares`;
  if (!dec(f.price).gt(0)) return `fill ${f.fillId} at ${f.price}`;
  return undefined;
}

function toFill(f: VenueFill): Fill {
  return { fillId: f.fillId, quantity: f.quantity, price: f.price, fee: '0', atMs: f.atMs };
}

/** The listed fills of an order, oldest first. */
function fillsOfOrder(order: VenueOrder, fills: readonly VenueFill[] | undefined): Fill[] {
  return (fills ?? [])
    .filter((f) => f.brokerOrderId === order.brokerOrderId)
    .sort((a, b) => a.atMs - b.atMs || (a.fillId < b.fillId ? -1 : 1))
    .map(toFill);
}

/**
 * The shares of `order` beyond the first `covered`, at the price its totals imply (filled x average
 * less what `fills` paid, to 6 places); at the average when the fills do not cover exactly `covered`.
 */
function impliedRest(order: VenueOrder, covered: number, fills: readonly Fill[]): Fill {
  const filled = order.filledQuantity;
  const qty = filled - covered;
  const avg = dec(order.avgFillPrice ?? '0');
  const paidFor = fills.reduce((s, f) => s + f.quantity, 0);
  const price = paidFor === covered ? avg.times(filled).minus(fills.reduce((s, f) => s.plus(dec(f.price).times(f.quantity)), dec(0))).div(qty).toDecimalPlaces(6) : avg;
  return { fillId: `${order.brokerOrderId}:cum:${filled}`, quantity: qty, price: price.toFixed(), fee: '0', atMs: order.updatedAtMs ?? order.createdAtMs };
}

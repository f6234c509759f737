/**
 * What a paper run shows about itself: `/health` (healthReport), the dashboard's
 * `/api/state` (dashboardState), and the run's recent orders and last session per agent
 * as the event feed tells them (RunTracker). Kept apart from the runtime so the runtime
 * stays about running.
 */
import { DateTime } from 'luxon';
import type { Config } from '../config/schema.js';
import { isOpenAt } from '../domain/calendar/index.js';
import type { FeedEvent } from '../domain/feed.js';
import { MARKET_RULES } from '../domain/market-rules.js';
import { MARKETS } from '../domain/markets.js';
import { cashText } from '../domain/money.js';
import type { HeartbeatState } from '../domain/monitor/heartbeats.js';
import type { PriceSource } from '../domain/price-store.js';
import type { ChartFill, DashboardOrder, DashboardState, StatechartState } from '../domain/dashboard-state.js';
import { assessHealth, type HealthReport } from '../domain/health.js';
import { dec } from '../domain/money.js';
import { machineToJson } from '../machines/export.js';
import { sessionMachine } from '../machines/session.machine.js';
import type { Alert } from '../actors/monitor/alert-collector.actor.js';
import type { PriceTrail } from './price-trail.js';
import type { QuoteFeedHealth } from '../streams/quote-feed.js';
import type { Ledger } from '../actors/ledger/ledger.js';
import type { KillSwitchState } from '../actors/risk/kill-switch.js';
import { signatureOfOrder } from './feed-events.js';

const MAX_ORDERS_SHOWN = 200;
const MAX_CURVE_POINTS = 500;
const MAX_FILLS_SHOWN = 500;
const MAX_ALERTS_SHOWN = 50;

/** The session machine's states, from its definition (what the README's diagram is drawn from). */
export const SESSION_STATES: readonly StatechartState[] = machineToJson(sessionMachine).states.map((s) => ({ id: s.id, type: s.type, depth: s.id.split('.').length - 1 }));

/** A state value as the feed carries it (`deciding`, or JSON of a compound one, `{"executing":"checking"}`) as a dotted path. */
export function statePath(value: unknown): string {
  if (typeof value === 'string') {
    if (!value.startsWith('{')) return value;
    try {
      return statePath(JSON.parse(value) as unknown);
    } catch {
      return value;
    }
  }
  if (value && typeof value === 'object') {
    const [k, v] = Object.entries(value)[0] ?? [];
    if (k === undefined) return 'unknown';
    const rest = v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0) ? '' : statePath(v);
    return rest ? `${k}.${rest}` : k;
  }
  return 'unknown';
}

export interface TrackedSession {
  readonly state: string;
  readonly running: boolean;
  readonly sessionId?: string;
  readonly at: string;
}

/** The last session outcome and the session machine's state per agent, the recent orders and their fills, from the feed. */
export class RunTracker {
  readonly lastSessions = new Map<string, { at: string; status: string }>();
  readonly sessions = new Map<string, TrackedSession>();
  readonly #orders = new Map<string, DashboardOrder>();
  readonly #fills: (ChartFill & { readonly symbol: string })[] = [];

  observe(e: FeedEvent): void {
    if (e.type === 'session' && e.signature) {
      const sessionId = typeof e.payload['sessionId'] === 'string' ? e.payload['sessionId'] : undefined;
      if (typeof e.payload['outcome'] === 'object') {
        const o = e.payload['outcome'] as { at: string; status: string };
        this.lastSessions.set(e.signature, { at: o.at, status: o.status });
        this.sessions.set(e.signature, { state: o.status, running: false, at: e.time, ...(sessionId ? { sessionId } : {}) });
      } else if (e.payload['state'] !== undefined) {
        const state = statePath(e.payload['state']);
        const final = state === 'completed' || state === 'skipped' || state === 'failed';
        this.sessions.set(e.signature, { state, running: !final, at: e.time, ...(sessionId ? { sessionId } : {}) });
      }
    }
    if (e.type === 'order' && e.signature) trackOrder(this.#orders, e);
    if (e.type === 'fill' && e.signature) {
      trackFill(this.#orders, e);
      this.#chartFill(e);
    }
  }

  /** Fills of orders this run placed (their symbol and side come from the order), oldest first. */
  fills(): readonly (ChartFill & { readonly symbol: string })[] {
    return this.#fills;
  }

  #chartFill(e: FeedEvent): void {
    const cid = String(e.payload['clientOrderId'] ?? '');
    const order = this.#orders.get(cid);
    const fill = e.payload['fill'] as { quantity?: number; price?: string } | undefined;
    if (!order || !fill || typeof fill.quantity !== 'number' || fill.quantity <= 0 || typeof fill.price !== 'string') return;
    this.#fills.push({ time: e.time, signature: order.signature, side: order.side, quantity: fill.quantity, price: fill.price, clientOrderId: cid, symbol: order.symbol });
    if (this.#fills.length > MAX_FILLS_SHOWN) this.#fills.shift();
  }

  /** Newest first. */
  orders(): DashboardOrder[] {
    const ms = (o: DashboardOrder) => DateTime.fromISO(o.time).toMillis(); // by instant: offsets change with DST
    return [...this.#orders.values()].sort((a, b) => ms(b) - ms(a)).slice(0, MAX_ORDERS_SHOWN);
  }
}

/** What /health and the dashboard say of the quotes: where from, and whether they are missing (a polled source not answering). */
export function quoteStatus(q: QuoteFeedHealth, zone: string) {
  const iso = (ms: number) => DateTime.fromMillis(ms, { zone }).toISO()!;
  return {
    source: q.source,
    connected: q.connected,
    missing: q.unavailableSinceMs !== undefined,
    ...(q.lastQuoteMs !== undefined ? { lastQuoteAt: iso(q.lastQuoteMs) } : {}),
    ...(q.unavailableSinceMs !== undefined ? { missingSince: iso(q.unavailableSinceMs) } : {}),
    ...(q.unavailableSinceMs !== undefined && q.lastError ? { lastError: q.lastError } : {}),
    ...(q.nextPollMs !== undefined ? { nextPollAt: iso(q.nextPollMs) } : {}),
  };
}

export interface HealthInput {
  readonly config: Config;
  readonly at: DateTime;
  readonly quotes: QuoteFeedHealth;
  readonly heartbeats: readonly HeartbeatState[];
  readonly clockRunning: boolean;
  readonly lastTick: DateTime | undefined;
  /** The next session instant of the schedule, if any. */
  readonly nextSession?: DateTime | undefined;
  readonly killSwitch: KillSwitchState;
  readonly lastSessions: ReadonlyMap<string, { at: string; status: string }>;
}

export function healthReport(h: HealthInput): HealthReport {
  const { config, at, quotes: q } = h;
  const zone = MARKETS[config.market].zone;
  const open = isOpenAt(config.market, at);
  const staleMs = config.data_source.stale_quote_seconds * 1000;
  const dead = (part: string) => h.heartbeats.some((b) => b.part === part && !b.ok);
  const fresh = (!open || (q.lastQuoteMs !== undefined && at.toMillis() - q.lastQuoteMs <= staleMs)) && !dead('quotes');
  const ks = h.killSwitch;
  return {
    mode: config.mode === 'live' ? 'live' : 'paper',
    heartbeats: Object.fromEntries(h.heartbeats.map((b) => [b.part, { ok: b.ok, ...(b.problem ? { problem: b.problem, code: b.code } : {}) }])),
    clock: { running: h.clockRunning && !dead('clock'), ...(h.lastTick ? { lastTickAt: h.lastTick.toISO()! } : {}), ...(h.nextSession ? { nextSessionAt: h.nextSession.toISO()! } : {}), now: at.toISO()! },
    quotes: {
      fresh,
      ...quoteStatus(q, zone),
      quotes: q.quotes,
      malformed: q.malformed,
      failures: q.failures,
      marketOpen: open,
    },
    broker: { connected: true, name: 'simulated' },
    sessions: Object.fromEntries(
      config.models.map((m) => {
        const s = h.lastSessions.get(m.signature);
        return [m.signature, s ? { lastSessionAt: s.at, status: s.status } : { status: m.enabled ? 'waiting' : 'disabled' }];
      }),
    ),
    killSwitch: { active: ks.active, signatures: ks.signatures, ...(ks.reason ? { reason: ks.reason } : {}) },
  };
}

export interface StateInput {
  readonly config: Config;
  readonly at: DateTime;
  readonly ledger: Ledger;
  readonly prices: PriceSource;
  readonly halted: (signature: string) => boolean;
  readonly orders: DashboardOrder[];
  readonly quotes?: QuoteFeedHealth;
  readonly nextSession?: DateTime | undefined;
  // For the whole story (issue #19); each part is left out when not given.
  readonly tracker?: RunTracker;
  readonly trail?: PriceTrail;
  readonly alerts?: readonly Alert[];
  readonly health?: HealthReport;
  readonly lastTick?: DateTime | undefined;
  readonly stopped?: boolean;
}

export async function dashboardState(d: StateInput): Promise<DashboardState> {
  const { config, at, ledger, prices } = d;
  const market = config.market;
  const marks = await Promise.all(config.models.map((m) => ledger.getAccount(m.signature, at.toISO()!)));
  const zone = MARKETS[market].zone;
  const iso = (t: DateTime) => t.setZone(zone).toISO()!;
  const tracker = d.tracker;
  return {
    time: at.toISO()!,
    mode: config.mode === 'live' ? 'live' : 'paper',
    accounts: config.models.map((m, i) => {
      const mark = marks[i]!;
      return {
        signature: m.signature,
        market,
        currency: MARKET_RULES[market].currency,
        cash: cashText(ledger.account(m.signature).cash),
        equity: mark.equity,
        markedAt: at.toISO()!,
        initialCash: String(m.initial_cash),
        halted: d.halted(m.signature),
        positions: Object.entries(mark.positions)
          .filter(([, p]) => p.quantity !== 0)
          .map(([symbol, p]) => {
            const last = prices.priceAsOf(symbol, at)?.price;
            return { symbol, quantity: p.quantity, cost: p.costBasis, ...(last ? { lastPrice: last.toFixed(), marketValue: last.times(p.quantity).toFixed() } : {}) };
          }),
        equityCurve: ledger.equityCurve(m.signature).slice(-MAX_CURVE_POINTS).map((p) => ({ time: p.at, equity: p.equity })),
        pnl: pnlOf(mark, String(m.initial_cash)),
        ...(tracker ? { session: sessionOf(tracker.sessions.get(m.signature)) } : {}),
      };
    }),
    orders: d.orders,
    ...(d.quotes ? { quotes: quoteStatus(d.quotes, MARKETS[market].zone) } : {}),
    ...(d.nextSession ? { nextSessionAt: d.nextSession.toISO()! } : {}),
    clock: {
      marketTime: iso(at),
      zone,
      marketOpen: isOpenAt(market, at),
      ...(d.nextSession ? { nextSessionAt: iso(d.nextSession), nextSessionInMs: Math.max(0, d.nextSession.toMillis() - at.toMillis()) } : {}),
      ...(d.lastTick ? { lastTickAt: iso(d.lastTick) } : {}),
    },
    run: { status: d.stopped ? 'stopped' : 'running' },
    statechart: [...SESSION_STATES],
    ...(d.health ? { health: healthPanel(d.health) } : {}),
    ...(d.alerts
      ? {
          alerts: d.alerts
            .slice(-MAX_ALERTS_SHOWN)
            .reverse()
            .map((a) => ({ time: DateTime.fromMillis(a.tsEvent, { zone }).toISO()!, level: a.level, code: a.code, message: a.message, ...(a.signature ? { signature: a.signature } : {}) })),
        }
      : {}),
    ...(d.trail ? { charts: charts(d.trail, tracker?.fills() ?? []) } : {}),
  };
}

/** equity - initial = realised + unrealised, exactly: unrealised is the open positions at their marks less their cost basis. */
function pnlOf(mark: { equity: string; cash: string; positions: Record<string, { quantity: number; costBasis: string }> }, initialCash: string) {
  const equity = dec(mark.equity);
  const cost = Object.values(mark.positions).reduce((sum, p) => sum.plus(p.costBasis), dec(0));
  const unrealised = equity.minus(mark.cash).minus(cost);
  const total = equity.minus(initialCash);
  return { realised: total.minus(unrealised).toFixed(), unrealised: unrealised.toFixed(), total: total.toFixed() };
}

function sessionOf(s: TrackedSession | undefined) {
  return s ? { state: s.state, running: s.running, at: s.at, ...(s.sessionId ? { sessionId: s.sessionId } : {}) } : { state: 'idle', running: false };
}

/** /health's report and its status, as the panel shows them. */
export function healthPanel(report: HealthReport) {
  const a = assessHealth(report);
  return { status: a.status, problems: [...a.problems], report: { ...report } };
}

/** One chart per symbol the run priced or traded: its prices and the fills in it. */
function charts(trail: PriceTrail, fills: readonly (ChartFill & { readonly symbol: string })[]) {
  const symbols = [...new Set([...trail.symbols(), ...fills.map((f) => f.symbol)])].sort();
  return symbols.map((symbol) => ({
    symbol,
    points: trail.points(symbol),
    fills: fills.filter((f) => f.symbol === symbol).map(({ symbol: _symbol, ...f }) => f),
  }));
}

function trackOrder(orders: Map<string, DashboardOrder>, e: FeedEvent): void {
  const cid = String(e.payload['clientOrderId'] ?? '');
  if (!cid) return;
  const known = orders.get(cid);
  const order = e.payload['order'] as { symbol: string; side: 'buy' | 'sell'; quantity: number } | undefined;
  const result = e.payload['result'] as { filledQuantity?: number; averagePrice?: string; reason?: string } | undefined;
  const base = known ?? (order ? { time: e.time, signature: e.signature ?? signatureOfOrder(cid) ?? '?', clientOrderId: cid, symbol: order.symbol, side: order.side, quantity: order.quantity } : undefined);
  if (!base) return;
  orders.set(cid, {
    ...base,
    status: String(e.payload['status'] ?? known?.status ?? 'new'),
    ...(result?.filledQuantity !== undefined ? { filledQuantity: result.filledQuantity } : known?.filledQuantity !== undefined ? { filledQuantity: known.filledQuantity } : {}),
    ...(result?.averagePrice ? { averagePrice: result.averagePrice } : known?.averagePrice ? { averagePrice: known.averagePrice } : {}),
    ...(result?.reason ?? e.payload['reason'] ? { reason: String(result?.reason ?? e.payload['reason']) } : {}),
  });
  if (orders.size > MAX_ORDERS_SHOWN * 2) orders.delete(orders.keys().next().value!);
}

function trackFill(orders: Map<string, DashboardOrder>, e: FeedEvent): void {
  const cid = String(e.payload['clientOrderId'] ?? '');
  const known = orders.get(cid);
  const fill = e.payload['fill'] as { quantity: number } | undefined;
  if (!known || !fill) return;
  orders.set(cid, { ...known, filledQuantity: (known.filledQuantity ?? 0) + fill.quantity });
}

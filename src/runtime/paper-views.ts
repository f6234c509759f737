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
import type { DashboardOrder, DashboardState } from '../domain/dashboard-state.js';
import type { HealthReport } from '../domain/health.js';
import type { QuoteFeedHealth } from '../streams/quote-feed.js';
import type { Ledger } from '../actors/ledger/ledger.js';
import type { KillSwitchState } from '../actors/risk/kill-switch.js';
import { signatureOfOrder } from './feed-events.js';

const MAX_ORDERS_SHOWN = 200;
const MAX_CURVE_POINTS = 500;

/** The last session outcome per agent and the recent orders, from the feed. */
export class RunTracker {
  readonly lastSessions = new Map<string, { at: string; status: string }>();
  readonly #orders = new Map<string, DashboardOrder>();

  observe(e: FeedEvent): void {
    if (e.type === 'session' && e.signature && typeof e.payload['outcome'] === 'object') {
      const o = e.payload['outcome'] as { at: string; status: string };
      this.lastSessions.set(e.signature, { at: o.at, status: o.status });
    }
    if (e.type === 'order' && e.signature) trackOrder(this.#orders, e);
    if (e.type === 'fill' && e.signature) trackFill(this.#orders, e);
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
}

export async function dashboardState(d: StateInput): Promise<DashboardState> {
  const { config, at, ledger, prices } = d;
  const market = config.market;
  const marks = await Promise.all(config.models.map((m) => ledger.getAccount(m.signature, at.toISO()!)));
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
      };
    }),
    orders: d.orders,
    ...(d.quotes ? { quotes: quoteStatus(d.quotes, MARKETS[market].zone) } : {}),
    ...(d.nextSession ? { nextSessionAt: d.nextSession.toISO()! } : {}),
  };
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

/**
 * Prometheus metrics of a paper / live process (`GET /metrics`), with prom-client.
 *
 * - One `Registry` per `Metrics` (never prom-client's global one), so tests and
 *   several runs in one process never collide; process metrics come from
 *   `collectDefaultMetrics` on that registry (`process_*`, `nodejs_*`).
 * - Counters and histograms move with the event feed: `observe(event)` maps each
 *   `FeedEvent` type through one table (ticks, session states and outcomes, orders,
 *   fills, risk rejections, alerts). LLM steps arrive through `observeLlmStep`, which
 *   the LLM agent calls (it takes an `LlmObserver`).
 * - Gauges (equity, cash, quote lag, health flags, feed clients) are read at scrape
 *   time through prom-client's `collect()` hook from the callbacks given, so they are
 *   never stale; one scrape calls `health()` and `state()` once, shared by the gauges.
 * - Label values are bounded: reason codes only from the closed table
 *   (src/domain/reasons.ts), statuses and sides from their enums, free-form values
 *   (signatures, models, alert codes, quote sources) by shape and by a cap on how many
 *   distinct values one label may take; the rest become `other`. Ids (client order
 *   ids, session ids) never become labels.
 * - Money is exported as a float: fine for charts and alerts; exact values live in
 *   the ledger and /api/state.
 * - Time only from the injected `now()` (epoch ms): session durations run from the
 *   first feed event of a session to its outcome on that clock.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FeedEvent, FeedEventType } from '../../domain/feed.js';
import { OrderResultSchema, OrderStatusSchema } from '../../domain/orders.js';
import { REASONS } from '../../domain/reasons.js';
import type { DashboardState } from '../../domain/dashboard-state.js';
import { assessHealth, type HealthReport } from '../../domain/health.js';
import { PRICE_SANITY_RULES, type PrintVerdict } from '../../domain/price-sanity.js';
import type { ExtraRoutes, RouteContext } from '../../server/http-server.js';

export const METRICS_PATH = '/metrics';
/** Every metric of ours starts with this; process metrics keep prom-client's names. */
export const METRIC_PREFIX = 'agent_trader_';
/** The label value for anything outside a label's allowed set. */
export const OTHER = 'other';
/** The label value when an event carries no value for a label (e.g. no reason). */
export const NONE = 'none';

/** Sessions run from seconds (rules) to many minutes (an LLM tool loop near its deadline). */
export const SESSION_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
/** One chat-completions call, retries included. */
export const LLM_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120];

/** One model call as the LLM agent saw it. */
export interface LlmStep {
  readonly signature: string;
  /** The configured base model (a config value, so bounded). */
  readonly model: string;
  /** Wall ms from sending the request to its answer (or its final failure). */
  readonly latencyMs: number;
  readonly usage?: { readonly prompt: number; readonly completion: number } | undefined;
  /** False when the call failed after its retries; default true. */
  readonly ok?: boolean | undefined;
}

/** What the LLM agent needs to report its model calls (Metrics implements it). */
export interface LlmObserver {
  observeLlmStep(step: LlmStep): void;
}

export interface MetricsOptions {
  /** Epoch ms of the injected clock (session durations; quote lag when the report has no `clock.now`). */
  readonly now: () => number;
  /** The dashboard state (equity, cash per account), read at scrape time. */
  readonly state?: (() => Promise<DashboardState> | DashboardState) | undefined;
  /** The health report (quote lag, quote counts, clock / broker flags), read at scrape time. */
  readonly health?: (() => HealthReport) | undefined;
  /** The event feed's stats (connected clients), read at scrape time. */
  readonly feedStats?: (() => { readonly clients: number }) | undefined;
  /** The configured signatures: when given, any other signature is labelled `other`. */
  readonly signatures?: readonly string[] | undefined;
  /** Told when a scrape-time callback throws (the scrape still answers, without those values) or an observation fails. */
  readonly onError?: ((err: unknown, where: 'state' | 'health' | 'feedStats' | 'observe') => void) | undefined;
}

export interface MetricsRouteOptions {
  /**
   * Follow the /api rule (loopback, or the feed token) for /metrics: equity and cash
   * are the business's numbers. Default true; Prometheus sends the token as a bearer
   * (`authorization: { credentials_file: ... }` in its scrape config).
   */
  readonly requireAuth?: boolean;
}

// --- bounded label values -----------------------------------------------------

const SAFE_VALUE = /^[A-Za-z0-9._:/+-]{1,100}$/;
const ALERT_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * One label's allowed values: a fixed set, or values of a safe shape up to a cap of
 * distinct ones (first come, first kept: a runaway source cannot grow the series).
 */
class LabelValues {
  readonly #fixed: ReadonlySet<string> | undefined;
  readonly #seen = new Set<string>();
  constructor(
    readonly spec: { readonly fixed?: readonly string[]; readonly shape?: RegExp; readonly max?: number },
  ) {
    this.#fixed = spec.fixed ? new Set(spec.fixed) : undefined;
  }
  of(raw: unknown, missing = NONE): string {
    if (raw === undefined || raw === null || raw === '') return missing;
    const value = String(raw);
    if (this.#fixed) return this.#fixed.has(value) ? value : OTHER;
    if (!(this.spec.shape ?? SAFE_VALUE).test(value)) return OTHER;
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= (this.spec.max ?? 50)) return OTHER;
    this.#seen.add(value);
    return value;
  }
}

const REASON_CODES = Object.keys(REASONS);
const ORDER_STATUSES = [...new Set<string>([...OrderStatusSchema.options, ...OrderResultSchema.shape.status.options])];
const TERMINAL_STATES = new Set(['completed', 'skipped', 'failed']);

// --- payload readers (feed payloads are plain JSON records) ------------------

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const rec = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Insertion-ordered map that forgets its oldest entries past `max` (bounded memory on a run of weeks). */
class Recent<V> extends Map<string, V> {
  constructor(readonly max: number) {
    super();
  }
  override set(key: string, value: V): this {
    super.delete(key);
    super.set(key, value);
    while (this.size > this.max) super.delete(this.keys().next().value!);
    return this;
  }
}

/** What one scrape read from the callbacks, shared by every gauge's collect(). */
interface Scrape {
  health(): HealthReport | undefined;
  state(): Promise<DashboardState | undefined>;
}

export class Metrics implements LlmObserver {
  /** This instance's own registry (not prom-client's global one). */
  readonly registry = new Registry();

  readonly #options: MetricsOptions;
  readonly #labels = {
    signature: new LabelValues({ max: 100 }),
    model: new LabelValues({ max: 50 }),
    market: new LabelValues({ max: 10 }),
    source: new LabelValues({ max: 20 }),
    currency: new LabelValues({ shape: /^[A-Z]{3}$/, max: 10 }),
    code: new LabelValues({ shape: ALERT_CODE, max: 100 }),
    reason: new LabelValues({ fixed: REASON_CODES }),
    status: new LabelValues({ fixed: ORDER_STATUSES }),
    result: new LabelValues({ fixed: ['completed', 'skipped', 'failed'] }),
    side: new LabelValues({ fixed: ['buy', 'sell'] }),
    level: new LabelValues({ fixed: ['info', 'warning', 'critical'] }),
    rule: new LabelValues({ fixed: [NONE, ...PRICE_SANITY_RULES.map((r) => r.rule)] }),
    outcome: new LabelValues({ fixed: ['accepted', 'dropped', 'quarantined', 'confirmed', 'discarded'] }),
  };
  readonly #allowedSignatures: ReadonlySet<string> | undefined;

  /** sessionId -> epoch ms of the first event seen (deleted at the outcome). */
  readonly #sessionStart = new Recent<number>(10_000);
  /** clientOrderId -> last status counted and the order's side (fills carry no side). */
  readonly #orders = new Recent<{ status?: string; side?: string }>(20_000);
  /** The quote feed's cumulative counts as last mirrored (one feed, whose source name may change on failover). */
  readonly #quoteCounts = { quotes: 0, malformed: 0, failures: 0 };
  #scrape: Scrape | undefined;

  readonly #c;
  readonly #handlers: { readonly [T in FeedEventType]?: (e: FeedEvent) => void };

  constructor(options: MetricsOptions) {
    this.#options = options;
    this.#allowedSignatures = options.signatures ? new Set(options.signatures) : undefined;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const self = this;
    const m = METRIC_PREFIX;

    this.#c = {
      ticks: new Counter({ name: `${m}ticks_total`, help: 'Scheduled trading instants that fired.', labelNames: ['market'], registers }),
      sessions: new Counter({ name: `${m}sessions_total`, help: 'Session outcomes, by result and reason code (none when the session gave no reason).', labelNames: ['signature', 'result', 'reason'], registers }),
      sessionDuration: new Histogram({ name: `${m}session_duration_seconds`, help: 'From the first feed event of a session to its outcome, on the injected clock.', labelNames: ['signature'], buckets: SESSION_BUCKETS, registers }),
      llmRequests: new Counter({ name: `${m}llm_requests_total`, help: 'Model calls (retries included in one call), by result ok|error.', labelNames: ['signature', 'model', 'result'], registers }),
      llmDuration: new Histogram({ name: `${m}llm_request_duration_seconds`, help: 'Latency of one model call, retries included.', labelNames: ['signature', 'model'], buckets: LLM_BUCKETS, registers }),
      llmTokens: new Counter({ name: `${m}llm_tokens_total`, help: 'Tokens the model reported, by kind prompt|completion.', labelNames: ['signature', 'model', 'kind'], registers }),
      orders: new Counter({ name: `${m}orders_total`, help: 'Order status changes (new = placed; terminal statuses once per order).', labelNames: ['signature', 'status'], registers }),
      riskRejections: new Counter({ name: `${m}risk_rejections_total`, help: 'Intents refused by pre-trade risk, by reason code.', labelNames: ['signature', 'reason'], registers }),
      fills: new Counter({ name: `${m}fills_total`, help: 'Executions reported by the broker.', labelNames: ['signature', 'side'], registers }),
      filledShares: new Counter({ name: `${m}filled_shares_total`, help: 'Shares executed.', labelNames: ['signature', 'side'], registers }),
      alerts: new Counter({ name: `${m}alerts_total`, help: 'Monitor alerts, by level and code.', labelNames: ['level', 'code'], registers }),
      pricePrints: new Counter({ name: `${m}price_prints_total`, help: 'Quote prints judged by the price sanity rules, by rule (none when none caught it) and outcome; discarded = a quarantine never confirmed.', labelNames: ['rule', 'outcome'], registers }),
    };

    const gauge = (name: string, help: string, labelNames: readonly string[], collect: (g: Gauge) => void | Promise<void>) =>
      new Gauge({
        name: `${m}${name}`,
        help,
        labelNames,
        registers,
        collect() {
          return collect(this);
        },
      });
    const flag = (b: boolean) => (b ? 1 : 0);

    // Money gauges: reset each scrape so a signature that left the config disappears.
    const money = (name: string, help: string, field: 'equity' | 'cash') =>
      gauge(name, help, ['signature', 'currency'], async (g) => {
        const state = await self.#current().state();
        g.reset();
        for (const a of state?.accounts ?? []) {
          const value = Number(a[field]);
          if (Number.isFinite(value)) g.set({ signature: self.#signature(a.signature), currency: self.#labels.currency.of(a.currency) }, value);
        }
      });
    money('equity', 'Account equity (cash + positions at the last price), as a float; exact values live in the ledger.', 'equity');
    money('cash', 'Account cash, as a float; exact values live in the ledger.', 'cash');

    gauge('up', '1 when the process reports itself healthy (/health would answer 200), else 0.', [], (g) => {
      const h = self.#current().health();
      g.set(options.health === undefined ? 1 : flag(h !== undefined && assessHealth(h).status === 'ok'));
    });
    const healthGauge = (name: string, help: string, read: (h: HealthReport) => number | undefined) =>
      gauge(name, help, [], (g) => {
        const h = self.#current().health();
        const v = h && read(h);
        // Unknown is absent, not 0 (an unlabelled gauge's reset() would print 0).
        if (v === undefined) g.remove();
        else g.set(v);
      });
    healthGauge('clock_running', '1 while the schedule clock runs.', (h) => flag(h.clock.running));
    healthGauge('broker_connected', '1 while the broker is connected.', (h) => flag(h.broker.connected));
    healthGauge('quotes_fresh', '0 when quotes are expected (a market is open) and none arrived in time.', (h) => flag(h.quotes.fresh));
    healthGauge('kill_switch_active', '1 while the kill switch halts trading (any signature).', (h) => (h.killSwitch ? flag(h.killSwitch.active) : undefined));
    healthGauge('quote_lag_seconds', 'Age of the last valid quote (any symbol): the report time (or now) minus the quote time.', (h) => {
      const at = str(h.quotes.lastQuoteAt);
      if (at === undefined) return undefined;
      const reportNow = str((h.clock as Record<string, unknown>)['now']);
      const nowMs = reportNow !== undefined ? Date.parse(reportNow) : options.now();
      const lag = (nowMs - Date.parse(at)) / 1000;
      return Number.isFinite(lag) ? Math.max(0, lag) : undefined;
    });
    gauge('feed_clients', 'WebSocket event-feed clients connected now.', [], (g) => {
      if (!options.feedStats) return void g.remove();
      try {
        g.set(options.feedStats().clients);
      } catch (err) {
        g.remove();
        options.onError?.(err, 'feedStats');
      }
    });

    // The quote feed counts cumulatively; mirrored into counters at scrape time.
    const quoteCounter = (name: string, help: string, field: 'quotes' | 'malformed' | 'failures') =>
      new Counter({
        name: `${m}${name}`,
        help,
        labelNames: ['source'],
        registers,
        collect() {
          self.#mirrorQuotes(field, this);
        },
      });
    quoteCounter('quotes_total', 'Valid quotes delivered by the quote feed.', 'quotes');
    quoteCounter('quotes_malformed_total', 'Quote frames or records that failed validation (skipped).', 'malformed');
    quoteCounter('quote_failures_total', 'Quote feed reconnects (WebSocket) or failed polls (HTTP).', 'failures');

    const c = this.#c;
    // The feed-event table: one handler per type; types not listed are not counted.
    this.#handlers = {
      tick: (e) => c.ticks.inc({ market: this.#labels.market.of(e.payload['market']) }),
      session: (e) => this.#onSession(e),
      order: (e) => this.#onOrder(e),
      fill: (e) => {
        const fill = rec(e.payload['fill']);
        const cid = str(e.payload['clientOrderId']);
        const labels = { signature: this.#signature(e.signature), side: this.#labels.side.of(cid && this.#orders.get(cid)?.side, 'unknown') };
        c.fills.inc(labels);
        const qty = num(fill?.['quantity']);
        if (qty !== undefined && qty > 0) c.filledShares.inc(labels, qty);
      },
      'risk.rejected': (e) => c.riskRejections.inc({ signature: this.#signature(e.signature), reason: this.#labels.reason.of(e.payload['reason']) }),
      alert: (e) => c.alerts.inc({ level: this.#labels.level.of(e.payload['level']), code: this.#labels.code.of(e.payload['code']) }),
    };
  }

  /** Count one feed event (subscribe it to the run's event stream). Never throws on odd payloads. */
  observe(event: FeedEvent): void {
    // Never throw into the caller: an error in an RxJS subscriber would take the process down.
    try {
      this.#handlers[event.type]?.(event);
    } catch (err) {
      this.#options.onError?.(err, 'observe');
    }
  }

  /** Count one price-sanity verdict (subscribe it to the quote feed's verdicts). */
  observePricePrint(verdict: Pick<PrintVerdict, 'outcome' | 'rule' | 'discarded'>): void {
    try {
      const { rule, outcome } = this.#labels;
      this.#c.pricePrints.inc({ rule: rule.of(verdict.rule ?? NONE), outcome: outcome.of(verdict.outcome) });
      if (verdict.discarded) this.#c.pricePrints.inc({ rule: rule.of(verdict.discarded.rule), outcome: 'discarded' });
    } catch (err) {
      this.#options.onError?.(err, 'observe');
    }
  }

  observeLlmStep(step: LlmStep): void {
    try {
      this.#observeLlmStep(step);
    } catch (err) {
      this.#options.onError?.(err, 'observe');
    }
  }

  #observeLlmStep(step: LlmStep): void {
    const labels = { signature: this.#signature(step.signature), model: this.#labels.model.of(step.model) };
    this.#c.llmRequests.inc({ ...labels, result: step.ok === false ? 'error' : 'ok' });
    if (Number.isFinite(step.latencyMs) && step.latencyMs >= 0) this.#c.llmDuration.observe(labels, step.latencyMs / 1000);
    const { prompt, completion } = step.usage ?? {};
    if (prompt !== undefined && prompt > 0) this.#c.llmTokens.inc({ ...labels, kind: 'prompt' }, prompt);
    if (completion !== undefined && completion > 0) this.#c.llmTokens.inc({ ...labels, kind: 'completion' }, completion);
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    // Every collect() runs synchronously inside metrics() before its first await, so
    // the callbacks are read once per scrape; a collect outside it just reads afresh.
    this.#scrape = this.#newScrape();
    try {
      return this.registry.metrics();
    } finally {
      this.#scrape = undefined;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** `GET|HEAD /metrics` for `startHttpServer({ extraRoutes })`. */
  metricsRoute(routeOptions: MetricsRouteOptions = {}): ExtraRoutes {
    const requireAuth = routeOptions.requireAuth ?? true;
    return (req: IncomingMessage, res: ServerResponse, ctx: RouteContext): boolean => {
      if (new URL(req.url ?? '/', 'http://local').pathname !== METRICS_PATH) return false;
      const plain = (status: number, body: string, extra: Record<string, string> = {}) => {
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...extra });
        res.end(body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        plain(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
        return true;
      }
      if (requireAuth && !ctx.authorized) {
        plain(401, 'unauthorized\n', { 'WWW-Authenticate': 'Bearer' });
        return true;
      }
      this.text().then(
        (body) => {
          res.writeHead(200, { 'Content-Type': this.contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        // No detail: the error could carry anything.
        () => plain(500, 'metrics unavailable\n'),
      );
      return true;
    };
  }

  // --- internals ---------------------------------------------------------------

  #signature(raw: string | undefined): string {
    if (raw !== undefined && this.#allowedSignatures && !this.#allowedSignatures.has(raw)) return OTHER;
    return this.#labels.signature.of(raw, 'unknown');
  }

  #onSession(e: FeedEvent): void {
    const sessionId = str(e.payload['sessionId']);
    const outcome = rec(e.payload['outcome']);
    if (!outcome) {
      // A state change: the first one seen starts the clock (a final state never does:
      // its snapshot may arrive after the outcome).
      const state = str(e.payload['state']);
      if (sessionId && state && !TERMINAL_STATES.has(state) && !this.#sessionStart.has(sessionId)) this.#sessionStart.set(sessionId, this.#options.now());
      return;
    }
    const signature = this.#signature(str(outcome['signature']) ?? e.signature);
    const error = rec(outcome['error']);
    this.#c.sessions.inc({ signature, result: this.#labels.result.of(outcome['status']), reason: this.#labels.reason.of(outcome['reason'] ?? error?.['reason']) });
    const id = str(outcome['sessionId']) ?? sessionId;
    const started = id === undefined ? undefined : this.#sessionStart.get(id);
    if (id !== undefined && started !== undefined) {
      this.#sessionStart.delete(id);
      this.#c.sessionDuration.observe({ signature }, Math.max(0, this.#options.now() - started) / 1000);
    }
  }

  #onOrder(e: FeedEvent): void {
    const cid = str(e.payload['clientOrderId']);
    const status = str(e.payload['status']);
    if (!cid || !status) return;
    const known = this.#orders.get(cid);
    const side = str(rec(e.payload['order'])?.['side']) ?? known?.side;
    // A status is counted once per order: a broker rejection and the order's end both say `rejected`.
    if (known?.status === status) return;
    this.#orders.set(cid, { status, ...(side ? { side } : {}) });
    this.#c.orders.inc({ signature: this.#signature(e.signature), status: this.#labels.status.of(status) });
  }

  #mirrorQuotes(field: 'quotes' | 'malformed' | 'failures', counter: Counter<'source'>): void {
    const h = this.#current().health();
    if (!h) return;
    const q = h.quotes as Record<string, unknown>;
    const value = num(q[field]);
    if (value === undefined) return;
    // What arrived since the last scrape goes to the source serving now; a count that
    // went down restarted (a new feed object) and counts again from zero.
    const last = this.#quoteCounts[field];
    const delta = value >= last ? value - last : value;
    if (delta > 0) counter.inc({ source: this.#labels.source.of(h.quotes.source) }, delta);
    this.#quoteCounts[field] = value;
  }

  #current(): Scrape {
    return this.#scrape ?? this.#newScrape();
  }

  #newScrape(): Scrape {
    const { health, state, onError } = this.#options;
    let healthRead: { value: HealthReport | undefined } | undefined;
    let stateRead: Promise<DashboardState | undefined> | undefined;
    return {
      health: () => {
        if (!healthRead) {
          try {
            healthRead = { value: health?.() };
          } catch (err) {
            healthRead = { value: undefined };
            onError?.(err, 'health');
          }
        }
        return healthRead.value;
      },
      state: () =>
        (stateRead ??= state
          ? Promise.resolve()
              .then(state)
              .catch((err: unknown) => {
                onError?.(err, 'state');
                return undefined;
              })
          : Promise.resolve(undefined)),
    };
  }
}

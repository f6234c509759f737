/**
 * Metrics: a scripted run of feed events (built from real domain messages by the real
 * feed table) on an injected clock, read back as Prometheus exposition text; gauges
 * from state / health callbacks at scrape time; and GET /metrics through the real
 * HTTP server on 127.0.0.1:0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { feedEventOfMessage } from '../../../src/runtime/feed-events.js';
import { LLM_BUCKETS, Metrics, METRIC_PREFIX, SESSION_BUCKETS, type LlmObserver } from '../../../src/actors/monitor/metrics.js';
import type { FeedEvent } from '../../../src/domain/feed.js';
import type { AnyMessage } from '../../../src/domain/messages.js';
import type { OrderResult } from '../../../src/domain/orders.js';
import { REASONS } from '../../../src/domain/reasons.js';
import type { DashboardState } from '../../../src/domain/dashboard-state.js';
import type { HealthReport } from '../../../src/domain/health.js';
import type { RunningHttpServer } from '../../../src/server/http-server.js';
import { closeAll, FeedClient, okHealth, sampleState, startHarness, TOKEN } from '../../server/helpers.js';

afterEach(closeAll);

const EPOCH = Date.UTC(2026, 0, 5, 14, 35);

/** An injected clock the test moves by hand. */
function testClock() {
  let t = EPOCH;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const at = (clockMs: number) => DateTime.fromMillis(clockMs, { zone: 'America/New_York' });
const fromMessage = (m: AnyMessage, clockMs: number): FeedEvent => {
  const e = feedEventOfMessage(m, at(clockMs));
  if (!e) throw new Error(`not a feed message: ${m.type}`);
  return e;
};
/** A session's move to another state, as the feed inspector emits it. */
const sessionState = (sessionId: string, state: string): FeedEvent => ({
  type: 'session',
  time: '2026-01-05T14:35:00.000Z',
  signature: sessionId.split('@')[0]!,
  payload: { sessionId, state },
});

const lines = (text: string) => text.split('\n');

const SID_A = 'alpha@2026-01-05T09:35:00.000-05:00';
const SID_B = 'beta@2026-01-05T09:35:00.000-05:00';
const SID_G = 'gamma@2026-01-05T09:35:00.000-05:00';
const CID_1 = 'alpha.20260105T0935.1';
const CID_2 = 'alpha.20260105T0935.2';
const CID_3 = 'alpha.20260105T0935.3';

const result = (clientOrderId: string, status: OrderResult['status'], side: 'buy' | 'sell', filled: number, extra: Partial<OrderResult> = {}): OrderResult => ({
  clientOrderId,
  intent: { side, symbol: 'AAPL', quantity: 10, type: 'market' },
  status,
  filledQuantity: filled,
  fees: '0',
  ...extra,
});

/** One day of two sessions: a risk rejection, a filled buy in two fills, a rejected sell, alerts. */
function scriptedRun(metrics: Metrics, clock: ReturnType<typeof testClock>): void {
  const ts = () => ({ tsEvent: clock.now() });
  const send = (m: AnyMessage) => metrics.observe(fromMessage(m, clock.now()));
  send({ type: 'clock.tick', market: 'us', frequency: 'daily', at: '2026-01-05T09:35:00.000-05:00', atMs: EPOCH, marketOpen: true, nextOpenMs: EPOCH, ...ts() });
  metrics.observe(sessionState(SID_A, 'idle'));
  metrics.observe(sessionState(SID_B, 'idle'));
  clock.advance(500);
  metrics.observe(sessionState(SID_A, 'fetching'));
  send({ type: 'agent.intent', sessionId: SID_A, step: 0, intent: { side: 'buy', symbol: 'AAPL', quantity: 1000, type: 'market' }, ...ts() });
  send({ type: 'risk.rejected', sessionId: SID_A, clientOrderId: CID_1, reason: 'MAX_POSITION_RATIO', message: 'too big', ...ts() });

  send({ type: 'engine.placeOrder', sessionId: SID_A, order: { side: 'buy', symbol: 'AAPL', quantity: 10, type: 'market', clientOrderId: CID_2, signature: 'alpha' }, marketOpen: true, nextOpenMs: EPOCH, ...ts() });
  send({ type: 'broker.accepted', clientOrderId: CID_2, brokerOrderId: 'b-1', ...ts() });
  send({ type: 'broker.fill', clientOrderId: CID_2, fill: { fillId: 'f-1', quantity: 4, price: '224.10', fee: '0', atMs: clock.now() }, ...ts() });
  send({ type: 'broker.fill', clientOrderId: CID_2, fill: { fillId: 'f-2', quantity: 6, price: '224.20', fee: '0', atMs: clock.now() }, ...ts() });
  send({ type: 'order.finished', clientOrderId: CID_2, result: result(CID_2, 'filled', 'buy', 10, { averagePrice: '224.16' }), ...ts() });

  send({ type: 'engine.placeOrder', sessionId: SID_A, order: { side: 'sell', symbol: 'MSFT', quantity: 5, type: 'market', clientOrderId: CID_3, signature: 'alpha' }, marketOpen: true, nextOpenMs: EPOCH, ...ts() });
  send({ type: 'broker.rejected', clientOrderId: CID_3, reason: 'INSUFFICIENT_POSITION', message: 'no shares', ...ts() });
  send({ type: 'order.finished', clientOrderId: CID_3, result: result(CID_3, 'rejected', 'sell', 0, { reason: 'INSUFFICIENT_POSITION' }), ...ts() });

  clock.advance(2_500); // beta: 3 s after its start
  send({
    type: 'session.finished',
    outcome: { sessionId: SID_B, signature: 'beta', at: '2026-01-05T09:35:00.000-05:00', status: 'failed', error: { step: 'deciding', reason: 'DEADLINE', message: 'late' }, results: [] },
    ...ts(),
  });
  send({ type: 'monitor.alert', level: 'critical', code: 'SESSION_FAILED', message: 'beta failed', signature: 'beta', sessionId: SID_B, ...ts() });
  send({ type: 'monitor.alert', level: 'warning', code: 'STALE_QUOTE', message: 'old quote', ...ts() });

  clock.advance(39_500); // alpha: 42.5 s after its start
  metrics.observe(sessionState(SID_A, 'recording'));
  send({
    type: 'session.finished',
    outcome: { sessionId: SID_A, signature: 'alpha', at: '2026-01-05T09:35:00.000-05:00', status: 'completed', results: [result(CID_2, 'filled', 'buy', 10)], summary: 'bought' },
    ...ts(),
  });
  metrics.observe(sessionState(SID_A, 'completed')); // the final snapshot after the outcome starts nothing
  // gamma never started here (disabled): an outcome without a start has no duration.
  send({ type: 'session.finished', outcome: { sessionId: SID_G, signature: 'gamma', at: '2026-01-05T09:35:00.000-05:00', status: 'skipped', reason: 'AGENT_DISABLED', results: [] }, ...ts() });
}

describe('Metrics from feed events', () => {
  it('counts sessions, orders, fills, risk rejections, alerts and ticks by their bounded labels', async () => {
    const clock = testClock();
    const metrics = new Metrics({ now: clock.now });
    scriptedRun(metrics, clock);
    const text = lines(await metrics.text());
    for (const line of [
      'agent_trader_ticks_total{market="us"} 1',
      'agent_trader_sessions_total{signature="beta",result="failed",reason="DEADLINE"} 1',
      'agent_trader_sessions_total{signature="alpha",result="completed",reason="none"} 1',
      'agent_trader_sessions_total{signature="gamma",result="skipped",reason="AGENT_DISABLED"} 1',
      'agent_trader_risk_rejections_total{signature="alpha",reason="MAX_POSITION_RATIO"} 1',
      'agent_trader_orders_total{signature="alpha",status="new"} 2',
      'agent_trader_orders_total{signature="alpha",status="accepted"} 1',
      'agent_trader_orders_total{signature="alpha",status="filled"} 1',
      // The broker's rejection and the order's end both say `rejected`: counted once.
      'agent_trader_orders_total{signature="alpha",status="rejected"} 1',
      'agent_trader_fills_total{signature="alpha",side="buy"} 2',
      'agent_trader_filled_shares_total{signature="alpha",side="buy"} 10',
      'agent_trader_alerts_total{level="critical",code="SESSION_FAILED"} 1',
      'agent_trader_alerts_total{level="warning",code="STALE_QUOTE"} 1',
    ]) {
      expect(text).toContain(line);
    }
  });

  it('times a session from its first event to its outcome on the injected clock (histogram buckets, count, sum)', async () => {
    const clock = testClock();
    const metrics = new Metrics({ now: clock.now });
    scriptedRun(metrics, clock);
    const text = lines(await metrics.text());
    const series = (signature: string) => text.filter((l) => l.startsWith('agent_trader_session_duration_seconds') && l.includes(`signature="${signature}"`));
    expect(series('alpha')).toEqual([
      ...SESSION_BUCKETS.map((le) => `agent_trader_session_duration_seconds_bucket{le="${le}",signature="alpha"} ${le >= 42.5 ? 1 : 0}`),
      'agent_trader_session_duration_seconds_bucket{le="+Inf",signature="alpha"} 1',
      'agent_trader_session_duration_seconds_sum{signature="alpha"} 42.5',
      'agent_trader_session_duration_seconds_count{signature="alpha"} 1',
    ]);
    expect(text).toContain('agent_trader_session_duration_seconds_sum{signature="beta"} 3');
    expect(text).toContain('agent_trader_session_duration_seconds_bucket{le="5",signature="beta"} 1');
    expect(text).toContain('agent_trader_session_duration_seconds_bucket{le="2.5",signature="beta"} 0');
    expect(series('gamma')).toEqual([]);
  });

  it('never turns an id or free text into a label value, and caps what a label may take', async () => {
    const clock = testClock();
    const metrics = new Metrics({ now: clock.now, signatures: ['alpha', 'beta', 'gamma'] });
    scriptedRun(metrics, clock);
    // A flood of odd values: unknown codes, free text, an unlisted signature, garbage reasons.
    for (let i = 0; i < 300; i++) {
      metrics.observe({ type: 'alert', time: '2026-01-05T14:35:00.000Z', payload: { level: 'warning', code: `CODE_${i}`, message: `m ${i}` } });
      metrics.observe({ type: 'alert', time: '2026-01-05T14:35:00.000Z', payload: { level: 'loud', code: `free text ${i} with spaces` } });
      metrics.observe({ type: 'risk.rejected', time: '2026-01-05T14:35:00.000Z', signature: `intruder-${i}`, payload: { reason: `NOT_A_CODE_${i}`, clientOrderId: `x.20260105T0935.${i}` } });
      metrics.observe({ type: 'order', time: '2026-01-05T14:35:00.000Z', signature: 'alpha', payload: { clientOrderId: `alpha.20260105T0935.${100 + i}`, status: `weird_${i}` } });
    }
    const text = await metrics.text();
    expect(text).not.toMatch(/20260105T0935/); // no client order id anywhere
    expect(text).not.toContain('@'); // no session id
    expect(text).not.toContain('intruder');
    expect(text).not.toContain('free text');
    expect(text).toContain('agent_trader_alerts_total{level="other",code="other"} 300');
    expect(text).toContain('agent_trader_risk_rejections_total{signature="other",reason="other"} 300');
    expect(text).toContain('agent_trader_orders_total{signature="alpha",status="other"} 300');

    const alertSeries = lines(text).filter((l) => l.startsWith('agent_trader_alerts_total{'));
    expect(alertSeries.length).toBeLessThanOrEqual(100 + 2);
    const reasons = [...text.matchAll(/reason="([^"]*)"/g)].map((m) => m[1]!);
    const allowed = new Set([...Object.keys(REASONS), 'none', 'other']);
    expect(reasons.filter((r) => !allowed.has(r))).toEqual([]);
  });

  it('follows Prometheus naming: prefix, snake_case, _total on counters, base units, label names', async () => {
    const metrics = new Metrics({ now: testClock().now });
    const ours = metrics.registry.getMetricsAsArray().filter((m) => m.name.startsWith(METRIC_PREFIX));
    expect(ours.length).toBeGreaterThanOrEqual(20);
    const json = await metrics.registry.getMetricsAsJSON();
    const typeOf = new Map(json.map((m) => [m.name, String(m.type)]));
    for (const metric of ours) {
      const name = metric.name;
      expect(name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/); // the exposition format's rule
      expect(name).toMatch(/^agent_trader_[a-z][a-z0-9]*(_[a-z0-9]+)*$/); // ours: snake_case, prefixed
      const type = typeOf.get(name);
      if (type === 'counter') expect(name).toMatch(/_total$/);
      else expect(name).not.toMatch(/_total$/);
      if (type === 'histogram') expect(name).toMatch(/_seconds$/);
      expect(name).not.toMatch(/_(ms|milliseconds|minutes|hours)(_|$)/);
      for (const label of (metric as unknown as { labelNames: string[] }).labelNames) {
        expect(label).toMatch(/^[a-z][a-z0-9_]*$/);
        expect(label).not.toMatch(/^__/);
        expect(['client_order_id', 'session_id', 'order_id', 'message']).not.toContain(label);
      }
    }
    // Process metrics come along on this registry (not the global one).
    expect(json.map((m) => m.name)).toEqual(expect.arrayContaining(['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']));
  });

  it('never throws into the event stream on a malformed event; the error is told', async () => {
    const errors: string[] = [];
    const metrics = new Metrics({ now: testClock().now, onError: (_e, where) => errors.push(where) });
    expect(() => metrics.observe({ type: 'fill', time: 'x', payload: null } as unknown as FeedEvent)).not.toThrow();
    metrics.observe({ type: 'order', time: 'x', payload: { status: 7, clientOrderId: ['x'] } });
    metrics.observe({ type: 'session', time: 'x', payload: { outcome: 'done' } });
    expect(errors).toEqual(['observe']);
    expect(await metrics.text()).toContain('# TYPE agent_trader_fills_total counter');
  });

  it('keeps two instances apart (own registries)', async () => {
    const a = new Metrics({ now: testClock().now });
    const b = new Metrics({ now: testClock().now });
    a.observe({ type: 'tick', time: '2026-01-05T14:35:00.000Z', payload: { market: 'cn' } });
    expect(await a.text()).toContain('agent_trader_ticks_total{market="cn"} 1');
    expect(await b.text()).not.toContain('agent_trader_ticks_total{market="cn"}');
  });
});

describe('LLM steps', () => {
  it('records latency and tokens per signature and model through the LlmObserver interface', async () => {
    const metrics = new Metrics({ now: testClock().now });
    const observer: LlmObserver = metrics;
    observer.observeLlmStep({ signature: 'alpha', model: 'gpt-4o', latencyMs: 1500, usage: { prompt: 1000, completion: 200 } });
    observer.observeLlmStep({ signature: 'alpha', model: 'gpt-4o', latencyMs: 700, usage: { prompt: 1100, completion: 50 } });
    observer.observeLlmStep({ signature: 'alpha', model: 'gpt-4o', latencyMs: 30_000, ok: false });
    const text = lines(await metrics.text());
    for (const line of [
      'agent_trader_llm_tokens_total{signature="alpha",model="gpt-4o",kind="prompt"} 2100',
      'agent_trader_llm_tokens_total{signature="alpha",model="gpt-4o",kind="completion"} 250',
      'agent_trader_llm_requests_total{signature="alpha",model="gpt-4o",result="ok"} 2',
      'agent_trader_llm_requests_total{signature="alpha",model="gpt-4o",result="error"} 1',
      'agent_trader_llm_request_duration_seconds_bucket{le="1",signature="alpha",model="gpt-4o"} 1',
      'agent_trader_llm_request_duration_seconds_bucket{le="2",signature="alpha",model="gpt-4o"} 2',
      'agent_trader_llm_request_duration_seconds_bucket{le="30",signature="alpha",model="gpt-4o"} 3',
      'agent_trader_llm_request_duration_seconds_sum{signature="alpha",model="gpt-4o"} 32.2',
      'agent_trader_llm_request_duration_seconds_count{signature="alpha",model="gpt-4o"} 3',
    ]) {
      expect(text).toContain(line);
    }
    expect(text.filter((l) => l.startsWith('agent_trader_llm_request_duration_seconds_bucket'))).toHaveLength(LLM_BUCKETS.length + 1);
  });
});

describe('gauges read at scrape time', () => {
  it('sets equity and cash per account from the state callback, current at each scrape, reading it once per scrape', async () => {
    let state: DashboardState = sampleState();
    let reads = 0;
    const metrics = new Metrics({
      now: testClock().now,
      state: async () => {
        reads += 1;
        return state;
      },
    });
    const first = lines(await metrics.text());
    expect(first).toContain('agent_trader_equity{signature="alpha",currency="USD"} 10120.5');
    expect(first).toContain('agent_trader_cash{signature="alpha",currency="USD"} 9000');
    expect(first).toContain('agent_trader_equity{signature="beta",currency="CNY"} 99999.994');
    expect(first).toContain('agent_trader_cash{signature="beta",currency="CNY"} 100000.005');
    expect(reads).toBe(1);

    state = { ...state, accounts: [{ ...state.accounts[0]!, cash: '8000.25', equity: '10300.75' }] };
    const second = lines(await metrics.text());
    expect(second).toContain('agent_trader_equity{signature="alpha",currency="USD"} 10300.75');
    expect(second).toContain('agent_trader_cash{signature="alpha",currency="USD"} 8000.25');
    expect(second.some((l) => l.includes('signature="beta"') && l.startsWith('agent_trader_equity'))).toBe(false);
    expect(reads).toBe(2);
  });

  it('reports quote lag, quote counts, health flags and feed clients from the health report', async () => {
    let health: HealthReport = {
      ...okHealth(),
      clock: { running: true, now: '2026-01-05T14:30:00.000Z' },
      quotes: { fresh: true, source: 'replay', connected: true, lastQuoteAt: '2026-01-05T14:29:57.500Z', quotes: 120, malformed: 2, failures: 1 },
      killSwitch: { active: false, signatures: [] },
    };
    const metrics = new Metrics({ now: testClock().now, health: () => health, feedStats: () => ({ clients: 3 }) });
    const first = lines(await metrics.text());
    for (const line of [
      'agent_trader_up 1',
      'agent_trader_clock_running 1',
      'agent_trader_broker_connected 1',
      'agent_trader_quotes_fresh 1',
      'agent_trader_kill_switch_active 0',
      'agent_trader_quote_lag_seconds 2.5',
      'agent_trader_quotes_total{source="replay"} 120',
      'agent_trader_quotes_malformed_total{source="replay"} 2',
      'agent_trader_quote_failures_total{source="replay"} 1',
      'agent_trader_feed_clients 3',
    ]) {
      expect(first).toContain(line);
    }

    health = { ...health, broker: { connected: false }, quotes: { ...health.quotes, quotes: 150 } };
    const second = lines(await metrics.text());
    expect(second).toContain('agent_trader_up 0');
    expect(second).toContain('agent_trader_broker_connected 0');
    expect(second).toContain('agent_trader_quotes_total{source="replay"} 150');

    // The feed's own count restarted (a reconnect built a new source): the counter keeps rising.
    health = { ...health, quotes: { ...health.quotes, quotes: 5 } };
    expect(lines(await metrics.text())).toContain('agent_trader_quotes_total{source="replay"} 155');

    // A failover chain keeps one count; what arrives after a switch goes to the new source.
    health = { ...health, quotes: { ...health.quotes, source: 'failover:tencent', quotes: 25 } };
    const third = lines(await metrics.text());
    expect(third).toContain('agent_trader_quotes_total{source="replay"} 155');
    expect(third).toContain('agent_trader_quotes_total{source="failover:tencent"} 20');
  });

  it('takes quote lag from the injected clock when the report carries no time', async () => {
    const clock = testClock();
    const metrics = new Metrics({ now: clock.now, health: () => ({ ...okHealth(), quotes: { fresh: true, source: 'alpaca', lastQuoteAt: new Date(EPOCH - 12_000).toISOString() } }) });
    expect(lines(await metrics.text())).toContain('agent_trader_quote_lag_seconds 12');
  });

  it('still answers when a callback throws: up is 0, the values are absent, and the error is told', async () => {
    const errors: string[] = [];
    const metrics = new Metrics({
      now: testClock().now,
      health: () => {
        throw new Error('boom');
      },
      state: () => Promise.reject(new Error('ledger closed')),
      onError: (_e, where) => errors.push(where),
    });
    const text = lines(await metrics.text());
    expect(text).toContain('agent_trader_up 0');
    expect(text.some((l) => l.startsWith('agent_trader_equity{'))).toBe(false);
    expect(text.some((l) => l.startsWith('agent_trader_quote_lag_seconds '))).toBe(false);
    expect(errors.sort()).toEqual(['health', 'state']);
  });
});

describe('GET /metrics on the HTTP server', () => {
  it('serves the exposition with the registry content type, with live feed clients', async () => {
    let server: RunningHttpServer | undefined;
    const metrics = new Metrics({ now: testClock().now, state: sampleState, health: okHealth, feedStats: () => server?.feed.stats() ?? { clients: 0 } });
    const h = await startHarness({ extraRoutes: metrics.metricsRoute() });
    server = h.server;
    h.events.subscribe((e) => metrics.observe(e));
    h.events.next({ type: 'alert', time: '2026-01-05T14:30:00.000Z', payload: { level: 'warning', code: 'STALE_QUOTE', message: 'old' } });
    const client = await FeedClient.connect(h.feedUrl);
    await client.next((e) => e.type === 'hello');

    const res = await fetch(`${h.server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.contentType);
    expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = lines(await res.text());
    expect(text).toContain('agent_trader_alerts_total{level="warning",code="STALE_QUOTE"} 1');
    expect(text).toContain('agent_trader_equity{signature="alpha",currency="USD"} 10120.5');
    expect(text).toContain('agent_trader_feed_clients 1');
    expect(text).toContain('# TYPE agent_trader_session_duration_seconds histogram');

    const head = await fetch(`${h.server.url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(`${h.server.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${h.server.url}/metricsx`)).status).toBe(404);
  });

  it('follows the /api rule when loopback is not trusted: 401 without the token, 200 with it', async () => {
    const metrics = new Metrics({ now: testClock().now });
    const h = await startHarness({ token: TOKEN, trustLoopback: false, extraRoutes: metrics.metricsRoute() });
    const refused = await fetch(`${h.server.url}/metrics`);
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain('agent_trader_');
    expect((await fetch(`${h.server.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);

    const open = new Metrics({ now: testClock().now });
    const h2 = await startHarness({ token: TOKEN, trustLoopback: false, extraRoutes: open.metricsRoute({ requireAuth: false }) });
    expect((await fetch(`${h2.server.url}/metrics`)).status).toBe(200);
  });
});

/**
 * The fake Alpaca (test/support/fake-alpaca) is only worth its tests if it speaks what Alpaca
 * speaks. Two checks:
 *
 * 1. Always: the wire shapes the official SDK `@alpacahq/alpaca-trade-api` 4.0.2 relies on, read
 *    from its source (src/streaming/tradingStream.ts, src/errors.ts, src/trading/models/*.ts):
 *    the stream's `authorization` reply with `data.status === "authorized"`, the `listening` reply
 *    with `data.streams`, `trade_updates` frames whose `data.order` is an object and whose
 *    `execution_id`, `price`, `qty`, `position_qty` are strings; the fields its `instanceOf*`
 *    guards require (Order: notional, time_in_force, type; Position: asset_class ... unrealized_plpc;
 *    LegacyClock; LegacyCalendarDay); errors as `{code, message}` with `Retry-After` and
 *    `X-RateLimit-Limit/Remaining/Reset` on a 429.
 * 2. When the SDK is installed (a devDependency; `ALPACA_SDK_MODULE` may name another copy of
 *    it): the SDK's own REST client and TradingStream against the fake, end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually } from '../support/eventually.js';
import { FakeAlpacaProcess } from '../support/fake-alpaca/process.js';

let fake: FakeAlpacaProcess;
beforeAll(async () => {
  fake = await FakeAlpacaProcess.start();
  await fake.price('AAPL', '270.25');
  await fake.price('MSFT', '500');
});
afterAll(async () => {
  await fake.stop();
});

const headers = () => ({ 'APCA-API-KEY-ID': fake.key, 'APCA-API-SECRET-KEY': fake.secret, 'content-type': 'application/json' });
const rest = (path: string, init: RequestInit = {}) => fetch(`${fake.baseUrl}${path}`, { ...init, headers: { ...headers(), ...(init.headers as Record<string, string>) } });

/** A raw stream client: every frame it got (JSON-decoded), and whether each was binary. */
async function rawStream(key = fake.key, secret = fake.secret) {
  const ws = new WebSocket(fake.streamUrl);
  const frames: { binary: boolean; json: Record<string, unknown> }[] = [];
  ws.on('message', (data, binary) => frames.push({ binary, json: JSON.parse(data.toString()) as Record<string, unknown> }));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ action: 'authenticate', data: { key_id: key, secret_key: secret } }));
  return { ws, frames };
}

describe('the fake Alpaca speaks the shapes the official SDK reads', () => {
  it('stream: authorization, listening (twice), then trade_updates in binary frames, as TradingStream.handleMessage expects', async () => {
    const { ws, frames } = await rawStream();
    ws.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
    ws.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
    await eventually(() => expect(frames).toHaveLength(3));
    expect(frames[0]).toEqual({ binary: true, json: { stream: 'authorization', data: { status: 'authorized', action: 'authenticate' } } });
    expect(frames[1]).toEqual({ binary: true, json: { stream: 'listening', data: { streams: ['trade_updates'] } } });
    expect(frames[2]).toEqual(frames[1]);
    const res = await rest('/v2/orders', { method: 'POST', body: JSON.stringify({ symbol: 'AAPL', qty: '3', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: 'conf.raw.1' }) });
    expect(res.status).toBe(200);
    await eventually(() => expect(frames).toHaveLength(5));
    const [created, filled] = [frames[3]!.json, frames[4]!.json] as { stream: string; data: Record<string, unknown> & { order: Record<string, unknown> } }[];
    expect(created!.stream).toBe('trade_updates');
    expect(created!.data.event).toBe('new');
    expect(typeof created!.data.order).toBe('object');
    expect(created!.data.order.client_order_id).toBe('conf.raw.1');
    expect(filled!.data).toMatchObject({ event: 'fill', price: '270.25', qty: '3', position_qty: '3', order: { status: 'filled', filled_qty: '3', filled_avg_price: '270.25' } });
    expect(typeof filled!.data.execution_id).toBe('string');
    expect(Number.isNaN(Date.parse(String(filled!.data.timestamp)))).toBe(false);
    ws.close();
  });

  it('stream: bad credentials get status unauthorized and the connection closes; a listen before auth is answered on the authorization stream', async () => {
    const { ws, frames } = await rawStream(fake.key, 'wrong');
    const closed = new Promise((r) => ws.once('close', r));
    await eventually(() => expect(frames).toHaveLength(1));
    expect(frames[0]!.json).toEqual({ stream: 'authorization', data: { status: 'unauthorized', action: 'authenticate' } });
    await closed;
    const early = new WebSocket(fake.streamUrl);
    const got: unknown[] = [];
    early.on('message', (d) => got.push(JSON.parse(d.toString())));
    await new Promise((r) => early.once('open', r));
    early.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
    await eventually(() => expect(got).toEqual([{ stream: 'authorization', data: { status: 'unauthorized', action: 'listen' } }]));
    early.close();
  });

  it('REST: orders, positions, clock and calendar carry the fields the SDK models require, decimals as strings', async () => {
    const order = (await (await rest('/v2/orders:by_client_order_id?client_order_id=conf.raw.1')).json()) as Record<string, unknown>;
    for (const k of ['id', 'client_order_id', 'notional', 'time_in_force', 'type', 'qty', 'filled_qty', 'filled_avg_price', 'status', 'symbol', 'side', 'created_at']) expect(order).toHaveProperty(k);
    expect(order).toMatchObject({ qty: '3', filled_qty: '3', time_in_force: 'day', type: 'market', order_class: 'simple' });
    const [position] = (await (await rest('/v2/positions')).json()) as Record<string, unknown>[];
    for (const k of ['asset_class', 'asset_id', 'asset_marginable', 'avg_entry_price', 'change_today', 'cost_basis', 'current_price', 'exchange', 'lastday_price', 'market_value', 'qty', 'side', 'symbol', 'unrealized_intraday_pl', 'unrealized_intraday_plpc', 'unrealized_pl', 'unrealized_plpc']) {
      expect(position).toHaveProperty(k);
    }
    expect(position).toMatchObject({ symbol: 'AAPL', qty: '3', side: 'long' });
    const clock = (await (await rest('/v2/clock')).json()) as Record<string, unknown>;
    expect(Object.keys(clock).sort()).toEqual(['is_open', 'next_close', 'next_open', 'timestamp']);
    const days = (await (await rest('/v2/calendar?start=2025-11-06&end=2025-11-10')).json()) as Record<string, unknown>[];
    expect(days.map((d) => d['date'])).toEqual(['2025-11-06', '2025-11-07', '2025-11-10']);
    expect(Object.keys(days[0]!).sort()).toEqual(['close', 'date', 'open', 'session_close', 'session_open', 'settlement_date']);
    const account = (await (await rest('/v2/account')).json()) as Record<string, unknown>;
    expect(account).toMatchObject({ status: 'ACTIVE', currency: 'USD' });
    expect(typeof account['cash']).toBe('string');
  });

  it('REST: a DELETE answers 204 with no body, errors are {code, message}, a 429 carries Retry-After and X-RateLimit-*', async () => {
    await fake.mode('manual');
    const placed = (await (await rest('/v2/orders', { method: 'POST', body: JSON.stringify({ symbol: 'MSFT', qty: '1', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: 'conf.raw.2' }) })).json()) as { id: string };
    const del = await rest(`/v2/orders/${placed.id}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(await del.text()).toBe('');
    await fake.mode('auto');
    const dup = await rest('/v2/orders', { method: 'POST', body: JSON.stringify({ symbol: 'MSFT', qty: '1', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: 'conf.raw.2' }) });
    expect([dup.status, await dup.json()]).toEqual([422, { code: 40010001, message: 'client_order_id must be unique' }]);
    const poor = await rest('/v2/orders', { method: 'POST', body: JSON.stringify({ symbol: 'MSFT', qty: '1000', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: 'conf.raw.3' }) });
    expect([poor.status, await poor.json()]).toEqual([403, { code: 40310000, message: 'insufficient buying power' }]);
    expect((await fetch(`${fake.baseUrl}/v2/account`)).status).toBe(401);
    await fake.fault('GET', '/v2/account', { kind: 'rate_limit', retryAfterSeconds: 3 });
    const limited = await rest('/v2/account');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(limited.headers.get('x-ratelimit-limit')).toBe('200');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('x-ratelimit-reset'))).toBeGreaterThan(1_700_000_000);
  });
});

// -------------------------------------------------------------------------------------------
// The official SDK against the fake (skipped, with a notice, when it is not installed)

// The SDK is optional here, so it is typed loosely: the assertions say what its values are.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Sdk = any;
const SDK_MODULE = process.env['ALPACA_SDK_MODULE'] ?? '@alpacahq/alpaca-trade-api';
const sdk: Sdk = await import(/* @vite-ignore */ SDK_MODULE).then(
  (m: unknown) => m,
  () => undefined,
);
if (!sdk) console.info(`alpaca-fake-conformance: ${SDK_MODULE} is not installed; the SDK half of the conformance test is skipped`);

describe.skipIf(!sdk)('the official SDK (@alpacahq/alpaca-trade-api 4.x) reads the fake', () => {
  const config = () => new sdk!.trading.Configuration({ basePath: fake.baseUrl, keyId: fake.key, secret: fake.secret, timeoutMs: 5_000 });

  it('places, finds (by id, by client order id, open list) and cancels orders; positions, account, clock, calendar and FILL activities parse', async () => {
    await fake.mode('manual');
    const orders = new sdk!.OrdersApi(config());
    const placed = await orders.market({ symbol: 'AAPL', qty: 2, side: 'buy', clientOrderId: 'conf.sdk.1' });
    expect(placed).toMatchObject({ clientOrderId: 'conf.sdk.1', qty: '2', status: 'new', symbol: 'AAPL', side: 'buy', type: 'market', timeInForce: 'day' });
    expect(sdk!.trading.instanceOfOrder(placed)).toBe(true);
    expect((await orders.getOrderByClientOrderId({ clientOrderId: 'conf.sdk.1' })).id).toBe(placed.id);
    expect((await orders.getOrderByOrderID({ orderId: placed.id! })).clientOrderId).toBe('conf.sdk.1');
    expect((await orders.getAllOrders({ status: 'open' })).map((o: { clientOrderId: string }) => o.clientOrderId)).toContain('conf.sdk.1');
    await orders.deleteOrderByOrderID({ orderId: placed.id! });
    expect((await orders.getOrderByClientOrderId({ clientOrderId: 'conf.sdk.1' })).status).toBe('canceled');
    await fake.mode('auto');
    const positions = await new sdk!.trading.PositionsApi(config()).getAllOpenPositions();
    expect(positions.map((p: { symbol: string; qty: string }) => [p.symbol, p.qty])).toEqual([['AAPL', '3']]);
    expect(sdk!.trading.instanceOfPosition(positions[0]!)).toBe(true);
    const account = await new sdk!.trading.AccountsApi(config()).getAccount();
    expect(account.status).toBe('ACTIVE');
    const clock = await new sdk!.trading.ClockApi(config()).legacyClock();
    expect(clock.timestamp).toBeInstanceOf(Date);
    expect(typeof clock.isOpen).toBe('boolean');
    const days = await new sdk!.trading.CalendarApi(config()).legacyCalendar({ start: new Date('2025-11-06T00:00:00Z'), end: new Date('2025-11-07T00:00:00Z') });
    expect(days.map((d: { open: string }) => d.open)).toEqual(['09:30', '09:30']);
    const fills = await new sdk!.trading.AccountActivitiesApi(config()).getAccountActivities({ activityTypes: ['FILL'] });
    expect(fills[0]).toMatchObject({ activityType: 'FILL', qty: '3', price: '270.25', cumQty: '3', symbol: 'AAPL' });
  });

  it('classes the fake errors as Alpaca errors: 401 AuthError, 403 PermissionError, 422 ValidationError 40010001, 404 NotFoundError, 429 RateLimitError with rate-limit info', async () => {
    const orders = new sdk!.OrdersApi(config());
    const caught = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as { status: number; code: number; message: string; retryAfterMs?: number; rateLimit?: { reset?: Date } });
    const bad = new sdk!.OrdersApi(new sdk!.trading.Configuration({ basePath: fake.baseUrl, keyId: fake.key, secret: 'nope' }));
    expect(await caught(bad.getAllOrders())).toBeInstanceOf(sdk!.AuthError);
    const poor = await caught(orders.market({ symbol: 'AAPL', qty: 100_000, side: 'buy', clientOrderId: 'conf.sdk.2' }));
    expect(poor).toBeInstanceOf(sdk!.PermissionError);
    expect([poor!.status, poor!.code, poor!.message]).toEqual([403, 40310000, 'insufficient buying power']);
    const dup = await caught(orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: 'conf.raw.1' }));
    expect(dup).toBeInstanceOf(sdk!.ValidationError);
    expect([dup!.status, dup!.code, dup!.message]).toEqual([422, 40010001, 'client_order_id must be unique']);
    expect(await caught(orders.getOrderByClientOrderId({ clientOrderId: 'nobody' }))).toBeInstanceOf(sdk!.NotFoundError);
    await fake.fault('GET', '/v2/orders', { kind: 'rate_limit', retryAfterSeconds: 2 });
    const limited = await caught(orders.getAllOrders());
    expect(limited).toBeInstanceOf(sdk!.RateLimitError);
    expect(limited!.retryAfterMs).toBe(2_000);
    expect(limited!.rateLimit).toMatchObject({ limit: 200, remaining: 0 });
    expect(limited!.rateLimit!.reset).toBeInstanceOf(Date);
  });

  it("TradingStream authenticates, confirms the trade_updates subscription and decodes the fake's binary updates", async () => {
    const stream = new sdk!.streaming.TradingStream({ credentials: { keyId: fake.key, secret: fake.secret }, url: fake.streamUrl, reconnect: false, pingIntervalMs: 0 });
    const subscriptions: unknown[] = [];
    const updates: { event: string; executionId?: string; price?: string; qty?: string; positionQty?: string; order: { clientOrderId?: string } }[] = [];
    const errors: string[] = [];
    stream.on(sdk!.streaming.EVENT.SUBSCRIPTION, (s: unknown) => subscriptions.push(s));
    stream.onTradeUpdate((u: (typeof updates)[number]) => updates.push(u));
    stream.onError((e: string) => errors.push(e));
    stream.subscribeTradeUpdates();
    stream.connect();
    expect(await stream.waitForAuthentication(5_000)).toBe(true);
    await eventually(() => expect(subscriptions).toEqual([['trade_updates']]));
    await new sdk!.OrdersApi(config()).market({ symbol: 'MSFT', qty: 1, side: 'buy', clientOrderId: 'conf.sdk.3' });
    await eventually(() => expect(updates.map((u) => u.event)).toEqual(['new', 'fill']));
    expect(updates[1]).toMatchObject({ price: '500', qty: '1', positionQty: '1', order: { clientOrderId: 'conf.sdk.3' } });
    expect(typeof updates[1]!.executionId).toBe('string');
    expect(errors).toEqual([]);
    stream.disconnect();

    const refused = new sdk!.streaming.TradingStream({ credentials: { keyId: fake.key, secret: 'wrong' }, url: fake.streamUrl, reconnect: false, pingIntervalMs: 0 });
    refused.onError(() => {});
    refused.connect();
    expect((await refused.waitForAuthenticationResult(5_000)).status).toBe(sdk!.streaming.STREAM_AUTH_STATUS.SERVER_REJECTED);
  });
});

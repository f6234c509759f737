/**
 * The pure parts of the Futu adapter: the status table, the number rules (doubles to decimal
 * strings), the symbol table, the error classes, and the settings built from the config.
 */
import { describe, expect, it } from 'vitest';
import { BrokerSchema } from '../../src/config/schema.js';
import { classify, futuError, refusalReason } from '../../src/actors/brokers/futu/errors.js';
import { futuSettings } from '../../src/actors/brokers/futu/settings.js';
import { fromFutu, toFutu } from '../../src/actors/brokers/futu/symbols.js';
import { avgPriceOf, buyingPowerOf, cashOf, ORDER_STATUS, orderState, priceOf, sharesOf, timeOf, toBrokerPosition, toVenueFill } from '../../src/actors/brokers/futu/wire.js';
import { VenueHalted, VenueRefused, VenueUnavailable } from '../../src/actors/brokers/venue-adapter.js';

describe('Futu order statuses', () => {
  it('every status of Trd_Common.OrderStatus has a row; unknown future ones stay non-terminal', () => {
    const documented = [0, -1, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 21, 22, 23, 24];
    expect(Object.keys(ORDER_STATUS).map(Number).sort((a, b) => a - b)).toEqual([...documented].sort((a, b) => a - b));
    expect(documented.map((s) => [s, orderState(s)])).toEqual([
      [0, 'pending'], [-1, 'pending'], [1, 'pending'], [2, 'pending'], [3, 'rejected'], [4, 'pending'], [5, 'open'], [10, 'open'], [11, 'filled'],
      [12, 'cancelling'], [13, 'cancelling'], [14, 'cancelled'], [15, 'cancelled'], [21, 'rejected'], [22, 'expired'], [23, 'cancelled'], [24, 'rejected'],
    ]);
    expect(orderState(99)).toBe('pending');
  });
});

describe('Futu numbers', () => {
  it('prices: the shortest decimal of the double, 3 decimals half-even; averages kept as they are', () => {
    expect(priceOf(10.01)).toBe('10.01');
    expect(priceOf(0.1 + 0.2)).toBe('0.3');
    expect(priceOf(10.010000000000002)).toBe('10.01');
    expect(priceOf(1500)).toBe('1500');
    expect(priceOf(2.0005)).toBe('2');
    expect(avgPriceOf(10.016666666666667)).toBe('10.016666666666667');
    expect(avgPriceOf(1e-7)).toBe('0.0000001');
  });

  it('cash half-up to the cent; buying power down to the cent; shares whole', () => {
    expect(cashOf(100000.1 + 0.2, 'CN')).toBe('100000.3');
    expect(cashOf(1234.565, 'HK')).toBe('1234.57');
    expect(buyingPowerOf(1234.569, 'US')).toBe('1234.56');
    expect(buyingPowerOf(-0.001, 'US')).toBe('0');
    expect(sharesOf(99.99999999)).toBe(100);
    expect(sharesOf(10.5)).toBe(10);
    expect(sharesOf(-1)).toBe(0);
  });

  it('times: the timestamp (seconds) when there is one, else the text in the market zone', () => {
    expect(timeOf(1762480800.123, '2025-11-07 10:00:00', 'CN')).toBe(1762480800123);
    expect(timeOf(undefined, '2025-11-07 10:00:00.123', 'CN')).toBe(Date.UTC(2025, 10, 7, 2, 0, 0, 123));
    expect(timeOf(undefined, '2025-11-07 09:30:00', 'US')).toBe(Date.UTC(2025, 10, 7, 14, 30, 0));
    expect(timeOf(undefined, 'garbage', 'HK')).toBeUndefined();
  });

  it('fills that were cancelled are not fills; shorts are not positions', () => {
    const f = { trdSide: 1, fillID: '1', orderID: '2', code: '600519', qty: 100, price: 10, createTime: '2025-11-07 10:00:00', secMarket: 31 };
    expect(toVenueFill({ ...f, status: 1 }, 'CN')).toBeUndefined();
    expect(toVenueFill({ ...f, status: 0 }, 'CN')).toMatchObject({ fillId: '1', brokerOrderId: '2', quantity: 100, price: '10' });
    expect(toBrokerPosition({ positionSide: 1, code: 'AAPL', qty: 5, canSellQty: 5 }, 'US')).toBeUndefined();
    expect(toBrokerPosition({ positionSide: 0, code: 'AAPL', qty: 5, canSellQty: 7 }, 'US')).toEqual({ symbol: 'AAPL', quantity: 5, sellable: 5 });
  });
});

describe('Futu symbols', () => {
  it('the table both ways', () => {
    expect(toFutu('600519.SH')).toEqual({ code: '600519', secMarket: 31 });
    expect(toFutu('000001.SZ')).toEqual({ code: '000001', secMarket: 32 });
    expect(toFutu('00700.HK')).toEqual({ code: '00700', secMarket: 1 });
    expect(toFutu('AAPL')).toEqual({ code: 'AAPL', secMarket: 2 });
    expect(toFutu('BRK.B')).toEqual({ code: 'BRK.B', secMarket: 2 });
    expect(toFutu('700.HK')).toBeUndefined();
    expect(toFutu('600519.BJ')).toBeUndefined();
    expect(fromFutu('600519', 31, 'CN')).toBe('600519.SH');
    expect(fromFutu('000001', 32, 'HKCC')).toBe('000001.SZ');
    expect(fromFutu('00700', 1, 'HK')).toBe('00700.HK');
    expect(fromFutu('AAPL', 2, 'US')).toBe('AAPL');
    // no secMarket (an older OpenD): the account's market, and the A-share code's first digit
    expect(fromFutu('688981', undefined, 'CN')).toBe('688981.SH');
    expect(fromFutu('300750', undefined, 'CN')).toBe('300750.SZ');
    expect(fromFutu('00700', undefined, 'HK')).toBe('00700.HK');
  });
});

describe('Futu errors', () => {
  it('classes by retType, cmd and words', () => {
    expect(classify({ cmd: 'InitWebSocket', retType: -1 })).toBe('halt');
    expect(classify({ cmd: 'Trd_UnlockTrade', retType: -1, retMsg: 'wrong' })).toBe('halt');
    expect(classify({ cmd: 'Trd_PlaceOrder', retType: -1, retMsg: '请先解锁交易' })).toBe('halt');
    expect(classify({ cmd: 'Trd_PlaceOrder', retType: -1, retMsg: 'Insufficient buying power' })).toBe('refused');
    expect(classify({ cmd: 'Trd_PlaceOrder', retType: -500 })).toBe('refused');
    expect(classify({ cmd: 'Trd_PlaceOrder', retType: -100 })).toBe('unknown');
    expect(classify({ cmd: 'Trd_PlaceOrder', retType: -200 })).toBe('unknown');
    expect(classify({ cmd: 'Trd_PlaceOrder', retType: -7 })).toBe('unknown');
    expect(classify({ cmd: 'Trd_PlaceOrder', headerError: 3, retType: -1 })).toBe('unknown');
    expect(classify({ cmd: 'Trd_GetOrderList', retType: -1 })).toBe('throttled');
    expect(classify({ cmd: 'Trd_ModifyOrder', retType: -1, retMsg: 'too frequent' })).toBe('throttled');
    expect(futuError({ cmd: 'Trd_PlaceOrder', retType: -1, retMsg: '购买力不足' })).toBeInstanceOf(VenueRefused);
    expect(futuError({ cmd: 'Trd_GetFunds', retType: -1 })).toMatchObject({ outcomeKnown: true });
    expect(futuError({ cmd: 'Trd_PlaceOrder', retType: -100 })).toBeInstanceOf(VenueUnavailable);
    expect(futuError({ cmd: 'InitWebSocket', headerError: 1, headerMsg: 'bad key' })).toBeInstanceOf(VenueHalted);
    expect(refusalReason('可卖数量不足')).toBe('INSUFFICIENT_POSITION');
    expect(refusalReason('something else')).toBe('BROKER_REJECTED');
  });
});

describe('broker.futu settings', () => {
  const parse = (broker: Record<string, unknown>) => BrokerSchema.parse(broker);

  it('defaults, paper -> simulate, the url, the key read from the variable named', () => {
    const b = parse({ type: 'futu', futu: { trd_market: 'CN', websocket_key_env: 'FUTU_WS_KEY' } });
    expect(b.futu).toEqual({ host: '127.0.0.1', websocket_port: 33333, tls: false, websocket_key_env: 'FUTU_WS_KEY', trd_market: 'CN', request_timeout_seconds: 10, keep_alive_seconds: 10 });
    expect(futuSettings(b, { FUTU_WS_KEY: 'k' })).toEqual({ url: 'ws://127.0.0.1:33333', websocketKey: 'k', trdEnv: 0, market: 'CN', accountId: undefined, tradePassword: undefined, requestTimeoutMs: 10_000, keepAliveIntervalMs: 10_000 });
  });

  it('real env needs the trade password variable; errors name the variable, never a value', () => {
    const b = parse({ type: 'futu', paper: false, password_env: 'FUTU_PWD', account_id: '281756479845123456', futu: { trd_market: 'HKCC', tls: true, host: 'opend.lan', keep_alive_seconds: 0 } });
    expect(futuSettings(b, { FUTU_PWD: 'secret-123' })).toMatchObject({ url: 'wss://opend.lan:33333', trdEnv: 1, tradePassword: 'secret-123', accountId: '281756479845123456', keepAliveIntervalMs: false });
    expect(() => futuSettings(b, {})).toThrow(/FUTU_PWD is not set/);
    const noPwd = parse({ type: 'futu', paper: false, futu: { trd_market: 'US' } });
    expect(() => futuSettings(noPwd, {})).toThrow(/broker.password_env must name/);
    expect(() => futuSettings(parse({ type: 'futu' }), {})).toThrow(/broker.futu is required/);
    expect(() => parse({ type: 'futu', futu: { trd_market: 'JP' } })).toThrow();
    expect(() => parse({ type: 'futu', futu: { trd_market: 'CN', websocket_port: 70000 } })).toThrow();
  });
});

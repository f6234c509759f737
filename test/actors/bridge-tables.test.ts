/**
 * The bridge's tables on their own (pure, no process): the terminals' time forms, status and
 * operation words, codes and markets, refusal sentences and Python error classes, and the
 * `broker.bridge` settings.
 */
import { describe, expect, it } from 'vitest';
import { BridgeBrokerSchema, bridgeSettings } from '../../src/actors/brokers/bridge/settings.js';
import { buyErrorKind, refusalReason, splitPythonError } from '../../src/actors/brokers/bridge/errors.js';
import { bridgeDate, bridgeTime } from '../../src/actors/brokers/bridge/times.js';
import { parseBridgeCode, sideOf, venueState } from '../../src/actors/brokers/bridge/words.js';
import type { BrokerConfig } from '../../src/config/schema.js';
import { BrokerSchema } from '../../src/config/schema.js';

const AT = Date.UTC(2025, 10, 7, 1, 31, 2); // 2025-11-07 09:31:02 Shanghai
const DAY = '2025-11-07';

describe('bridge times', () => {
  it.each([
    ['09:31:02', AT],
    ['9:31:02', AT],
    ['093102', AT],
    [93102, AT],
    ['2025-11-07 09:31:02', AT],
    ['20251107 09:31:02', AT],
    ['2025/11/07 09:31:02', AT],
    ['20251107093102', AT],
    [20251107093102, AT],
    [AT / 1000, AT], // miniQMT: epoch seconds
    [AT, AT],
    ['09:31:02.250', AT + 250],
  ])('%s -> the instant in Shanghai', (raw, at) => {
    expect(bridgeTime(raw, DAY)).toBe(at);
  });

  it.each(['noon', '25:00:00', '', '09:61:00', null, true])('%s is no time', (raw) => {
    expect(bridgeTime(raw, DAY)).toBeUndefined();
  });

  it('a time of day is read on the day given (a date column or today)', () => {
    expect(bridgeTime('09:31:02', '2025-11-10')).toBe(AT + 3 * 86_400_000);
    expect([bridgeDate('20251110'), bridgeDate(20251110), bridgeDate('2025-11-10'), bridgeDate('20251332')]).toEqual(['2025-11-10', '2025-11-10', '2025-11-10', undefined]);
  });
});

describe('bridge words', () => {
  it.each([
    ['已报', 'open'],
    ['未成交', 'open'],
    ['部成', 'open'],
    ['部分成交', 'open'],
    ['已成', 'filled'],
    ['全部成交', 'filled'],
    ['已撤', 'cancelled'],
    ['已撤单', 'cancelled'],
    ['部撤', 'cancelled'],
    ['部分撤单', 'cancelled'],
    ['废单', 'rejected'],
    ['废单:资金不足', 'rejected'],
    ['已报待撤', 'cancelling'],
    ['部成待撤', 'cancelling'],
    ['未报', 'pending'],
    ['待报', 'pending'],
    ['57', 'rejected'],
    ['56', 'filled'],
  ])('status %s -> %s', (word, state) => {
    expect(venueState(word, 100, 0)).toEqual({ state, known: true });
  });

  it('a status word no table knows is never a terminal guess, unless all is filled', () => {
    expect(venueState('神秘状态', 100, 50)).toEqual({ state: 'open', known: false });
    expect(venueState('神秘状态', 100, 100)).toEqual({ state: 'filled', known: false });
  });

  it.each([
    ['买入', 'buy'],
    ['证券买入', 'buy'],
    ['融资买入', 'buy'],
    ['23', 'buy'],
    ['卖出', 'sell'],
    ['证券卖出', 'sell'],
    ['24', 'sell'],
    ['撤买', null],
    ['新股申购', null],
    ['???', undefined],
  ])('operation %s -> %s', (word, side) => {
    expect(sideOf(word)).toBe(side);
  });

  it.each([
    ['600519', undefined, '600519.SH'],
    ['1', undefined, '000001.SZ'], // a code column parsed as a number
    ['300750', undefined, '300750.SZ'],
    ['688981', undefined, '688981.SH'],
    ['510300', undefined, '510300.SH'],
    ['159919', undefined, '159919.SZ'],
    ['430047', undefined, '430047.BJ'],
    ['920001', undefined, '920001.BJ'],
    ['600519.SH', undefined, '600519.SH'],
    ['SZ000001', undefined, '000001.SZ'],
    ['000001', '深圳A股', '000001.SZ'],
    ['900901', '沪B', '900901.SH'],
  ])('code %s (market %s) -> %s', (raw, market, symbol) => {
    const c = parseBridgeCode(raw, market);
    expect(c && `${c.code}.${c.exchange}`).toBe(symbol);
  });
});

describe('bridge refusals', () => {
  it.each([
    ['可用资金不足', 'INSUFFICIENT_CASH'],
    ['[251005][资金不足]', 'INSUFFICIENT_CASH'],
    ['可用股份不足', 'INSUFFICIENT_POSITION'],
    ['股份不足', 'INSUFFICIENT_POSITION'],
    ['委托数量必须是100股的整数倍', 'LOT_SIZE'],
    ['委托价格超出涨停价格1760.00', 'PRICE_LIMIT'],
    ['价格超出跌停', 'PRICE_LIMIT'],
    ['[251005][非交易时间，不能委托]', 'MARKET_CLOSED'],
    ['当前时间不允许此类证券交易', 'MARKET_CLOSED'],
    ['客户风险等级不符', 'BROKER_REJECTED'],
  ])('%s -> %s', (message, reason) => {
    expect(refusalReason(message)).toBe(reason);
  });

  it("reads easytrader's error: the Python class decides what a 400 on /buy means", () => {
    expect(splitPythonError("<class 'easytrader.exceptions.TradeError'>: 可用资金不足")).toEqual({ pythonClass: 'easytrader.exceptions.TradeError', message: '可用资金不足' });
    expect(buyErrorKind("<class 'easytrader.exceptions.TradeError'>: 可用资金不足")).toBe('refused');
    expect(buyErrorKind("<class 'KeyError'>: 'user'")).toBe('not_prepared');
    expect(buyErrorKind("<class 'pywinauto.timings.TimeoutError'>: timed out")).toBe('uncertain');
    expect(buyErrorKind('资金不足')).toBe('refused');
  });
});

describe('broker.bridge settings', () => {
  const broker = (over: Record<string, unknown> = {}): BrokerConfig => BrokerSchema.parse({ type: 'bridge', account_id: '880001', password_env: 'BRIDGE_PW', ...over });

  it('defaults: localhost:1430, universal_client, prepare, 10 s; the config schema knows broker.type bridge', () => {
    expect(BridgeBrokerSchema.parse({})).toEqual({ url: 'http://127.0.0.1:1430', client: 'universal_client', prepare: true, request_timeout_seconds: 10 });
    expect(bridgeSettings(broker({ bridge: { exe_path: 'C:\\ths\\xiadan.exe', token_env: 'BRIDGE_TOKEN', comm_password_env: 'BRIDGE_COMM' } }), { BRIDGE_PW: 'pw', BRIDGE_TOKEN: 'tok', BRIDGE_COMM: 'comm' })).toEqual({
      baseUrl: 'http://127.0.0.1:1430',
      client: 'universal_client',
      token: 'tok',
      login: { user: '880001', password: 'pw', exePath: 'C:\\ths\\xiadan.exe', commPassword: 'comm', miniqmtPath: undefined },
      requestTimeoutMs: 10_000,
    });
  });

  it('prepare: false reads no password and sends no login', () => {
    expect(bridgeSettings(broker({ bridge: { prepare: false } }), {}).login).toBeUndefined();
  });

  it('errors name the variable, never a value', () => {
    expect(() => bridgeSettings(broker(), {})).toThrow(/BRIDGE_PW is not set \(named by broker.password_env\)/);
    expect(() => bridgeSettings(broker({ bridge: { client: 'miniqmt' } }), { BRIDGE_PW: 'pw' })).toThrow(/miniqmt_path/);
    expect(() => BrokerSchema.parse({ type: 'bridge', bridge: { token_env: 'not a name' } })).toThrow(/NAME of an environment variable/);
    expect(() => BrokerSchema.parse({ type: 'bridge', bridge: { client: 'xq' } })).toThrow(/universal_client/);
  });
});

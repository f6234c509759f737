/**
 * `broker.eastmoney` -> the adapter's settings, behind two acknowledgements (config and
 * environment); the gate's problems name the field or the variable, never a value. And the
 * adapter's pure tables: symbols, status words, refusal sentences, the pre-send check.
 */
import { describe, expect, it } from 'vitest';
import { checkOrder, fromEastMoney, toEastMoney, venueState, WTZT_STATES } from '../../src/actors/brokers/eastmoney/adapter.js';
import { EASTMONEY_ACK_ENV, EASTMONEY_ACK_VALUE, eastmoneyGateProblems, eastmoneySettings } from '../../src/actors/brokers/eastmoney/settings.js';
import { parseConfig } from '../../src/config/load.js';
import { InputError } from '../../src/domain/errors.js';

const models = [{ name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }];
const risk_control = { live_ramp: { start_cap: 1000, growth_per_trading_day: 250, max: 10000 } };
const config = (eastmoney: Record<string, unknown> | undefined, broker: Record<string, unknown> = {}, mode = 'live') =>
  parseConfig(
    { mode, market: 'cn', data_source: { type: 'replay', bars_file: 'data/sample/cn_hourly.jsonl' }, broker: { type: 'eastmoney', paper: false, ...(eastmoney ? { eastmoney } : {}), ...broker }, risk_control, models },
    'test',
  );

const COOKIE = 'Uid=E81BJcVMRT24SeddAK; Khmc=secretname; Uuid=52c74f76dfa84ff68296d0696de5f57f';
const KEY = 'c1bb5b40-d40c-4c6d-a634-ae549b5a8580';
const env = { [EASTMONEY_ACK_ENV]: EASTMONEY_ACK_VALUE, EASTMONEY_COOKIE: COOKIE, EASTMONEY_VALIDATEKEY: KEY };
const ACK = { acknowledge_unofficial: true };

describe('eastmoneySettings', () => {
  it('read-only by default: the session from the named variables, the site, a 10 s deadline, no caps', () => {
    expect(eastmoneySettings(config(ACK).broker, env)).toEqual({
      baseUrl: 'https://jywg.18.cn',
      cookie: COOKIE,
      validatekey: KEY,
      trading: false,
      maxOrderShares: undefined,
      maxOrderValue: undefined,
      requestTimeoutMs: 10_000,
    });
  });

  it('trading with caps, other variables, another base URL', () => {
    const c = config({ ...ACK, trading: true, max_order_shares: 1_000, max_order_value: 50_000.5, cookie_env: 'MY_COOKIE', validatekey_env: 'MY_KEY', base_url: 'http://127.0.0.1:9/', request_timeout_seconds: 2.5 });
    expect(eastmoneySettings(c.broker, { [EASTMONEY_ACK_ENV]: EASTMONEY_ACK_VALUE, MY_COOKIE: ` ${COOKIE} `, MY_KEY: KEY })).toEqual({
      baseUrl: 'http://127.0.0.1:9',
      cookie: COOKIE,
      validatekey: KEY,
      trading: true,
      maxOrderShares: 1_000,
      maxOrderValue: '50000.5',
      requestTimeoutMs: 2_500,
    });
  });

  it('refuses with every gate problem, naming fields and variables, never a value', () => {
    const err = (() => {
      try {
        eastmoneySettings(config(undefined).broker, { [EASTMONEY_ACK_ENV]: 'yes please', EASTMONEY_COOKIE: COOKIE });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InputError);
    const problems = (err as InputError).problems;
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^broker\.eastmoney\.acknowledge_unofficial is not true/);
    expect(problems[1]).toMatch(/^AGENT_TRADER_EASTMONEY is not I_ACCEPT_UNOFFICIAL_API/);
    expect(problems[2]).toMatch(/^environment variable EASTMONEY_VALIDATEKEY \(named by broker\.eastmoney\.validatekey_env\) is not set/);
    for (const p of [(err as Error).message, ...problems]) {
      expect(p).not.toContain('yes please');
      expect(p).not.toContain('E81BJcVMRT24SeddAK');
    }
  });
});

describe('eastmoneyGateProblems', () => {
  const CASES: readonly { readonly what: string; readonly eastmoney?: Record<string, unknown>; readonly broker?: Record<string, unknown>; readonly env: Record<string, string>; readonly mode?: string; readonly problems: readonly RegExp[] }[] = [
    { what: 'both acknowledgements and a session', eastmoney: ACK, env, problems: [] },
    { what: 'no config acknowledgement', eastmoney: {}, env, problems: [/^broker\.eastmoney\.acknowledge_unofficial is not true/] },
    { what: 'no broker.eastmoney block', env, problems: [/^broker\.eastmoney\.acknowledge_unofficial is not true/] },
    { what: 'no environment acknowledgement', eastmoney: ACK, env: { EASTMONEY_COOKIE: COOKIE, EASTMONEY_VALIDATEKEY: KEY }, problems: [/^AGENT_TRADER_EASTMONEY is not set; set AGENT_TRADER_EASTMONEY=I_ACCEPT_UNOFFICIAL_API/] },
    { what: 'a wrong environment acknowledgement', eastmoney: ACK, env: { ...env, [EASTMONEY_ACK_ENV]: 'I_UNDERSTAND' }, problems: [/^AGENT_TRADER_EASTMONEY is not I_ACCEPT_UNOFFICIAL_API/] },
    { what: 'an empty cookie', eastmoney: ACK, env: { ...env, EASTMONEY_COOKIE: '  ' }, problems: [/^environment variable EASTMONEY_COOKIE \(named by broker\.eastmoney\.cookie_env\) is empty/] },
    { what: 'a cookie with a line break', eastmoney: ACK, env: { ...env, EASTMONEY_COOKIE: `${COOKIE}\r\nX-Evil: 1` }, problems: [/EASTMONEY_COOKIE .* holds a line break/] },
    {
      what: 'trading without caps',
      eastmoney: { ...ACK, trading: true },
      env,
      problems: [/max_order_shares is not set/, /max_order_value is not set/],
    },
    { what: 'not live mode: not used, no problem', eastmoney: {}, broker: { paper: true }, mode: 'paper', env: {}, problems: [] },
  ];
  it.each(CASES)('$what', ({ eastmoney, broker, env: e, mode, problems }) => {
    const c = config(eastmoney, broker ?? {}, mode ?? 'live');
    const got = eastmoneyGateProblems(c, e);
    expect(got).toHaveLength(problems.length);
    problems.forEach((p, i) => expect(got[i]).toMatch(p));
    for (const line of got) {
      expect(line).not.toContain('E81BJcVMRT24SeddAK');
      expect(line).not.toContain(KEY);
      expect(line).not.toContain('X-Evil');
    }
  });

  it('broker.eastmoney refuses unknown keys, acknowledge_unofficial false and bad caps', () => {
    const problems = (eastmoney: Record<string, unknown>) => {
      try {
        config(eastmoney);
        return [];
      } catch (e) {
        return (e as InputError).problems;
      }
    };
    expect(problems({ cookie: 'Uid=1' })[0]).toMatch(/^broker\.eastmoney\.cookie: /);
    expect(problems({ acknowledge_unofficial: false })[0]).toMatch(/^broker\.eastmoney\.acknowledge_unofficial: expected true/);
    expect(problems({ max_order_shares: 0 })[0]).toMatch(/^broker\.eastmoney\.max_order_shares: expected a whole number of shares >= 1/);
    expect(problems({ max_order_value: -1 })[0]).toMatch(/^broker\.eastmoney\.max_order_value: expected an amount of CNY > 0/);
    expect(problems({ cookie_env: 'lower' })[0]).toMatch(/^broker\.eastmoney\.cookie_env: expected the name of an environment variable/);
  });
});

describe('the adapter tables', () => {
  it('symbols: 600519.SH <-> 600519 HA, 000001.SZ <-> SA; nothing else is routed', () => {
    expect(toEastMoney('600519.SH')).toEqual({ code: '600519', market: 'HA' });
    expect(toEastMoney('000001.SZ')).toEqual({ code: '000001', market: 'SA' });
    expect(toEastMoney('430047.BJ')).toBeUndefined();
    expect(toEastMoney('AAPL')).toBeUndefined();
    expect(fromEastMoney('600519', 'HA')).toBe('600519.SH');
    expect(fromEastMoney('000001', 'SA')).toBe('000001.SZ');
    expect(fromEastMoney('430047', 'B')).toBe('430047.BJ');
    expect(fromEastMoney('688981')).toBe('688981.SH');
    expect(fromEastMoney('300750')).toBe('300750.SZ');
  });

  it('status words -> states; an unknown word is open (never terminal on a guess)', () => {
    expect(Object.entries(WTZT_STATES).filter(([, s]) => ['filled', 'cancelled', 'rejected', 'expired'].includes(s)).map(([w]) => w)).toEqual(['已成', '已撤', '部撤', '废单']);
    expect(venueState('已报')).toBe('open');
    expect(venueState('未报')).toBe('pending');
    expect(venueState('已报待撤')).toBe('cancelling');
    expect(venueState('某种新状态')).toBe('open');
  });

  it('checkOrder: trading, limit only, whole shares, the caps', () => {
    const limits = { trading: true, maxOrderShares: 1_000, maxOrderValue: '100000' };
    const o = { symbol: '600519.SH', side: 'buy', quantity: 100, type: 'limit', limitPrice: '1000.00' } as const;
    expect(checkOrder(o, limits)).toBeUndefined();
    expect(checkOrder(o, { ...limits, trading: false })?.reason).toBe('BROKER_REJECTED');
    expect(checkOrder({ ...o, limitPrice: '1000.01' }, limits)?.reason).toBe('MAX_ORDER_NOTIONAL');
    expect(checkOrder({ ...o, quantity: 1_100, limitPrice: '1.00' }, limits)?.reason).toBe('MAX_ORDER_NOTIONAL');
    expect(checkOrder({ ...o, quantity: 1.5 }, limits)?.reason).toBe('INVALID_ORDER');
    expect(checkOrder({ ...o, limitPrice: '0' }, limits)?.reason).toBe('INVALID_ORDER');
    expect(checkOrder({ ...o, type: 'market', limitPrice: undefined }, limits)?.reason).toBe('BROKER_REJECTED');
    expect(checkOrder(o, { trading: true })?.message).toMatch(/needs broker\.eastmoney\.max_order_shares and max_order_value/);
  });
});

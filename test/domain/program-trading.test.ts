import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { actionsToday, capExceeded, crossings, emptyTally, inLastSecond, record, rollTo } from '../../src/domain/risk/program-trading.js';

const caps = { maxPerSecond: 3, maxPerDay: 10 };
const T = Date.UTC(2025, 10, 7, 2, 0, 0);

describe("China's program-trading caps on an account's orders + cancels", () => {
  it('counts orders and cancels per second (a sliding second) and per day', () => {
    let t = emptyTally('2025-11-07');
    t = record(t, 'order', T, '2025-11-07');
    t = record(t, 'cancel', T + 400, '2025-11-07');
    t = record(t, 'order', T + 900, '2025-11-07');
    expect(inLastSecond(t, T + 900)).toBe(3);
    expect(inLastSecond(t, T + 1000)).toBe(2);
    expect(t.today).toEqual({ orders: 2, cancels: 1, maxPerSecond: 3 });
    expect(actionsToday(t)).toBe(3);
  });

  it('refuses the order that would pass the per-second cap, then the daily one, naming the exchange line', () => {
    let t = emptyTally('2025-11-07');
    for (let i = 0; i < 3; i++) t = record(t, 'order', T + i, '2025-11-07');
    expect(capExceeded(t, caps, T + 10, '2025-11-07')).toMatchObject({ value: '4/s', limit: '3/s' });
    expect(capExceeded(t, caps, T + 10, '2025-11-07')!.message).toContain('300/s');
    // A second later the per-second window is clear.
    expect(capExceeded(t, caps, T + 1010, '2025-11-07')).toBeUndefined();
    for (let i = 0; i < 7; i++) t = record(t, 'cancel', T + 2000 * (i + 1), '2025-11-07');
    expect(capExceeded(t, caps, T + 60_000, '2025-11-07')).toMatchObject({ value: '11/day', limit: '10/day' });
    // The next day starts from zero; the day before is kept for the compliance report.
    const next = rollTo(t, '2025-11-10');
    expect(capExceeded(next, caps, T + 86_400_000 * 3, '2025-11-10')).toBeUndefined();
    expect(next.days['2025-11-07']).toEqual({ orders: 3, cancels: 7, maxPerSecond: 3 });
  });

  it('alerts at 50% and 80% of the daily cap and on a high cancel ratio, each once a day', () => {
    let t = emptyTally('2025-11-07');
    const seen: string[] = [];
    const step = (action: 'order' | 'cancel', i: number) => {
      t = record(t, action, T + i * 5000, '2025-11-07');
      for (const c of crossings(t, { maxPerSecond: 100, maxPerDay: 100 })) {
        seen.push(`${c.code}@${actionsToday(t)}`);
        t = { ...t, alerted: [...t.alerted, c.key] };
      }
    };
    for (let i = 0; i < 20; i++) step('order', i);
    for (let i = 20; i < 85; i++) step(i % 3 === 0 ? 'order' : 'cancel', i);
    expect(seen).toEqual(['CANCEL_RATIO_HIGH@41', 'PROGRAM_TRADING_RATE@50', 'PROGRAM_TRADING_RATE@80']);
  });

  it('keeps the configured caps below the thresholds: the config refuses 300/s and 20,000/day', () => {
    const base = { mode: 'paper', market: 'cn', data_source: { type: 'sina', symbols: ['600519.SH'] }, models: [{ name: 'a', signature: 'a', agent: { kind: 'rules', strategy: 'equal_weight' } }] };
    expect(parseConfig(base, 't').risk_control.program_trading).toEqual({ max_actions_per_second: 20, max_actions_per_day: 5000 });
    const problems = (config: unknown) => {
      try {
        parseConfig(config, 't');
      } catch (e) {
        return (e as { problems: string[] }).problems.join('\n');
      }
      return 'accepted';
    };
    expect(problems({ ...base, risk_control: { program_trading: { max_actions_per_second: 300 } } })).toMatch(/max_actions_per_second.*1 to 299.*high-frequency/);
    expect(problems({ ...base, risk_control: { program_trading: { max_actions_per_day: 20000 } } })).toMatch(/max_actions_per_day.*1 to 19999/);
  });
});

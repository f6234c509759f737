/** The pure parts of the control layer: what a flatten sells, what a reload may apply, who asked. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { planFlatten, planReload, whoText } from '../../src/domain/control.js';
import { dec } from '../../src/domain/money.js';
import type { Account } from '../../src/domain/portfolio.js';

const position = (lots: { date: string; quantity: number }[]) => ({ quantity: lots.reduce((n, l) => n + l.quantity, 0), costBasis: dec(1000), lots });

describe('planFlatten', () => {
  const account: Pick<Account, 'positions'> = {
    positions: {
      '600519.SH': position([
        { date: '2025-10-14', quantity: 250 },
        { date: '2025-10-15', quantity: 100 },
      ]),
      '601318.SH': position([{ date: '2025-10-15', quantity: 200 }]),
      '600036.SH': position([{ date: '2025-10-10', quantity: 300 }]),
    },
  };
  const none = () => 0;

  it('sells exactly the sellable shares under T+1 and says why the rest stays', () => {
    const lines = planFlatten({ account, today: '2025-10-15', tPlusOne: true, selling: none });
    expect(lines.map((l) => [l.symbol, l.action, l.quantity, l.reason])).toEqual([
      ['600036.SH', 'sell', 300, undefined],
      ['600519.SH', 'sell', 250, undefined],
      ['601318.SH', 'refused', 0, 'T_PLUS_ONE'],
    ]);
    expect(lines[2]!.message).toBe('T_PLUS_ONE: the 200 601318.SH held were all bought today (2025-10-15); they can be sold from the next trading day');
  });

  it('without T+1 everything held is sold; open sells are not sold twice; a symbol not held is refused', () => {
    expect(planFlatten({ account, today: '2025-10-15', tPlusOne: false, selling: none, symbol: '601318.SH' })).toMatchObject([{ action: 'sell', quantity: 200 }]);
    expect(planFlatten({ account, today: '2025-10-15', tPlusOne: true, selling: (s) => (s === '600519.SH' ? 100 : 0), symbol: '600519.SH' })).toMatchObject([{ action: 'sell', quantity: 150, selling: 100 }]);
    expect(planFlatten({ account, today: '2025-10-15', tPlusOne: true, selling: () => 250, symbol: '600519.SH' })).toMatchObject([{ action: 'refused', reason: 'SELL_PENDING' }]);
    expect(planFlatten({ account, today: '2025-10-15', tPlusOne: true, selling: none, symbol: '000001.SZ' })).toMatchObject([{ action: 'refused', reason: 'NOT_HELD', held: 0 }]);
  });
});

describe('planReload', () => {
  const base = {
    mode: 'paper',
    market: 'us',
    frequency: 'hourly',
    data_source: { type: 'replay', bars_file: 'x.jsonl' },
    risk_control: { min_cash_reserve: 1000 },
    models: [
      { name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
      { name: 'Mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum' } },
    ],
  };
  const cfg = (patch: (c: typeof base) => unknown) => parseConfig(patch(structuredClone(base)), 'test') as unknown as Record<string, unknown>;
  const current = cfg((c) => c);

  it('applies risk limits, alert channels and agent params', () => {
    const next = cfg((c) => {
      c.risk_control.min_cash_reserve = 2500;
      (c.models[1]!.agent as Record<string, unknown>)['params'] = { top_n: 2 };
      return { ...c, alerts: { dedupe_seconds: 60 } };
    });
    const plan = planReload(current, next);
    expect(plan.refused).toEqual([]);
    expect(plan.apply.map((c) => c.field).sort()).toEqual(['alerts.dedupe_seconds', 'models[mom].agent.params.top_n', 'risk_control.min_cash_reserve']);
  });

  it('refuses a signature change, naming the field, and the parts a running process holds', () => {
    const renamed = planReload(current, cfg((c) => ({ ...c, models: [c.models[0], { ...c.models[1], signature: 'momentum' }] })));
    expect(renamed.refused).toEqual([{ field: 'models[].signature', reason: expect.stringContaining('removed mom; added momentum') }]);
    const held = planReload(
      current,
      cfg((c) => ({ ...c, market: 'cn', data_source: { ...c.data_source, bars_file: 'y.jsonl' }, broker: { type: 'futu', futu: { trd_market: 'CN' } }, state_dir: '/elsewhere', agent_config: { initial_cash: 5 } })),
    );
    expect(held.refused.map((r) => r.field)).toEqual(expect.arrayContaining(['market', 'data_source.bars_file', 'state_dir', 'agent_config.initial_cash']));
    expect(held.refused.some((r) => r.field.startsWith('broker.'))).toBe(true);
    expect(held.refused.find((r) => r.field === 'agent_config.initial_cash')!.reason).toMatch(/initial cash/);
    expect(planReload(current, cfg((c) => ({ ...c, risk_control: { ...c.risk_control, stop_loss_ratio: 0.2 } }))).refused[0]!.field).toBe('risk_control.stop_loss_ratio');
  });

  it('nothing changed: nothing to apply', () => {
    expect(planReload(current, cfg((c) => c))).toEqual({ apply: [], refused: [] });
  });
});

describe('whoText', () => {
  it('names the door, never the token', () => {
    expect(whoText({ channel: 'http', auth: 'loopback', client: 'cli' })).toBe('cli/loopback');
    expect(whoText({ channel: 'http', auth: 'token' })).toBe('token');
    expect(whoText({ channel: 'telegram', auth: 'chat', chatId: 4242 })).toBe('telegram:4242');
  });
});

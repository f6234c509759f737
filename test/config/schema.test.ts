import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigSchema, MARKET_DEFAULTS, type Config, type ConfigInput } from '../../src/config/schema.js';

const rules = (signature = 'rules-a'): NonNullable<ConfigInput['models']>[number] => ({
  name: signature,
  signature,
  agent: { kind: 'rules' },
});

describe('config defaults', () => {
  it('fills in every default from a config that only names its models', () => {
    const c: Config = parseConfig({ models: [rules()] }, 'test');
    expect(c.mode).toBe('backtest');
    expect(c.market).toBe('cn');
    expect(c.frequency).toBe('daily');
    expect(c.schedule).toEqual({
      trigger_time: '09:35',
      trigger_times: ['10:35', '11:35', '14:05', '15:05'],
      timezone: 'Asia/Shanghai',
      close_grace_minutes: 5,
      catch_up_window_seconds: 0,
    });
    expect(c.data_source).toEqual({
      type: 'file',
      use_cache: true,
      cache_ttl_seconds: 60,
      fallback: [],
      stale_quote_seconds: 30,
      replay_speed: 390,
      alpaca_url: 'wss://stream.data.alpaca.markets/v2/iex',
      poll_interval_seconds: 3,
      request_timeout_seconds: 5,
      price_sanity: { max_deviation_ratio: 0.25, confirmations: 3, future_tolerance_seconds: 5, confirm_after_seconds: 60 },
    });
    expect(c.broker).toEqual({
      type: 'simulated',
      paper: true,
      rules: 'strict',
      slippage_bps: 0,
      max_volume_share: 1,
      poll_seconds: 2,
      unknown_outcome_grace_seconds: 60,
      market_collar_bps: 100,
      fees: {
        cn: { commission_rate: 0.00025, commission_min: 5, stamp_duty_rate: 0.0005, transfer_fee_rate: 0.00001 },
        us: { commission_per_share: 0, commission_min: 0, sec_fee_rate: 0, taf_fee_per_share: 0 },
      },
    });
    expect(c.risk_control).toEqual({
      max_single_position_ratio: 0.3,
      max_daily_loss_ratio: 0.05,
      min_cash_reserve: 10000,
      enable_stop_loss: true,
      stop_loss_ratio: 0.08,
      max_orders_per_session: 10,
      max_orders_per_minute: 30,
      duplicate_window_seconds: 60,
      max_order_notional_ratio: 1,
      program_trading: { max_actions_per_second: 20, max_actions_per_day: 5000 },
    });
    // A-shares: orders of the 11:35 (lunch break) and 15:05 (after the close) sessions wait for the next open.
    expect(c.execution).toEqual({ orders_outside_hours: 'queue_next_open', queued_limit_band: 0.02, limit_order_timeout_seconds: 300, order_type: 'market' });
    expect(c.agent_config).toEqual({
      max_steps: 30,
      max_retries: 3,
      base_delay_seconds: 1,
      initial_cash: 100000,
      session_deadline_seconds: 300,
    });
    expect(c.state_dir).toBe('state');
    expect(c.log).toEqual({ level: 'info', format: 'pretty' });
    expect(c.date_range).toBeUndefined();
    expect(c.models).toEqual([
      {
        name: 'rules-a',
        signature: 'rules-a',
        enabled: true,
        initial_cash: 100000,
        agent: {
          kind: 'rules',
          strategy: 'equal_weight',
          params: { lookback: 5, top_n: 5, rebalance_threshold: 0.05 },
        },
      },
    ]);
  });

  it('takes US defaults from the market: hourly times, New York zone, no grace, 10,000 cash', () => {
    const c = parseConfig({ market: 'us', frequency: 'hourly', models: [rules()] }, 'test');
    expect(c.schedule.trigger_times).toEqual(['10:05', '11:05', '12:05', '13:05', '14:05', '15:05']);
    expect(c.schedule.timezone).toBe('America/New_York');
    expect(c.schedule.close_grace_minutes).toBe(0);
    expect(c.agent_config.initial_cash).toBe(10000);
    expect(c.models[0]!.initial_cash).toBe(10000);
    expect(c.risk_control.min_cash_reserve).toBe(MARKET_DEFAULTS.us.min_cash_reserve);
    expect(c.execution.orders_outside_hours).toBe('reject');
  });

  it('keeps orders_outside_hours as written, for either market', () => {
    const cn = parseConfig({ market: 'cn', execution: { orders_outside_hours: 'reject', queued_limit_band: 0.05 }, models: [rules()] }, 'test');
    expect(cn.execution).toMatchObject({ orders_outside_hours: 'reject', queued_limit_band: 0.05 });
    const us = parseConfig({ market: 'us', execution: { orders_outside_hours: 'queue_next_open' }, models: [rules()] }, 'test');
    expect(us.execution.orders_outside_hours).toBe('queue_next_open');
    let problems: readonly string[] = [];
    try {
      parseConfig({ market: 'cn', execution: { queued_limit_band: 0 }, models: [rules()] }, 'test');
    } catch (e) {
      problems = (e as { problems: readonly string[] }).problems;
    }
    expect(problems).toEqual(['execution.queued_limit_band: expected a number between 0 and 1, got 0']);
  });

  it('keeps values written in the file over market defaults, and sorts trigger times', () => {
    const c = parseConfig(
      {
        market: 'us',
        schedule: { trigger_times: ['15:30', '09:45'], timezone: 'Asia/Shanghai', close_grace_minutes: 10 },
        risk_control: { min_cash_reserve: 0 },
        agent_config: { initial_cash: 50000 },
        models: [rules('a'), { ...rules('b'), initial_cash: 2500 }],
      },
      'test',
    );
    expect(c.schedule.trigger_times).toEqual(['09:45', '15:30']);
    expect(c.schedule.timezone).toBe('Asia/Shanghai');
    expect(c.schedule.close_grace_minutes).toBe(10);
    expect(c.risk_control.min_cash_reserve).toBe(0);
    expect(c.models.map((m) => m.initial_cash)).toEqual([50000, 2500]);
  });

  it('gives llm agents the shared step and retry limits unless they set their own', () => {
    const llm = (over: object) => ({
      name: 'm',
      signature: `m${Object.keys(over).length}`,
      agent: { kind: 'llm' as const, basemodel: 'gpt-5', base_url: 'http://127.0.0.1:8080/v1', ...over },
    });
    const c = parseConfig({ agent_config: { max_steps: 12 }, models: [llm({}), llm({ max_steps: 3, max_retries: 0 })] }, 'test');
    const [a, b] = c.models.map((m) => m.agent);
    expect(a).toMatchObject({ kind: 'llm', max_steps: 12, max_retries: 3, temperature: 0, deadline_seconds: 120 });
    expect(b).toMatchObject({ kind: 'llm', max_steps: 3, max_retries: 0 });
  });

  it('accepts every agent kind and rules strategy', () => {
    const c = parseConfig(
      {
        models: [
          { name: 'r', signature: 'r', agent: { kind: 'replay', log_file: 'x.jsonl' } },
          { name: 'm', signature: 'm', agent: { kind: 'rules', strategy: 'momentum', params: { symbols: ['600519.SH'], top_n: 2 } } },
          { name: 's', signature: 's', agent: { kind: 'module', path: 'strategies/s.ts', params: { n: [1, 2] } } },
        ],
      },
      'test',
    );
    expect(c.models[2]!.agent).toEqual({ kind: 'module', path: 'strategies/s.ts', export: 'default', params: { n: [1, 2] }, deadline_seconds: 30 });
    // Relative to the config file, like every path written in it.
    expect(parseConfig({ models: [{ name: 's', signature: 's', agent: { kind: 'module', path: 's.ts' } }] }, 'test', { baseDir: '/cfg' }).models[0]!.agent).toMatchObject({ path: '/cfg/s.ts' });
    expect(c.models[0]!.agent).toEqual({ kind: 'replay', log_file: 'x.jsonl' });
    expect(c.models[1]!.agent).toEqual({
      kind: 'rules',
      strategy: 'momentum',
      params: { symbols: ['600519.SH'], lookback: 5, top_n: 2, rebalance_threshold: 0.05 },
    });
  });

  it('is a plain zod schema: safeParse works without the formatter', () => {
    expect(ConfigSchema.safeParse({ models: [rules()] }).success).toBe(true);
    expect(ConfigSchema.safeParse({ models: [rules()], extra: 1 }).success).toBe(false);
  });
});

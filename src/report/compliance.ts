/**
 * The program-trading report a broker asks for before an account trades by program (China's
 * SSE/SZSE rules in force since 2025-07-07): what the software is, which strategies run on which
 * account, which order types they send, the order and cancel rates configured and observed. Built
 * from the config and the run's committed tally (src/domain/risk/program-trading.ts); the user
 * hands the file to the broker (whose form it follows in substance, not in layout: each broker has
 * its own). Pure: the CLI (`compliance report`) reads the inputs and writes the files.
 *
 * No secret is in it: variable names and hosts, never keys or tokens.
 */
import { basename } from 'node:path';
import type { Config } from '../config/schema.js';
import { accountKind } from '../config/live-gate.js';
import { HFT_THRESHOLDS, type ActionTally, type DayTally } from '../domain/risk/program-trading.js';

export interface ComplianceInputs {
  readonly config: Config;
  readonly software: { readonly name: string; readonly version: string; readonly code: string; readonly node: string };
  /** When the report was made (ISO with zone). */
  readonly generatedAt: string;
  /** The run's committed tally; undefined when there is none (or the store could not be read: `note`). */
  readonly tally?: ActionTally | undefined;
  readonly note?: string | undefined;
  /** Whether program-trading caps are enforced for this config (programTradingOn). */
  readonly enforced: boolean;
}

const hostOf = (url: string | undefined) => {
  if (!url) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
};

function strategyOf(m: Config['models'][number]): { kind: string; description: string; order_types: string[] } {
  const a = m.agent;
  switch (a.kind) {
    case 'llm':
      return { kind: 'llm', description: `large language model ${a.basemodel} at ${hostOf(a.base_url) ?? a.base_url}, deciding by tool calls at each session (buy / sell with quantity, optional limit price); temperature ${a.temperature}`, order_types: ['market', 'limit'] };
    case 'rules':
      return { kind: 'rules', description: `rule strategy ${a.strategy} (lookback ${a.params.lookback}, top ${a.params.top_n}, rebalance threshold ${a.params.rebalance_threshold})`, order_types: ['market'] };
    case 'replay':
      return { kind: 'replay', description: 'replays a recorded position log (no decisions of its own)', order_types: ['market'] };
    case 'module':
      return { kind: 'module', description: `strategy module ${basename(a.path)} (export ${a.export}), deciding at each session from the point-in-time market view and the account`, order_types: ['market', 'limit'] };
  }
}

const ratio = (d: DayTally) => (d.orders === 0 ? null : Number((d.cancels / d.orders).toFixed(4)));

export function complianceReport(i: ComplianceInputs) {
  const c = i.config;
  const pt = c.risk_control.program_trading;
  const days: Record<string, DayTally> = i.tally ? { ...i.tally.days, [i.tally.day]: i.tally.today } : {};
  const observed = Object.entries(days)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([date, d]) => ({ date, orders: d.orders, cancels: d.cancels, actions: d.orders + d.cancels, max_per_second: d.maxPerSecond, cancel_ratio: ratio(d) }));
  const strategies = c.models.map((m) => ({ name: m.name, signature: m.signature, enabled: m.enabled, initial_cash: String(m.initial_cash), ...strategyOf(m) }));
  const queued = c.execution.orders_outside_hours === 'queue_next_open';
  const orderTypes = [...new Set(strategies.flatMap((s) => s.order_types))].sort();
  return {
    report: 'program-trading report',
    rules: `SSE / SZSE program-trading rules in force since ${HFT_THRESHOLDS.since}: report before trading by program; ${HFT_THRESHOLDS.perSecond} or more orders + cancels a second, or ${HFT_THRESHOLDS.perDay} or more a day, is high-frequency trading`,
    generated_at: i.generatedAt,
    software: { ...i.software, description: 'agent-trader: LLM agents and rule strategies trading on a schedule through pre-trade risk control and an order state machine, one engine for backtest, paper and live' },
    account: {
      broker: c.broker.type,
      kind: accountKind(c),
      endpoint: hostOf(c.broker.base_url) ?? null,
      market: c.market,
      mode: c.mode,
      signatures: c.models.map((m) => m.signature),
    },
    strategies,
    schedule: { frequency: c.frequency, trigger_times: c.schedule.trigger_times ?? null, timezone: c.schedule.timezone ?? null },
    orders: {
      types: orderTypes,
      time_in_force: 'day',
      outside_trading_hours: queued ? `queued for the next open as a limit within ${c.execution.queued_limit_band * 100}% of the decision price` : 'refused',
      limit_order_timeout_seconds: c.execution.limit_order_timeout_seconds,
      cancels: 'only of our own open orders: limit orders unfilled after the timeout, the kill switch, protective (stop-loss) replacements',
    },
    rates: {
      enforced: i.enforced,
      configured: { max_actions_per_second: pt.max_actions_per_second, max_actions_per_day: pt.max_actions_per_day, max_orders_per_session: c.risk_control.max_orders_per_session, max_orders_per_minute: c.risk_control.max_orders_per_minute },
      thresholds: { per_second: HFT_THRESHOLDS.perSecond, per_day: HFT_THRESHOLDS.perDay },
      observed,
      observed_max: {
        per_second: Math.max(0, ...observed.map((d) => d.max_per_second)),
        per_day: Math.max(0, ...observed.map((d) => d.actions)),
      },
      ...(i.note ? { note: i.note } : {}),
    },
    controls: {
      pre_trade_risk: ['kill switch', 'order validity', 'allow / deny lists', 'stale quote', `daily loss limit ${c.risk_control.max_daily_loss_ratio * 100}%`, `position ratio ${c.risk_control.max_single_position_ratio * 100}%`, 'cash reserve', 'orders per session and minute', 'duplicate window', 'program-trading caps (orders + cancels per second and per day, the whole account)', ...(c.risk_control.live_ramp ? ['live capital ramp'] : [])],
      stop_loss: c.risk_control.enable_stop_loss ? `${c.risk_control.stop_loss_ratio * 100}% below cost` : 'off',
      kill_switch: 'file in the state directory, the CLI `kill`, or the authenticated event feed: cancels open orders and refuses new ones until reset',
    },
  };
}

export type ComplianceReport = ReturnType<typeof complianceReport>;

export function complianceMarkdown(r: ComplianceReport): string {
  const lines = [
    `# Program-trading report (${r.account.market === 'cn' ? 'A-shares' : r.account.market})`,
    '',
    `Generated ${r.generated_at}. ${r.rules}.`,
    '',
    '## Software',
    '',
    `- ${r.software.name} ${r.software.version} (code ${r.software.code.slice(0, 12)}), Node.js ${r.software.node}`,
    `- ${r.software.description}`,
    '',
    '## Account',
    '',
    `- broker: ${r.account.broker} (${r.account.kind}${r.account.endpoint ? `, ${r.account.endpoint}` : ''}), market ${r.account.market}, mode ${r.account.mode}`,
    `- agents trading on it: ${r.account.signatures.join(', ')}`,
    '',
    '## Strategies',
    '',
    '| name | signature | kind | what it does | order types | allocation |',
    '|---|---|---|---|---|---|',
    ...r.strategies.map((s) => `| ${s.name} | ${s.signature}${s.enabled ? '' : ' (disabled)'} | ${s.kind} | ${s.description} | ${s.order_types.join(', ')} | ${s.initial_cash} |`),
    '',
    `Schedule: ${r.schedule.frequency}${r.schedule.trigger_times ? `, at ${r.schedule.trigger_times.join(', ')}` : ''}.`,
    '',
    '## Orders',
    '',
    `- types: ${r.orders.types.join(', ')}; time in force: ${r.orders.time_in_force}`,
    `- outside trading hours: ${r.orders.outside_trading_hours}`,
    `- unfilled limit orders are cancelled after ${r.orders.limit_order_timeout_seconds} s`,
    `- cancels: ${r.orders.cancels}`,
    '',
    '## Order and cancel rates (the whole account)',
    '',
    `| | per second | per day |`,
    '|---|---|---|',
    `| exchanges' high-frequency line | ${r.rates.thresholds.per_second} | ${r.rates.thresholds.per_day} |`,
    `| configured cap (${r.rates.enforced ? 'enforced: orders beyond it are refused' : 'not enforced for this config'}) | ${r.rates.configured.max_actions_per_second} | ${r.rates.configured.max_actions_per_day} |`,
    `| observed maximum | ${r.rates.observed_max.per_second} | ${r.rates.observed_max.per_day} |`,
    '',
    `Per agent besides: at most ${r.rates.configured.max_orders_per_session} orders a session and ${r.rates.configured.max_orders_per_minute} a minute.`,
    ...(r.rates.note ? ['', `Note: ${r.rates.note}`] : []),
    ...(r.rates.observed.length > 0
      ? ['', '| date | orders | cancels | max per second | cancel ratio |', '|---|---|---|---|---|', ...r.rates.observed.map((d) => `| ${d.date} | ${d.orders} | ${d.cancels} | ${d.max_per_second} | ${d.cancel_ratio ?? '-'} |`)]
      : ['', 'No order or cancel recorded yet.']),
    '',
    '## Controls',
    '',
    `- pre-trade risk on every order: ${r.controls.pre_trade_risk.join('; ')}`,
    `- stop-loss: ${r.controls.stop_loss}`,
    `- kill switch: ${r.controls.kill_switch}`,
    '',
  ];
  return lines.join('\n');
}

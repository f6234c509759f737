/** `backtest`: the engine over historical bars in virtual time; writes position.jsonl per agent and the report. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { runBacktest, type BacktestResult } from '../../runtime/backtest.js';
import { backtestConfig, type BacktestFlags } from '../../config/backtest-flags.js';
import type { Config } from '../../config/schema.js';
import { FrequencySchema, MarketSchema } from '../../domain/markets.js';
import { formatReportTable } from '../../report/index.js';
import { progress } from '../progress.js';
import { summarizeConfig } from './config.js';

interface BacktestCliOptions extends Omit<BacktestFlags, 'replayLog'> {
  readonly replayLog?: string[];
  readonly out: string;
}

/** Run a backtest and print what a person wants to see: progress, the table, where the files are. */
export async function backtestAndPrint(config: Config, outDir: string, write = (s: string) => process.stdout.write(s)): Promise<BacktestResult> {
  // The summary starts with the mode ("backtest cn daily, ..."): no "backtest:" label before it.
  write(`${summarizeConfig(config)}\n`);
  let bar: ReturnType<typeof progress> | undefined;
  const result = await runBacktest({
    config,
    outDir,
    // The report's stamp is the one wall-clock read of a backtest, made here at the edge.
    generatedAt: DateTime.now(),
    onProgress: (done, total, at) => {
      bar ??= progress(total);
      bar.update(done, at.slice(0, 16));
    },
  });
  bar?.finish();
  const before = result.ticksTotal - result.ticksRun;
  if (before > 0) write(`resumed: ${before} of ${result.ticksTotal} sessions were already done in ${outDir}\n`);
  write(`${formatReportTable(result.report)}\n`);
  if (result.alerts.length > 0) write(`${result.alerts.length} alert(s); first: ${result.alerts[0]!.code}: ${result.alerts[0]!.message}\n`);
  write(`wrote ${result.files.json}\n      ${result.files.html}\n`);
  for (const m of config.models) write(`      ${resolve(outDir, m.signature, 'position.jsonl')}\n`);
  return result;
}

export function registerBacktestCommand(program: Command): void {
  program
    .command('backtest')
    .description('run agents over historical bars in virtual time; flags override the config, so no config file is needed')
    .option('--config <file>', 'config file (flags below override it)')
    .addOption(program.createOption('--market <market>', 'cn or us').choices(MarketSchema.options))
    .addOption(program.createOption('--frequency <frequency>', 'daily or hourly').choices(FrequencySchema.options))
    .option('--bars <file>', 'price file in AI-Trader merged.jsonl layout')
    .option('--replay-log <file...>', "replay AI-Trader position.jsonl file(s), one agent each (named after the file)")
    .option('--signature <name>', 'name of the replayed (or default rules) agent')
    .addOption(program.createOption('--rules <rules>', 'simulated broker rules').choices(['strict', 'ai-trader']))
    .option('--cash <amount>', 'starting cash of every agent')
    .option('--from <date>', 'first date, YYYY-MM-DD (default: first bar)')
    .option('--to <date>', 'last date, YYYY-MM-DD (default: last bar)')
    .option('--no-stop-loss', 'turn risk_control.enable_stop_loss off (to replay AI-Trader runs as they were)')
    .requiredOption('--out <dir>', 'output directory: <signature>/position.jsonl, report.json, report.html, state/')
    .action(async (opts: BacktestCliOptions) => {
      const config = await backtestConfig(opts);
      await backtestAndPrint(config, resolve(opts.out));
    });
}

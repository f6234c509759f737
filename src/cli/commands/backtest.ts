/** `backtest`: the engine over historical bars in virtual time; writes position.jsonl per agent and the report. */
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '../../domain/errors.js';
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { runBacktest, type BacktestResult } from '../../runtime/backtest.js';
import { backtestConfig, type BacktestFlags } from '../../config/backtest-flags.js';
import { applyCalendarConfig } from '../../config/closures-file.js';
import type { Config } from '../../config/schema.js';
import { FrequencySchema, MarketSchema } from '../../domain/markets.js';
import { formatReportTable } from '../../report/index.js';
import type { Message, SessionOutcome } from '../../domain/messages.js';
import { progress } from '../progress.js';
import { tickNotes } from '../session-notes.js';
import { summarizeConfig } from './config.js';

interface BacktestCliOptions extends Omit<BacktestFlags, 'replayLog'> {
  readonly replayLog?: string[];
  readonly out: string;
  readonly forceNew?: boolean;
}

/**
 * The report's stamp, the one wall-clock read of a backtest, made here at the edge; with
 * SOURCE_DATE_EPOCH set (the reproducible-builds convention) that instant instead, so two
 * runs of the same inputs write the same bytes.
 */
export function reportStamp(env: NodeJS.ProcessEnv = process.env): DateTime {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch === undefined || epoch === '') return DateTime.now();
  if (!/^\d+$/.test(epoch)) throw new InputError(`SOURCE_DATE_EPOCH: expected whole seconds since 1970, got ${JSON.stringify(epoch)}`);
  return DateTime.fromSeconds(Number(epoch), { zone: 'utc' });
}

/** `--force-new`: the stored run and what it wrote go, so the run starts over. */
async function startOver(config: Config, outDir: string): Promise<void> {
  await rm(join(outDir, 'state'), { recursive: true, force: true });
  for (const f of ['report.json', 'report.html']) await rm(join(outDir, f), { force: true });
  for (const m of config.models) await rm(join(outDir, m.signature, 'position.jsonl'), { force: true });
}

/** Run a backtest and print what a person wants to see: progress, the table, where the files are. */
export async function backtestAndPrint(config: Config, outDir: string, write = (s: string) => process.stdout.write(s)): Promise<BacktestResult> {
  await applyCalendarConfig(config); // the closures file, if any, before a single session is scheduled
  // The summary starts with the mode ("backtest cn daily, ..."): no "backtest:" label before it.
  write(`${summarizeConfig(config)}\n`);
  let bar: ReturnType<typeof progress> | undefined;
  // A tick's line waits until its sessions have finished (the next tick, or the end), so it can say why one did not go as meant.
  let shown: { done: number; at: string } | undefined;
  // By instant (ms): the tick's ISO text and the outcome's may be written differently (milliseconds).
  const finished = new Map<number, SessionOutcome[]>();
  const instant = (iso: string) => DateTime.fromISO(iso, { setZone: true }).toMillis();
  const show = () => {
    if (!shown || !bar) return;
    const notes = tickNotes(finished.get(instant(shown.at)) ?? []);
    finished.delete(instant(shown.at));
    bar.update(shown.done, notes ? `${shown.at.slice(0, 16)} ${notes}` : shown.at.slice(0, 16), notes !== '');
    shown = undefined;
  };
  const result = await runBacktest({
    config,
    outDir,
    generatedAt: reportStamp(),
    onProgress: (done, total, at) => {
      bar ??= progress(total);
      show();
      shown = { done, at };
    },
    inspect: (e) => {
      if (e.type !== '@xstate.event' || e.event.type !== 'session.finished') return;
      const { outcome } = e.event as Message<'session.finished'>;
      const key = instant(outcome.at);
      finished.set(key, [...(finished.get(key) ?? []), outcome]);
    },
  });
  show();
  bar?.finish();
  const before = result.ticksTotal - result.ticksRun;
  if (before > 0) write(`resumed: ${before} of ${result.ticksTotal} sessions were already done in ${outDir}\n`);
  write(`${formatReportTable(result.report)}\n`);
  if (result.alerts.length > 0) write(`${result.alerts.length} alert(s); first: ${result.alerts[0]!.code}: ${result.alerts[0]!.message}\n`);
  write(`wrote ${result.files.json}\n      ${result.files.html}\n`);
  for (const m of config.models.filter((x) => x.enabled)) write(`      ${resolve(outDir, m.signature, 'position.jsonl')}\n`);
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
    .option('--force-new', 'start over in --out: delete its stored run (state/), report and position.jsonl files first')
    .action(async (opts: BacktestCliOptions) => {
      // resolve('') is the working directory: a run would land wherever the command was typed.
      if (opts.out.trim() === '') throw new InputError(`--out: expected a directory, got ${JSON.stringify(opts.out)}`);
      const config = await backtestConfig(opts);
      if (opts.forceNew) await startOver(config, resolve(opts.out));
      await backtestAndPrint(config, resolve(opts.out));
    });
}

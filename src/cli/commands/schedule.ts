/** `schedule`: the trading instants of a market/frequency (or of a config) between two dates. */
import type { Command } from 'commander';
import { applyCalendarConfig } from '../../config/closures-file.js';
import { loadConfig } from '../../config/load.js';
import { scheduleSpecOf } from '../../config/schedule-spec.js';
import { InputError } from '../../domain/errors.js';
import { FrequencySchema, MarketSchema, type Frequency, type Market } from '../../domain/markets.js';
import { defaultScheduleSpec, isoInstant, tradingInstants, type ScheduleSpec } from '../../domain/schedule.js';

interface ScheduleOptions {
  market?: Market;
  frequency?: Frequency;
  from: string;
  to: string;
  config?: string;
  json?: boolean;
}

export function registerScheduleCommand(program: Command): void {
  program
    .command('schedule')
    .description('list the trading instants (session times) between two dates, in the exchange time zone')
    .addOption(program.createOption('--market <market>', 'cn or us (overrides the config)').choices(MarketSchema.options))
    .addOption(
      program.createOption('--frequency <frequency>', 'daily or hourly (overrides the config)').choices(FrequencySchema.options),
    )
    .requiredOption('--from <date>', 'first exchange-local date, YYYY-MM-DD')
    .requiredOption('--to <date>', 'last exchange-local date, YYYY-MM-DD (inclusive)')
    .option('--config <file>', 'take trigger times, time zone and grace from this config file')
    .option('--json', 'print a JSON array of ISO-8601 instants with the exchange offset')
    .action(async (opts: ScheduleOptions) => {
      const spec = await resolveSpec(opts);
      const instants = tradingInstants(spec, opts.from, opts.to);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(instants.map(isoInstant), null, 2)}\n`);
        return;
      }
      for (const at of instants) process.stdout.write(`${at.toFormat('yyyy-LL-dd ccc HH:mm ZZ')}\n`);
      process.stdout.write(`${instants.length} ${spec.market} ${spec.frequency} sessions from ${opts.from} to ${opts.to}\n`);
    });
}

async function resolveSpec(opts: ScheduleOptions): Promise<ScheduleSpec> {
  if (!opts.config) {
    if (!opts.market || !opts.frequency) {
      throw new InputError('schedule needs --market and --frequency, or --config FILE');
    }
    return defaultScheduleSpec(opts.market, opts.frequency);
  }
  const config = await loadConfig(opts.config);
  await applyCalendarConfig(config); // its closures file decides the trading days too
  // Flags override the file; a changed market brings that market's default times.
  const market = opts.market ?? config.market;
  const frequency = opts.frequency ?? config.frequency;
  if (market !== config.market) return defaultScheduleSpec(market, frequency);
  return { ...scheduleSpecOf(config), frequency };
}

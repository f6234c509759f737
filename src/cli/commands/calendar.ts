/**
 * `calendar --market cn|us --from YYYY-MM-DD --to YYYY-MM-DD [--json] [--config FILE]`:
 * the trading days of a range with their hours, as a table or as JSON; with --config,
 * the config's closures file (calendar.closures_file) is laid over the built-in tables.
 * Bad dates and years outside the calendar's coverage are InputErrors (exit 2).
 */
import { Option, type Command } from 'commander';
import { applyCalendarConfig } from '../../config/closures-file.js';
import { loadConfig } from '../../config/load.js';
import { calendarCoverage, toCalendarJson, tradingDays, type TradingDay } from '../../domain/calendar/index.js';
import { MARKETS, MarketSchema, type Market } from '../../domain/markets.js';

interface CalendarOptions {
  readonly market: Market;
  readonly from: string;
  readonly to: string;
  readonly json?: boolean;
  readonly config?: string;
}

function note(day: TradingDay): string {
  const notes = [
    ...(day.earlyClose ? [`early close ${day.close.toFormat('HH:mm')}`] : []),
    ...day.breaks.map((b) => `lunch break ${b.start.toFormat('HH:mm')}-${b.end.toFormat('HH:mm')}`),
  ];
  return notes.join(', ');
}

/** Columns padded to their widest cell; the last column is left ragged. */
function renderTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

function renderText(market: Market, days: readonly TradingDay[]): string {
  const facts = MARKETS[market];
  const { version } = calendarCoverage(market);
  const header = ['date', 'weekday', 'open', 'close', 'note'];
  // Times carry their zone abbreviation, so a DST switch in the range is visible.
  const rows = days.map((d) => [d.date, d.open.toFormat('ccc'), d.open.toFormat('HH:mm ZZ'), d.close.toFormat('HH:mm ZZ'), note(d)]);
  const title = `${facts.name}, times in ${facts.zone} (calendar version ${version})`;
  const count = `${days.length} trading day${days.length === 1 ? '' : 's'}`;
  return [title, renderTable([header, ...rows]), count].join('\n') + '\n';
}

export function registerCalendarCommand(program: Command): void {
  program
    .command('calendar')
    .description('list the trading days of a market between two dates (inclusive), with open, close and breaks')
    .addOption(new Option('--market <market>', 'exchange calendar').choices(MarketSchema.options).makeOptionMandatory())
    .requiredOption('--from <date>', 'first date, YYYY-MM-DD (exchange-local)')
    .requiredOption('--to <date>', 'last date, YYYY-MM-DD (exchange-local)')
    .option('--json', 'print a JSON array, one object per trading day')
    .option('--config <file>', "use the config's calendar.closures_file over the built-in tables")
    .action(async (opts: CalendarOptions) => {
      if (opts.config !== undefined) await applyCalendarConfig(await loadConfig(opts.config));
      const days = tradingDays(opts.market, opts.from, opts.to);
      const out = opts.json ? JSON.stringify(days.map(toCalendarJson), null, 2) + '\n' : renderText(opts.market, days);
      process.stdout.write(out);
    });
}

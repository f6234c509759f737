/**
 * The process: config -> market data -> clock -> (engine, once it lands) -> report.
 *
 * Until the backtest engine lands (issue 5) the main job is a dry run: it loads the
 * config and its price file, drives the real clock stream over the data's span in
 * virtual time, and for each tick prints what every enabled agent's session would
 * see (the point-in-time prices), then a buy-and-hold table of the data. No orders
 * are simulated: nothing here pretends to be a backtest.
 */
import { DateTime } from 'luxon';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { loadPriceStore } from './actors/market-data/alpha-vantage-file.js';
import { scheduleSpecOf } from './config/schedule-spec.js';
import type { Config } from './config/schema.js';
import { InputError } from './domain/errors.js';
import { MARKETS } from './domain/markets.js';
import { isoInstant } from './domain/schedule.js';
import type { PriceStore } from './domain/price-store.js';
import { ticks } from './streams/clock.js';
import { EpochVirtualScheduler } from './streams/virtual-time.js';

export interface DryRunResult {
  readonly ticks: number;
  readonly sessions: number;
  readonly symbols: number;
}

type Write = (line: string) => void;

export async function dryRun(config: Config, write: Write): Promise<DryRunResult> {
  const barsFile = config.data_source.bars_file;
  if (!barsFile) throw new InputError('data_source.bars_file: expected a price file for a backtest, got nothing');
  const store = await loadPriceStore(barsFile, { market: config.market, onProblem: (p) => write(`  note: ${p}`) });
  const range = store.range();
  if (!range) throw new InputError(`${barsFile}: no bars`);

  const zone = MARKETS[config.market].zone;
  const from = config.date_range?.from
    ? DateTime.fromISO(config.date_range.from, { zone })
    : range.first.setZone(zone).startOf('day');
  const until = config.date_range?.to
    ? DateTime.fromISO(config.date_range.to, { zone }).endOf('day')
    : range.last.setZone(zone).endOf('day');
  const agents = config.models.filter((m) => m.enabled);
  const symbols = store.symbols();

  write(`prices: ${symbols.length} symbols (${symbols.join(', ')}) from ${barsFile}`);
  write(`agents: ${agents.map((m) => `${m.signature} (${m.agent.kind})`).join(', ')}`);
  write(`clock: ${config.market} ${config.frequency}, virtual time ${from.toISODate()} .. ${until.toISODate()}`);

  const scheduler = new EpochVirtualScheduler(from);
  const done = lastValueFrom(
    ticks(scheduleSpecOf(config), { scheduler, until }).pipe(
      tap((tick) => write(`  ${isoInstant(tick.at)}  ${describePrices(store, symbols, tick.at)}`)),
      toArray(),
    ),
    { defaultValue: [] },
  );
  scheduler.advanceTo(until);
  const seen = await done;

  write('');
  write(buyAndHoldTable(store, symbols, until));
  write('');
  write(
    `${seen.length} trading instants x ${agents.length} agents = ${seen.length * agents.length} sessions would run. ` +
      'Dry run: the backtest engine (orders, fills, ledger, report) is not wired in yet.',
  );
  return { ticks: seen.length, sessions: seen.length * agents.length, symbols: symbols.length };
}

function describePrices(store: PriceStore, symbols: readonly string[], at: DateTime): string {
  const known = symbols.map((s) => [s, store.priceAsOf(s, at)] as const).filter(([, p]) => p);
  const sample = known.slice(0, 3).map(([s, p]) => `${s} ${p!.price.toFixed(2)} (${p!.source})`);
  return `${known.length}/${symbols.length} priced: ${sample.join(', ')}${known.length > 3 ? ', ...' : ''}`;
}

function buyAndHoldTable(store: PriceStore, symbols: readonly string[], until: DateTime): string {
  const rows = [['symbol', 'first', 'last', 'buy & hold'].join('\t')];
  for (const s of symbols) {
    const bars = store.barsAsOf(s, until);
    const first = bars[0];
    const last = bars.at(-1);
    if (!first || !last) continue;
    const ret = last.close.div(first.open).minus(1).times(100);
    rows.push([s, first.open.toFixed(2), last.close.toFixed(2), `${ret.toFixed(2)}%`].join('\t'));
  }
  return rows.join('\n');
}

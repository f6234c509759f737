/**
 * A user's closures file laid over the built-in tables, without a release: years the
 * built-in table lacks are taken from the file; years both have must agree day for day
 * (closed, early close or open), or the whole file is refused naming the dates. Names of
 * the occasions may differ; only what the exchange does that day counts.
 */
import { InputError } from '../errors.js';
import type { Market } from '../markets.js';
import type { ClosureFile, ClosureTable, ClosureTables, DatedNames } from './table-schema.js';

export interface MergedCalendar {
  readonly tables: ClosureTables;
  /** Per market, the years that came from the file (sorted; empty when it only repeats built-in years). */
  readonly addedYears: Readonly<Record<Market, readonly number[]>>;
}

type DayKind = 'closed' | 'an early close' | 'open';

function kindOf(t: ClosureTable, date: string): DayKind {
  if (t.closures[date] !== undefined) return 'closed';
  if (t.early_closes[date] !== undefined) return 'an early close';
  return 'open';
}

const yearOf = (date: string) => Number(date.slice(0, 4));

/** Problem lines for the days of the shared years on which the two tables differ. */
function disagreements(market: Market, builtin: ClosureTable, file: ClosureTable, origin: string): string[] {
  const from = Math.max(builtin.from_year, file.from_year);
  const to = Math.min(builtin.to_year, file.to_year);
  const listed = [builtin.closures, builtin.early_closes, file.closures, file.early_closes].flatMap((names) => Object.keys(names));
  const dates = [...new Set(listed)].filter((d) => yearOf(d) >= from && yearOf(d) <= to).sort();
  return dates.flatMap((date) => {
    const ours = kindOf(builtin, date);
    const theirs = kindOf(file, date);
    return ours === theirs ? [] : [`${market} ${date}: the built-in calendar (version ${builtin.version}) says ${ours}, ${origin} says ${theirs}`];
  });
}

/** A file must touch or overlap the built-in years, so coverage has no hole. */
function gapProblem(market: Market, builtin: ClosureTable, file: ClosureTable): string | undefined {
  if (file.from_year > builtin.to_year + 1) {
    return `${market}: the file starts in ${file.from_year} but the built-in calendar ends in ${builtin.to_year}; it must also cover ${range(builtin.to_year + 1, file.from_year - 1)}`;
  }
  if (file.to_year < builtin.from_year - 1) {
    return `${market}: the file ends in ${file.to_year} but the built-in calendar starts in ${builtin.from_year}; it must also cover ${range(file.to_year + 1, builtin.from_year - 1)}`;
  }
  return undefined;
}

const range = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`);

/** The entries of `names` outside the years `from`-`to`. */
function outside(names: DatedNames, from: number, to: number): DatedNames {
  return Object.fromEntries(Object.entries(names).filter(([d]) => yearOf(d) < from || yearOf(d) > to));
}

function mergeTable(builtin: ClosureTable, file: ClosureTable, origin: string, added: readonly number[]): ClosureTable {
  if (added.length === 0) return builtin;
  const { from_year: from, to_year: to } = builtin;
  return {
    from_year: Math.min(from, file.from_year),
    to_year: Math.max(to, file.to_year),
    version: `${builtin.version}+${file.version}`,
    source: `${builtin.source}; ${range(added[0]!, added[added.length - 1]!)} from ${origin}: ${file.source}`,
    closures: { ...builtin.closures, ...outside(file.closures, from, to) },
    early_closes: { ...builtin.early_closes, ...outside(file.early_closes, from, to) },
  };
}

/**
 * The built-in tables with `file` laid over them. `origin` names the file in messages.
 * Throws an InputError listing every disagreement and gap when the file cannot be used.
 */
export function mergeClosureFile(builtin: ClosureTables, file: ClosureFile, origin: string): MergedCalendar {
  const problems: string[] = [];
  const tables: Record<Market, ClosureTable> = { ...builtin };
  const addedYears: Record<Market, number[]> = { cn: [], us: [] };
  for (const market of Object.keys(builtin) as Market[]) {
    const theirs = file[market];
    if (theirs === undefined) continue;
    const ours = builtin[market];
    const wrong = disagreements(market, ours, theirs, origin);
    const gap = gapProblem(market, ours, theirs);
    problems.push(...wrong, ...(gap ? [gap] : []));
    for (let y = theirs.from_year; y <= theirs.to_year; y++) if (y < ours.from_year || y > ours.to_year) addedYears[market].push(y);
    tables[market] = mergeTable(ours, theirs, origin, addedYears[market]);
  }
  if (problems.length > 0) {
    const days = problems.filter((p) => /^\w+ \d{4}-\d{2}-\d{2}:/.test(p)).map((p) => p.split(':')[0]!);
    const summary = days.length > 0 ? `disagrees with the built-in calendar on ${days.length} day(s): ${days.join(', ')}` : 'cannot extend the built-in calendar';
    throw new InputError(`calendar.closures_file ${origin}: ${summary}`, problems);
  }
  return { tables, addedYears };
}

/**
 * Does what a run is told (market, frequency, date range) fit the bars it is given? Pure:
 * the facts come from src/actors/market-data/bars-file-facts.ts. Used by `backtest` before
 * it starts (what is not given is taken from the file) and by `config check --preflight`.
 * Each problem names both sides: what was given, and what the file holds.
 */
import type { BarsFacts } from '../domain/bars-facts.js';
import { FrequencySchema, MarketSchema, type Frequency, type Market } from '../domain/markets.js';

/** A value given by a flag or a config key, and how to name it in a message ("--market us"). */
export interface Given {
  readonly value: string;
  readonly said: string;
}

export interface BarsCheckInput {
  /** The bars file as the user named it. */
  readonly file: string;
  readonly facts: BarsFacts;
  readonly market?: Given;
  readonly frequency?: Given;
  readonly from?: Given;
  readonly to?: Given;
  /** Check (and infer) the bar interval too; default true (a benchmark is checked for its market only). */
  readonly withFrequency?: boolean;
  /** How the user would give a market or frequency, for "cannot tell" problems. */
  readonly ask: { readonly market: string; readonly frequency: string };
}

export interface BarsCheckResult {
  /** The file's market and frequency, when it has exactly one of each. */
  readonly market?: Market;
  readonly frequency?: Frequency;
  readonly problems: string[];
}

const HOLDS: Readonly<Record<Frequency, string>> = { daily: 'daily bars ("Time Series (Daily)")', hourly: 'hourly bars ("Time Series (60min)")' };
const MARKET_NAMES: Readonly<Record<Market, string>> = { cn: 'cn (A-share) bars', us: 'us bars' };

const listed = (table: Partial<Record<string, string[]>>, key: string) => `${(table[key] ?? []).join(', ')}${(table[key]?.length ?? 0) >= 3 ? ', ...' : ''}`;

/** One kind of fact (market or frequency): the file's one value, or problems. */
function single<K extends string>(
  kinds: readonly K[],
  table: Partial<Record<K, string[]>>,
  given: Given | undefined,
  words: { what: string; holds: (k: K) => string; ask: string; file: string },
): { value?: K; problems: string[] } {
  // A value that is no market (frequency) at all is the schema's to word, as for any key.
  if (given && !(kinds as readonly string[]).includes(given.value)) return { problems: [] };
  const found = kinds.filter((k) => table[k] !== undefined);
  if (found.length > 1) {
    const parts = found.map((k) => `${words.holds(k)} (${listed(table, k)})`).join(' and ');
    return { problems: [`${words.file} mixes ${parts}; a run uses one ${words.what}`] };
  }
  const value = found[0];
  if (value === undefined) {
    return given ? { problems: [] } : { problems: [`cannot tell the ${words.what} of the bars in ${words.file}: give ${words.ask}`] };
  }
  if (given && given.value !== value) {
    return { value, problems: [`${given.said}, but ${words.file} holds ${words.holds(value)} (${listed(table, value)})`] };
  }
  return { value, problems: [] };
}

export function checkBarsFacts(input: BarsCheckInput): BarsCheckResult {
  const { facts, file } = input;
  const market = single(MarketSchema.options, facts.markets, input.market, { what: 'market', holds: (m) => MARKET_NAMES[m], ask: input.ask.market, file });
  const frequency: { value?: Frequency; problems: string[] } =
    input.withFrequency === false
      ? { problems: [] }
      : single(FrequencySchema.options, facts.frequencies, input.frequency, { what: 'bar interval', holds: (f) => HOLDS[f], ask: input.ask.frequency, file });
  const problems = [...market.problems, ...frequency.problems];
  const { firstDate: first, lastDate: last } = facts;
  if (first !== undefined && last !== undefined) {
    const span = `the bars cover ${first}..${last}`;
    // Dates are YYYY-MM-DD (validated by the schema), so text order is date order.
    const outside = (g: Given | undefined) =>
      g === undefined ? undefined : g.value < first ? `before the first bar of ${file} (${first})` : g.value > last ? `after the last bar of ${file} (${last})` : undefined;
    for (const g of [input.from, input.to]) {
      const where = outside(g);
      if (where) problems.push(`${g!.said} is ${where}; ${span}`);
    }
  } else if (facts.symbols > 0 && (input.from || input.to)) {
    problems.push(`${file} has no bars with a date, so no date range fits it`);
  }
  return { ...(market.value ? { market: market.value } : {}), ...(frequency.value ? { frequency: frequency.value } : {}), problems };
}

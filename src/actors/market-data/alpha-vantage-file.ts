/**
 * Reading AI-Trader / Alpha Vantage price files (the I/O edge; the meaning of the data
 * lives in src/domain/bars.ts).
 *
 * Two layouts:
 * - `.jsonl`: one Alpha Vantage object per line (AI-Trader's merged.jsonl), streamed
 *   line by line;
 * - `.json`: one object for the whole file (Alpha Vantage's own output, e.g. QQQ).
 *
 * Every document is validated; a malformed one throws an InputError naming `file:line`
 * and what was expected. Nothing is skipped silently: the only entries skipped are empty
 * `{}` bars (AI-Trader writes one when the latest bar has no open; there is nothing in it
 * to keep), each reported in `problems`.
 *
 * Price sanity (src/domain/price-sanity.ts) runs over every symbol's bars at load: an open or
 * close the rules quarantine and the following bars never confirm (an isolated absurd bar, or an
 * unconfirmed jump at the end, where agents trade) refuses the file with an InputError naming
 * file:line, symbol, the bar's time and price and the rule. `sanity: false` turns it off.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseAlphaVantageDocument, type LabelMeaning, type PriceBar } from '../../domain/bars.js';
import { InputError } from '../../domain/errors.js';
import type { Market } from '../../domain/markets.js';
import { PriceStore } from '../../domain/price-store.js';
import { checkBarPrints, DEFAULT_PRICE_SANITY, type PriceSanityLimits } from '../../domain/price-sanity.js';
import { MARKETS } from '../../domain/markets.js';
import { DateTime } from 'luxon';

export interface LoadPriceFileOptions {
  /** Override the market inferred from the Meta Data time zone or the symbol suffix. */
  readonly market?: Market;
  /** Override what the labels mean (default: the table in domain/bars.ts). */
  readonly meaning?: LabelMeaning;
  /** Keep only these symbols (others are not validated beyond being JSON with a symbol). */
  readonly symbols?: readonly string[];
  /** Price sanity limits the bars must pass (data_source.price_sanity); default DEFAULT_PRICE_SANITY, false = unchecked. */
  readonly sanity?: PriceSanityLimits | false;
}

export interface LoadedPriceFile {
  /** Sorted by symbol line order, then by start. */
  readonly bars: PriceBar[];
  /** Symbol -> name, where the file gives one (`2.1. Name`, A-shares). */
  readonly names: Record<string, string>;
  /** Things kept or skipped that a person may want to know, each naming file:line. */
  readonly problems: string[];
}

function displayPath(path: string | URL): string {
  return path instanceof URL ? fileURLToPath(path) : path;
}

async function checkFile(file: string): Promise<void> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new InputError(`price file is not a file: ${file}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(`price file not found: ${file}`);
    throw e;
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new InputError(`${where}: not valid JSON (${why}); expected one Alpha Vantage object`);
  }
}

function symbolOf(doc: unknown): string | undefined {
  if (typeof doc !== 'object' || doc === null) return undefined;
  const meta = (doc as Record<string, unknown>)['Meta Data'];
  if (typeof meta !== 'object' || meta === null) return undefined;
  const s = (meta as Record<string, unknown>)['2. Symbol'];
  return typeof s === 'string' ? s : undefined;
}

/** The documents of a price file, each with `file:line` (the file is checked to exist first). */
export async function* priceDocuments(path: string | URL): AsyncGenerator<{ doc: unknown; where: string }> {
  const file = displayPath(path);
  await checkFile(file);
  yield* documents(file);
}

async function* documents(file: string): AsyncGenerator<{ doc: unknown; where: string }> {
  if (file.toLowerCase().endsWith('.json')) {
    const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
    if (text.trim() === '') return;
    yield { doc: parseJson(text, file), where: file };
    return;
  }
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const raw of lines) {
    n++;
    const line = n === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (line.trim() === '') continue; // blank lines (a trailing newline) carry nothing
    const where = `${file}:${n}`;
    yield { doc: parseJson(line, where), where };
  }
}

function refuseAbsurdBars(bars: readonly PriceBar[], where: string, limits: PriceSanityLimits): void {
  const market = bars[0]!.market;
  const found = checkBarPrints(market, bars, limits);
  if (found.length === 0) return;
  const zone = MARKETS[market].zone;
  const lines = found.map(
    (p) =>
      `${where}: ${p.symbol} at ${DateTime.fromMillis(p.atMs, { zone }).toFormat('yyyy-LL-dd HH:mm ZZZZ')}: price ${p.price.toFixed()} (${p.rule}) ${p.message}; ` +
      'fix the bar, or raise data_source.price_sanity.max_deviation_ratio if the move is real',
  );
  throw new InputError(`${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''}`, lines);
}

/** Read one price file (.jsonl: one object per line; .json: one object) into bars. */
export async function loadPriceFile(path: string | URL, opts: LoadPriceFileOptions = {}): Promise<LoadedPriceFile> {
  const file = displayPath(path);
  await checkFile(file);
  const wanted = opts.symbols ? new Set(opts.symbols) : undefined;
  const bars: PriceBar[] = [];
  const names: Record<string, string> = {};
  const problems: string[] = [];
  const seen = new Map<string, string>();
  let documentsRead = 0;
  for await (const { doc, where } of documents(file)) {
    documentsRead++;
    if (wanted) {
      const s = symbolOf(doc);
      if (s !== undefined && !wanted.has(s)) continue;
    }
    const parsed = parseAlphaVantageDocument(doc, {
      where,
      ...(opts.market ? { market: opts.market } : {}),
      ...(opts.meaning ? { meaning: opts.meaning } : {}),
    });
    const earlier = seen.get(parsed.symbol);
    if (earlier !== undefined) {
      throw new InputError(`${where}: ${parsed.symbol} appears again (first at ${earlier}); expected one object per symbol`);
    }
    seen.set(parsed.symbol, where);
    if (opts.sanity !== false && parsed.bars.length > 0) refuseAbsurdBars(parsed.bars, where, opts.sanity ?? DEFAULT_PRICE_SANITY);
    if (parsed.name !== undefined) names[parsed.symbol] = parsed.name;
    problems.push(...parsed.problems);
    for (const b of parsed.bars) bars.push(b);
  }
  if (documentsRead === 0) {
    throw new InputError(`price file is empty: ${file}; expected Alpha Vantage objects (one per line for .jsonl)`);
  }
  if (wanted) {
    const missing = [...wanted].filter((s) => !seen.has(s));
    if (missing.length > 0) throw new InputError(`${file}: no data for ${missing.join(', ')}`);
  }
  return { bars, names, problems };
}

export interface LoadPriceStoreOptions extends LoadPriceFileOptions {
  /** Called with each problem of each file (default: ignored; they are also in loadPriceFile's result). */
  readonly onProblem?: (problem: string) => void;
}

/** Read one or more price files into one point-in-time store (one interval per symbol). */
export async function loadPriceStore(
  paths: string | URL | readonly (string | URL)[],
  opts: LoadPriceStoreOptions = {},
): Promise<PriceStore> {
  const list = typeof paths === 'string' || paths instanceof URL ? [paths] : paths;
  const bars: PriceBar[] = [];
  for (const p of list) {
    const loaded = await loadPriceFile(p, opts);
    for (const problem of loaded.problems) opts.onProblem?.(problem);
    for (const b of loaded.bars) bars.push(b);
  }
  return PriceStore.from(bars);
}

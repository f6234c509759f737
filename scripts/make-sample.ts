/**
 * Make the bundled price sample in data/sample/ from the AI-Trader data in test/fixtures/ai-trader.
 *
 *   npx tsx scripts/make-sample.ts [SOURCE_DIR]      (default: test/fixtures/ai-trader)
 *
 * Lines of the .jsonl files are copied byte for byte (only the symbols kept), and the
 * .json files and the license are copied whole, so the sample is in exactly the formats
 * the loader reads in production. Fails if a wanted symbol is missing.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const source = resolve(process.argv[2] ?? resolve(repo, 'test/fixtures/ai-trader'));
const target = resolve(repo, 'data/sample');

/** SSE-50 heavyweights, incl. one STAR-market stock (688981.SH, ±20% price limit). */
const CN_SYMBOLS = ['600519.SH', '601318.SH', '600036.SH', '601899.SH', '600900.SH', '688981.SH'];
/** NASDAQ-100 large caps. */
const US_SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'TSLA'];

function symbolOfLine(line: string, where: string): string {
  const doc = JSON.parse(line) as { 'Meta Data'?: { '2. Symbol'?: unknown } };
  const s = doc['Meta Data']?.['2. Symbol'];
  if (typeof s !== 'string') throw new Error(`${where}: no "Meta Data" "2. Symbol"`);
  return s;
}

/** Keep the lines of `symbols`, in the order of `symbols`, byte for byte. */
function pickLines(from: string, to: string, symbols: readonly string[]): void {
  const path = resolve(source, from);
  const lines = readFileSync(path, 'utf8').split('\n');
  const bySymbol = new Map<string, string>();
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const s = symbolOfLine(line, `${path}:${i + 1}`);
    if (symbols.includes(s)) bySymbol.set(s, line);
  });
  const missing = symbols.filter((s) => !bySymbol.has(s));
  if (missing.length > 0) throw new Error(`${path}: missing ${missing.join(', ')}`);
  writeFileSync(resolve(target, to), symbols.map((s) => bySymbol.get(s)!).join('\n') + '\n');
  console.log(`${to}: ${symbols.length} symbols from ${from}`);
}

function copy(from: string, to: string): void {
  // Read and write rather than copyFile: the source is read-only and its mode must not follow.
  writeFileSync(resolve(target, to), readFileSync(resolve(source, from)));
  console.log(`${to}: copied from ${from}`);
}

mkdirSync(target, { recursive: true });
pickLines('cn/sse50_daily.jsonl', 'cn_daily.jsonl', CN_SYMBOLS);
pickLines('cn/sse50_60min.jsonl', 'cn_hourly.jsonl', CN_SYMBOLS);
pickLines('us/nasdaq100_60min.jsonl', 'us_hourly.jsonl', US_SYMBOLS);
copy('us/QQQ_60min.json', 'QQQ_60min.json');
copy('cn/sse50_index_daily.json', 'sse50_index_daily.json');
copy('AI-Trader.LICENSE', 'AI-Trader.LICENSE');

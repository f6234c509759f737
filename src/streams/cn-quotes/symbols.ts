/**
 * A-share symbols as our system writes them (`600519.SH`, `000001.SZ`, `430047.BJ`) and as
 * each public quote source wants them:
 *
 * | ours        | Sina / Tencent | Eastmoney secid | Tushare     |
 * |-------------|----------------|-----------------|-------------|
 * | 600519.SH   | sh600519       | 1.600519        | 600519.SH   |
 * | 000001.SZ   | sz000001       | 0.000001        | 000001.SZ   |
 * | 430047.BJ   | bj430047       | 0.430047        | 430047.BJ   |
 *
 * Eastmoney's market number is 1 for Shanghai and 0 for Shenzhen; Beijing stocks also sit
 * under 0 there (an assumption from community clients, not verified against a live answer).
 * Pure code, no I/O.
 */
import { InputError } from '../../domain/errors.js';

export type CnExchange = 'SH' | 'SZ' | 'BJ';

export interface CnSymbol {
  /** Our form: `600519.SH`. */
  readonly symbol: string;
  /** Six digits. */
  readonly code: string;
  readonly exchange: CnExchange;
}

const SYMBOL = /^(\d{6})\.(SH|SZ|BJ)$/;

/** Parse `600519.SH`; anything else is an InputError naming the symbol. */
export function parseCnSymbol(symbol: string): CnSymbol {
  const m = SYMBOL.exec(symbol);
  if (m === null) throw new InputError(`not an A-share symbol: "${symbol}" (expected six digits and .SH, .SZ or .BJ, e.g. 600519.SH)`);
  return { symbol, code: m[1] as string, exchange: m[2] as CnExchange };
}

/** Parse many, once each, keeping the first-seen order. */
export function parseCnSymbols(symbols: readonly string[]): CnSymbol[] {
  const seen = new Set<string>();
  const out: CnSymbol[] = [];
  for (const s of symbols) {
    if (seen.has(s)) continue;
    seen.add(s);
    out.push(parseCnSymbol(s));
  }
  return out;
}

/** `sh600519`: Sina's and Tencent's code. */
export function prefixedCode(s: CnSymbol): string {
  return `${s.exchange.toLowerCase()}${s.code}`;
}

/** `1.600519`: Eastmoney's secid (market number, dot, code). */
export function eastmoneySecid(s: CnSymbol): string {
  return `${s.exchange === 'SH' ? 1 : 0}.${s.code}`;
}

/** `600519.SH`: Tushare's ts_code is our own form. */
export function tushareCode(s: CnSymbol): string {
  return `${s.code}.${s.exchange}`;
}

/** Split into batches of at most `size` (one request each). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const n = Math.max(1, Math.floor(size));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

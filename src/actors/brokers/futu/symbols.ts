/**
 * Our symbols <-> Futu's {code, secMarket}, and what each trading market (TrdMarket) trades, as
 * tables:
 *
 *   600519.SH <-> {code '600519', secMarket 31 (TrdSecMarket_CN_SH)}
 *   000001.SZ <-> {code '000001', secMarket 32 (TrdSecMarket_CN_SZ)}
 *   00700.HK  <-> {code '00700',  secMarket 1  (TrdSecMarket_HK)}
 *   AAPL      <-> {code 'AAPL',   secMarket 2  (TrdSecMarket_US)}
 *
 * Futu wants HK codes as 5 digits and A-share codes as 6 (Trd_PlaceOrder.proto).
 */

export type FutuMarket = 'HK' | 'US' | 'CN' | 'HKCC';

export interface FutuMarketFacts {
  /** Trd_Common.TrdMarket. */
  readonly trdMarket: number;
  /** The TrdSecMarket values an account of this market trades. */
  readonly secMarkets: readonly number[];
  /** Trd_Common.Currency of GetFunds (required for universal accounts, ignored by others). */
  readonly currency: number;
  /** Decimals of the currency's minor unit (cash is rounded to it). */
  readonly minorUnitDecimals: number;
  /** The zone of OpenD's "YYYY-MM-DD HH:MM:SS" times for this market (used when a timestamp is missing; ASSUMED the exchange's). */
  readonly zone: string;
  /** Shares bought today cannot be sold before the next trading day. */
  readonly tPlusOne: boolean;
}

export const FUTU_MARKETS: Readonly<Record<FutuMarket, FutuMarketFacts>> = {
  HK: { trdMarket: 1, secMarkets: [1], currency: 1 /* HKD */, minorUnitDecimals: 2, zone: 'Asia/Hong_Kong', tPlusOne: false },
  US: { trdMarket: 2, secMarkets: [2], currency: 2 /* USD */, minorUnitDecimals: 2, zone: 'America/New_York', tPlusOne: false },
  CN: { trdMarket: 3, secMarkets: [31, 32], currency: 3 /* CNH */, minorUnitDecimals: 2, zone: 'Asia/Shanghai', tPlusOne: true },
  HKCC: { trdMarket: 4, secMarkets: [31, 32], currency: 3 /* CNH */, minorUnitDecimals: 2, zone: 'Asia/Shanghai', tPlusOne: true },
};

interface SymbolRule {
  readonly secMarket: number;
  /** Our symbol -> code (undefined: not this rule). */
  readonly match: RegExp;
  readonly suffix: string;
}

/** First match wins; US last (its codes are plain tickers, a dot allowed: BRK.B). */
export const SYMBOL_RULES: readonly SymbolRule[] = [
  { secMarket: 31, match: /^(\d{6})\.SH$/i, suffix: '.SH' },
  { secMarket: 32, match: /^(\d{6})\.SZ$/i, suffix: '.SZ' },
  { secMarket: 1, match: /^(\d{5})\.HK$/i, suffix: '.HK' },
  { secMarket: 2, match: /^([A-Z][A-Z0-9]*(?:\.[A-Z])?)$/i, suffix: '' },
];

export interface FutuSecurity {
  readonly code: string;
  readonly secMarket: number;
}

export function toFutu(symbol: string): FutuSecurity | undefined {
  for (const r of SYMBOL_RULES) {
    const m = r.match.exec(symbol);
    if (m) return { code: m[1]!.toUpperCase(), secMarket: r.secMarket };
  }
  return undefined;
}

/**
 * Futu's code back to our symbol. `secMarket` missing (an older OpenD): the account's market
 * decides, and for A-shares the code's first digit (6, 5, 9: Shanghai; otherwise Shenzhen).
 * A security of a market we do not map keeps Futu's code as it is.
 */
export function fromFutu(code: string, secMarket: number | undefined, market: FutuMarket): string {
  const sm = secMarket && secMarket !== 0 ? secMarket : market === 'HK' ? 1 : market === 'US' ? 2 : /^[569]/.test(code) ? 31 : 32;
  const rule = SYMBOL_RULES.find((r) => r.secMarket === sm);
  return rule ? `${code}${rule.suffix}` : code;
}

/**
 * Quotes name a security by Qot_Common.QotMarket, not by TrdSecMarket: our symbol <-> {market,
 * code}, with the zone of the exchange's local times (a quote's `updateTime` is read in it).
 */
export const QOT_MARKETS: Readonly<Record<number, { readonly secMarket: number; readonly zone: string }>> = {
  1: { secMarket: 1, zone: 'Asia/Hong_Kong' }, // QotMarket_HK_Security
  11: { secMarket: 2, zone: 'America/New_York' }, // QotMarket_US_Security
  21: { secMarket: 31, zone: 'Asia/Shanghai' }, // QotMarket_CNSH_Security
  22: { secMarket: 32, zone: 'Asia/Shanghai' }, // QotMarket_CNSZ_Security
};

const QOT_OF_SEC: ReadonlyMap<number, number> = new Map(Object.entries(QOT_MARKETS).map(([qot, m]) => [m.secMarket, Number(qot)]));

export interface QotSecurity {
  /** Qot_Common.QotMarket. */
  readonly market: number;
  readonly code: string;
}

export function toQotSecurity(symbol: string): QotSecurity | undefined {
  const s = toFutu(symbol);
  const market = s && QOT_OF_SEC.get(s.secMarket);
  return s && market !== undefined ? { market, code: s.code } : undefined;
}

/** Our symbol of a quote's security; undefined for a market we do not map. */
export function fromQotSecurity(q: QotSecurity): string | undefined {
  const m = QOT_MARKETS[q.market];
  const rule = m && SYMBOL_RULES.find((r) => r.secMarket === m.secMarket);
  return rule ? `${q.code.toUpperCase()}${rule.suffix}` : undefined;
}

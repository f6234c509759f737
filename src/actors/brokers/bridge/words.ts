/**
 * The terminal's words in tables: an entrust's status (备注 / 委托状态: 已报, 部成, 已成, 已撤, 部撤,
 * 废单 ..., or miniQMT's order_status numbers) -> our VenueOrderState; an operation (操作 / 买卖标志:
 * 买入, 证券卖出 ...) -> a side; a market (交易市场: 上海A股, 深A ...) -> an exchange; and the six-digit
 * code <-> our symbol (600519 <-> 600519.SH), by the exchanges' code ranges where no market column
 * says.
 */
import type { CnExchange } from '../../../streams/cn-quotes/symbols.js';
import type { VenueOrderState } from '../venue-adapter.js';

/**
 * Status words, first match wins (so 部成待撤 is `cancelling` before 部成 is `open`, and 部撤, the
 * rest cancelled after a partial fill, is `cancelled` with its filled quantity). Anchored at the
 * start: 备注 may carry the reason after the word (废单:资金不足). miniQMT's xtconstant numbers
 * (ORDER_UNREPORTED 48 ... ORDER_JUNK 57) come with order_status_name, the numbers are the
 * fallback.
 */
export const STATUS_WORDS: readonly { readonly pattern: RegExp; readonly state: VenueOrderState }[] = [
  { pattern: /^(废单|废|拒绝|已拒绝|撤单失败后废|57$)/, state: 'rejected' },
  { pattern: /^(已报待撤|部成待撤|待撤|正撤|撤单中|撤单已报|51$|52$)/, state: 'cancelling' },
  { pattern: /^(部撤|部分撤单|部分撤销|部成已撤|53$)/, state: 'cancelled' },
  { pattern: /^(已撤|全部撤单|全撤|场内撤单|场外撤单|撤单成功|已撤销|54$)/, state: 'cancelled' },
  { pattern: /^(已成|全部成交|全成|已成交|56$)/, state: 'filled' },
  { pattern: /^(部成|部分成交|55$)/, state: 'open' },
  { pattern: /^(已报|未成交|未成|已确认|已申报|正常|50$)/, state: 'open' },
  { pattern: /^(未报|待报|正报|已受理|48$|49$)/, state: 'pending' },
];

/**
 * A status word the table does not know: never a terminal guess the tracker cannot take back,
 * unless the quantities say it (all filled). The raw word is kept for the logs.
 */
export function venueState(status: string, quantity: number, filled: number): { state: VenueOrderState; known: boolean } {
  const word = status.trim();
  const hit = STATUS_WORDS.find((s) => s.pattern.test(word));
  if (hit) return { state: hit.state, known: true };
  return { state: quantity > 0 && filled >= quantity ? 'filled' : 'open', known: false };
}

/**
 * Operations, first match wins; `null`: not a buy or a sell of shares (a cancel request listed as
 * its own row, an IPO subscription): such rows are not orders of ours and are left out.
 * 23 / 24: xtconstant.STOCK_BUY / STOCK_SELL (miniQMT's order_type).
 */
export const SIDE_WORDS: readonly { readonly pattern: RegExp; readonly side: 'buy' | 'sell' | null }[] = [
  { pattern: /撤/, side: null },
  { pattern: /申购|配售|配号|中签|配股|转托|指定|回购|质押/, side: null },
  { pattern: /买|^B$|^buy$|^23$/i, side: 'buy' },
  { pattern: /卖|^S$|^sell$|^24$/i, side: 'sell' },
];

export function sideOf(word: string): 'buy' | 'sell' | null | undefined {
  const w = word.trim();
  const hit = SIDE_WORDS.find((s) => s.pattern.test(w));
  return hit === undefined ? undefined : hit.side;
}

/** 交易市场 / 市场 column values (上海A股, 深A, 沪A, 北交所 ...) and miniQMT's code suffix. */
export const MARKET_WORDS: readonly { readonly pattern: RegExp; readonly exchange: CnExchange }[] = [
  { pattern: /沪|上海|上证|^SH$|^SSE$/i, exchange: 'SH' },
  { pattern: /深|^SZ$|^SZSE$/i, exchange: 'SZ' },
  { pattern: /京|北交|^BJ$|^BSE$/i, exchange: 'BJ' },
];

export function exchangeOfMarket(word: string): CnExchange | undefined {
  return MARKET_WORDS.find((m) => m.pattern.test(word.trim()))?.exchange;
}

/**
 * The exchange a six-digit code trades on, by the code ranges (first match): Beijing 4xxxxx,
 * 8xxxxx and 920xxx; Shanghai 5xxxxx (funds), 6xxxxx, 9xxxxx (B shares), 11xxxx (bonds);
 * Shenzhen 0xxxxx, 1xxxxx (funds, bonds), 2xxxxx (B shares), 3xxxxx. This is how the terminals
 * themselves pick the market from the code typed in, so it is also what the bridge will do with
 * the code we send.
 */
export const CODE_RANGES: readonly { readonly pattern: RegExp; readonly exchange: CnExchange }[] = [
  { pattern: /^(4|8|92)/, exchange: 'BJ' },
  { pattern: /^(5|6|9|11)/, exchange: 'SH' },
  { pattern: /^(0|1|2|3)/, exchange: 'SZ' },
];

export function exchangeOfCode(code: string): CnExchange | undefined {
  return CODE_RANGES.find((r) => r.pattern.test(code))?.exchange;
}

/**
 * The six digits and exchange of a code as the bridge wrote it: `600519`, 600519 (a number:
 * `000001` arrives as 1 when a grid column was parsed as numbers), `600519.SH` (miniQMT's
 * stock_code), `SH600519`.
 */
export function parseBridgeCode(raw: string, market?: string): { code: string; exchange: CnExchange } | undefined {
  const text = raw.trim();
  const after = /^(\d{6})\.(SH|SZ|BJ)$/i.exec(text);
  if (after) return { code: after[1]!, exchange: after[2]!.toUpperCase() as CnExchange };
  const before = /^(SH|SZ|BJ)(\d{6})$/i.exec(text);
  if (before) return { code: before[2]!, exchange: before[1]!.toUpperCase() as CnExchange };
  if (!/^\d{1,6}$/.test(text)) return undefined;
  const code = text.padStart(6, '0');
  const exchange = (market !== undefined ? exchangeOfMarket(market) : undefined) ?? exchangeOfCode(code);
  return exchange === undefined ? undefined : { code, exchange };
}

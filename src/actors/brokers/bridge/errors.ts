/**
 * The bridge's answers classed once, here at the edge, into the venue contract's three classes
 * (venue-adapter.ts). easytrader's server answers every Python exception with 400
 * `{"error": "<class 'module.Class'>: message"}`, whatever it was, so the class and the message
 * decide, by tables:
 *
 *   400 on /buy, /sell      the terminal's refusal (TradeError: 可用资金不足 ...)   VenueRefused + reason (REFUSAL_REASONS)
 *                           the GUI automation failed mid-way (pywinauto ...)     VenueUnavailable, outcome unknown
 *                           not prepared (KeyError 'user': it restarted)          VenueUnavailable, outcome known (nothing sent)
 *   400 on /prepare         the login failed                                      VenueHalted (a retried bad password locks the account)
 *   400 on a read           the bridge could not read the terminal                VenueUnavailable
 *   401 / 403               the token is refused (a guard in front of the bridge) VenueHalted
 *   404 / 405               no such route (not easytrader's server?)              VenueUnavailable, outcome known
 *   5xx, a timeout, a reset                                                       VenueUnavailable, outcome unknown
 *   connection refused, no such host                                             VenueUnavailable, outcome known
 */
import type { ReasonCode } from '../../../domain/reasons.js';

/** The terminal's refusal sentences -> our reason codes (first match; otherwise BROKER_REJECTED). */
export const REFUSAL_REASONS: readonly { readonly pattern: RegExp; readonly reason: ReasonCode }[] = [
  { pattern: /资金不足|可用资金|余额不足|金额不足/, reason: 'INSUFFICIENT_CASH' },
  { pattern: /股份不足|可用股份|可卖数量不足|证券可用数量不足|持仓不足|可用数量不足/, reason: 'INSUFFICIENT_POSITION' },
  { pattern: /数量|整数倍|100股|一手|最小单位/, reason: 'LOT_SIZE' },
  { pattern: /涨停|跌停|涨跌|价格超出|超出.*价格|价格笼子/, reason: 'PRICE_LIMIT' },
  { pattern: /非交易时间|不允许.*交易|闭市|休市|未开市|不在交易时间/, reason: 'MARKET_CLOSED' },
  { pattern: /代码.*(不存在|错误|无效)|无此证券|证券代码/, reason: 'UNKNOWN_SYMBOL' },
];

export function refusalReason(message: string): ReasonCode {
  return REFUSAL_REASONS.find((r) => r.pattern.test(message))?.reason ?? 'BROKER_REJECTED';
}

/** `<class 'easytrader.exceptions.TradeError'>: 可用资金不足` -> its class and message. */
export function splitPythonError(error: string): { readonly pythonClass?: string; readonly message: string } {
  const m = /^<class '([^']+)'>:\s*([\s\S]*)$/.exec(error.trim());
  return m ? { pythonClass: m[1]!, message: m[2]!.trim() } : { message: error.trim() };
}

/**
 * What a 400 on /buy or /sell means, by the Python class easytrader raised: checked in order,
 * the first match wins; an error without a class (another bridge) is a refusal.
 * - `not_prepared`: `global_store["user"]` is unset (the bridge restarted): nothing was sent.
 * - `uncertain`: the automation broke while driving the terminal's window, maybe after the
 *   submit button was pressed: the entrust may exist, ask before sending again.
 * - `refused`: the terminal's own answer (TradeError), or anything else.
 */
export const BUY_ERROR_CLASSES: readonly { readonly test: (e: { pythonClass?: string; message: string }) => boolean; readonly kind: 'not_prepared' | 'uncertain' | 'refused' }[] = [
  { test: (e) => isNotPrepared(e), kind: 'not_prepared' },
  { test: (e) => /TradeError/.test(e.pythonClass ?? ''), kind: 'refused' },
  { test: (e) => /pywinauto|TimeoutError|ElementNotFound|ElementAmbiguous|COMError|pywintypes|RuntimeError|OSError/.test(e.pythonClass ?? ''), kind: 'uncertain' },
];

export function buyErrorKind(error: string): 'not_prepared' | 'uncertain' | 'refused' {
  const e = splitPythonError(error);
  return BUY_ERROR_CLASSES.find((c) => c.test(e))?.kind ?? 'refused';
}

/** easytrader before /prepare (or after its own restart): `KeyError: 'user'`. */
export function isNotPrepared(e: { pythonClass?: string; message: string }): boolean {
  return /KeyError/.test(e.pythonClass ?? '') && /^'?user'?$/.test(e.message);
}

/**
 * Connection errors (undici's `cause.code`) where the request certainly never reached the
 * bridge: sending again is safe. Anything else (a reset, a closed socket, a timeout) may have
 * been carried out.
 */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Cancel answers that say no (easytrader answers 201 with a message; miniQMT `success: false`). */
export const CANCEL_REFUSED = /不能撤单|撤单失败|失败|错误|不允许|failed|error/i;

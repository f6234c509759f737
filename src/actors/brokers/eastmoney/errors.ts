/**
 * EastMoney's answers classed once, here at the edge (venue-adapter.ts says what each class
 * means for the caller):
 *
 *   VenueRefused      a submit answered Status != 0 with a Message (the reason from REFUSAL_REASONS);
 *                     a revoke answered with an error sentence
 *   VenueHalted       the session is dead: a redirect (to the login page), an HTML page instead
 *                     of JSON, Status -2 (ASSUMED) or a Message saying so (SESSION_EXPIRED); also
 *                     401/403, and a 404 (the site moved the route: our protocol no longer fits)
 *   VenueUnavailable  5xx, a timeout, a dropped connection (outcome unknown); a refused
 *                     connection (outcomeKnown: nothing reached the site); an answer that does not
 *                     parse (outcome unknown, naming the field)
 *
 * Messages carry the route, the status and the site's own words, never the cookie or the
 * validatekey: `Redactor` takes them out of every text that came from outside (an HTML login
 * page carries the validatekey in a hidden input; a fetch error may quote the URL).
 */
import type { ReasonCode } from '../../../domain/reasons.js';

/** The site's refusal sentences -> our reason codes (first match; otherwise BROKER_REJECTED). */
export const REFUSAL_REASONS: readonly { readonly pattern: RegExp; readonly reason: ReasonCode }[] = [
  { pattern: /资金不足|可用资金.*不足|余额不足/, reason: 'INSUFFICIENT_CASH' },
  { pattern: /股份不足|可用数量不足|持仓不足|可卖数量不足|可用股份/, reason: 'INSUFFICIENT_POSITION' },
  { pattern: /整数倍|100股|一手/, reason: 'LOT_SIZE' },
  { pattern: /涨跌幅|涨跌停|价格超出|超出.*价格|价格.*超出/, reason: 'PRICE_LIMIT' },
  { pattern: /非交易时间|不在交易时间|休市|闭市|当前时间不允许/, reason: 'MARKET_CLOSED' },
  { pattern: /证券代码.*(不存在|错误|有误)|无此证券|代码不存在/, reason: 'UNKNOWN_SYMBOL' },
];

export function refusalReason(brokerMessage: string): ReasonCode {
  return REFUSAL_REASONS.find((r) => r.pattern.test(brokerMessage))?.reason ?? 'BROKER_REJECTED';
}

/** A Message that means the session is gone (the site's and its gateway's words). */
export const SESSION_EXPIRED = /会话已超时|会话超时|会话已失效|登录超时|请重新登录|重新登录|未登录|登录已失效|身份验证失败/;

/** ASSUMED: the Status the JSON routes answer a dead session with. */
export const SESSION_EXPIRED_STATUS = '-2';

/** The markers of the login page (its account field, its form), when it comes back instead of JSON. */
export function looksLikeHtml(body: string): boolean {
  const head = body.trimStart().slice(0, 200).toLowerCase();
  return head.startsWith('<') || head.includes('<html') || head.includes('<!doctype');
}

/** Takes the session's secrets out of any text before it goes into an error. */
export class Redactor {
  readonly #secrets: string[];

  constructor(cookie: string, validatekey: string) {
    const values = cookie
      .split(';')
      .map((pair) => pair.slice(pair.indexOf('=') + 1).trim())
      // Short values (a flag, "1") are no secret and would blank every digit of a message.
      .filter((v) => v.length >= 6);
    // Longest first, so a value that contains another goes whole.
    this.#secrets = [cookie.trim(), validatekey.trim(), encodeURIComponent(validatekey.trim()), ...values, ...values.map((v) => encodeURIComponent(v))]
      .filter((s) => s.length >= 6)
      .sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) out = out.split(s).join('***');
    return out;
  }
}

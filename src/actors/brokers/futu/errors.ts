/**
 * OpenD's failures classed once, here at the edge, by what the caller must do (venue-adapter.ts):
 *
 *   a reply whose body's retType (Common.RetType) is not 0:
 *     -1   Failed      'refused'  OpenD or Futu said no to this request (retMsg says why)
 *     -500 Invalid     'refused'  the packet is invalid: sending it again will not help
 *     -100 TimeOut     'unknown'  OpenD's own wait on Futu's server ran out: it may have gone through
 *     -200 DisConnect  'unknown'  OpenD lost Futu's server mid-request
 *     -400 Unknown     'unknown'  (also any value not listed)
 *   a reply whose header `error` is not 0: 'unknown' (futu-api documents no values; ASSUMED)
 *
 * then, by cmd and by Futu's words (first match):
 *   - the handshake (InitWebSocket) failing in any way: 'halt' (a wrong websocket key; futu-api's
 *     base.js gives up too: "初始化失败，理解为用户环境配置问题，不再尝试了");
 *   - UnlockTrade refused: 'halt' (a wrong trade password: retrying it locks the account);
 *   - a refusal that says the account must be unlocked: 'halt';
 *   - a refusal that says "too frequent": 'throttled' (certainly not carried out; ask again later);
 *   - a refused quote subscription (Qot_Sub): 'refused' (a code OpenD does not know, no quote
 *     rights for the market, the subscription quota used up: asking again will not help);
 *   - a refused READ (orders, fills, funds, ...): 'throttled' too (a read has no outcome to lose,
 *     and there is no order to reject).
 *
 * 'refused' -> VenueRefused (with a reason code from Futu's words), 'unknown' -> VenueUnavailable
 * (outcome unknown), 'throttled' -> VenueUnavailable (outcome known), 'halt' -> VenueHalted.
 * Messages name the request, Futu's retMsg, retType and errCode; never a key or a password.
 */
import type { ReasonCode } from '../../../domain/reasons.js';
import { VenueHalted, VenueRefused, VenueUnavailable, type VenueError } from '../venue-adapter.js';
import type { FutuCmdName } from './protos.js';

export type FutuErrorClass = 'refused' | 'unknown' | 'throttled' | 'halt';

/** Common.RetType -> class; values not listed are 'unknown'. */
export const RET_TYPE_CLASS: Readonly<Record<number, FutuErrorClass>> = {
  [-1]: 'refused',
  [-100]: 'unknown',
  [-200]: 'unknown',
  [-400]: 'unknown',
  [-500]: 'refused',
};

/** The cmds that change something at the broker: a refusal of one of these rejects the order / cancel. */
export const WRITE_CMDS: ReadonlySet<FutuCmdName> = new Set(['Trd_PlaceOrder', 'Trd_ModifyOrder']);

/** Requests whose refusal stands (asking again gives the same answer), though they change nothing at the broker. */
export const FINAL_REFUSAL_CMDS: ReadonlySet<FutuCmdName> = new Set(['Qot_Sub']);

/** Futu's words that override the class (first match). OpenD answers in its UI language: both kept. */
export const MESSAGE_CLASS: readonly { readonly pattern: RegExp; readonly cls: FutuErrorClass }[] = [
  { pattern: /unlock|解锁/i, cls: 'halt' },
  { pattern: /too (frequent|many requests)|rate limit|频繁|频率/i, cls: 'throttled' },
];

/** Futu's refusal sentences -> our reason codes (first match; otherwise BROKER_REJECTED). */
export const REFUSAL_REASONS: readonly { readonly pattern: RegExp; readonly reason: ReasonCode }[] = [
  { pattern: /buying power|insufficient (cash|funds?)|购买力不足|资金不足/i, reason: 'INSUFFICIENT_CASH' },
  { pattern: /insufficient (position|quantity|shares)|sellable|可卖(数量)?不足|持仓不足/i, reason: 'INSUFFICIENT_POSITION' },
  { pattern: /lot size|board lot|whole number of lots|整手|每手/i, reason: 'LOT_SIZE' },
  { pattern: /price limit|涨停|跌停|涨跌幅/i, reason: 'PRICE_LIMIT' },
  { pattern: /market (is )?closed|not (in )?trading (hours|time)|休市|非交易时段|非交易时间/i, reason: 'MARKET_CLOSED' },
  { pattern: /unknown (stock|security|code)|no such (stock|security)|未知(股票|证券)|代码(不存在|错误)/i, reason: 'UNKNOWN_SYMBOL' },
];

export function refusalReason(message: string): ReasonCode {
  return REFUSAL_REASONS.find((r) => r.pattern.test(message))?.reason ?? 'BROKER_REJECTED';
}

export interface FutuFailure {
  readonly cmd: FutuCmdName;
  /** The body's retType, when there was a body. */
  readonly retType?: number | undefined;
  readonly retMsg?: string | undefined;
  readonly errCode?: number | undefined;
  /** The header's error (WebSocket layer), when not 0. */
  readonly headerError?: number | undefined;
  readonly headerMsg?: string | undefined;
}

export function classify(f: FutuFailure): FutuErrorClass {
  if (f.cmd === 'InitWebSocket') return 'halt';
  if (f.headerError !== undefined && f.headerError !== 0) return 'unknown';
  const base = RET_TYPE_CLASS[f.retType ?? -400] ?? 'unknown';
  if (base !== 'refused') return base;
  if (f.cmd === 'Trd_UnlockTrade') return 'halt';
  const byWords = MESSAGE_CLASS.find((m) => m.pattern.test(f.retMsg ?? ''))?.cls;
  if (byWords) return byWords;
  return WRITE_CMDS.has(f.cmd) || FINAL_REFUSAL_CMDS.has(f.cmd) ? 'refused' : 'throttled';
}

/** "Futu OpenD refused Trd_PlaceOrder: <retMsg> (retType -1, errCode 7)". */
export function describe(f: FutuFailure): string {
  const parts: string[] = [];
  if (f.headerError !== undefined && f.headerError !== 0) parts.push(`header error ${f.headerError}${f.headerMsg ? ` ${JSON.stringify(f.headerMsg)}` : ''}`);
  if (f.retType !== undefined) parts.push(`retType ${f.retType}`);
  if (f.errCode !== undefined) parts.push(`errCode ${f.errCode}`);
  const said = f.retMsg || f.headerMsg || 'no message';
  return `Futu OpenD failed ${f.cmd}: ${said} (${parts.join(', ')})`;
}

export function futuError(f: FutuFailure): VenueError {
  const message = describe(f);
  switch (classify(f)) {
    case 'refused':
      return new VenueRefused(message, refusalReason(f.retMsg ?? ''));
    case 'throttled':
      return new VenueUnavailable(message, true);
    case 'halt':
      return new VenueHalted(`${message}: trading stops`);
    case 'unknown':
      return new VenueUnavailable(message, false);
  }
}

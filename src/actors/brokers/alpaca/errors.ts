/**
 * Alpaca's answers classed once, here at the edge, by what the caller must do (STYLE.md, Errors):
 *
 *   retry  AlpacaTemporaryError   429 (honour Retry-After), 5xx, 408/425, a timeout, a network error
 *   never  AlpacaInvalidOrder     400, 403 (buying power, quantity), 409, 422 (validation) and other 4xx
 *   halt   AlpacaOperationalError 401: the keys are wrong or revoked; trading must stop (a critical alert)
 *          AlpacaNotFound         404: an answer, not a failure (an order the broker does not have)
 *
 * `outcomeKnown` on a temporary error says whether the request was certainly NOT carried out (a
 * 429 is refused before it runs): a timeout, a lost connection or a 5xx may have committed, so a
 * submit that ends that way is looked up by its client order id, never sent again blindly.
 *
 * Messages carry the method, the path, the status and Alpaca's own `{code, message}`, never a
 * header: the key and the secret cannot end up in an error, a log line or an alert.
 */
import type { ReasonCode } from '../../../domain/reasons.js';

export type AlpacaErrorClass = 'retry' | 'never' | 'halt' | 'not_found';

/** What each HTTP status means for the caller; statuses not listed: 5xx retry, other 4xx never. */
export const STATUS_CLASS: Readonly<Record<number, AlpacaErrorClass>> = {
  400: 'never',
  401: 'halt',
  403: 'never',
  404: 'not_found',
  408: 'retry',
  409: 'never',
  422: 'never',
  425: 'retry',
  429: 'retry',
};

export function classifyStatus(status: number): AlpacaErrorClass {
  return STATUS_CLASS[status] ?? (status >= 500 ? 'retry' : 'never');
}

/** Alpaca's error body. */
export interface AlpacaErrorBody {
  readonly code?: number;
  readonly message: string;
}

export class AlpacaError extends Error {
  override readonly name: string = 'AlpacaError';
  constructor(
    message: string,
    /** HTTP status, when there was an answer. */
    readonly status?: number,
    /** Alpaca's error code (40310000, 40010001, ...). */
    readonly code?: number,
    /** Alpaca's own message, as it sent it. */
    readonly brokerMessage?: string,
  ) {
    super(message);
  }
}

export class AlpacaTemporaryError extends AlpacaError {
  override readonly name: string = 'AlpacaTemporaryError';
  constructor(
    message: string,
    status: number | undefined,
    code: number | undefined,
    brokerMessage: string | undefined,
    /** True when the request was certainly not carried out (429). */
    readonly outcomeKnown: boolean,
    /** From Retry-After (or X-RateLimit-Reset), ms from now. */
    readonly retryAfterMs?: number,
  ) {
    super(message, status, code, brokerMessage);
  }
}

export class AlpacaInvalidOrder extends AlpacaError {
  override readonly name: string = 'AlpacaInvalidOrder';
}

export class AlpacaOperationalError extends AlpacaError {
  override readonly name: string = 'AlpacaOperationalError';
}

export class AlpacaNotFound extends AlpacaError {
  override readonly name: string = 'AlpacaNotFound';
}

/** 422 40010001 "client_order_id must be unique": Alpaca already has an order with this id. */
export function isDuplicateClientOrderId(e: unknown): boolean {
  return e instanceof AlpacaInvalidOrder && e.status === 422 && /client_order_id must be unique/i.test(e.brokerMessage ?? '');
}

/** Alpaca's refusal sentences -> our reason codes (first match; otherwise BROKER_REJECTED). */
export const REFUSAL_REASONS: readonly { readonly pattern: RegExp; readonly reason: ReasonCode }[] = [
  { pattern: /buying power|insufficient (cash|funds)/i, reason: 'INSUFFICIENT_CASH' },
  { pattern: /insufficient qty|qty available|not enough (shares|qty)|position/i, reason: 'INSUFFICIENT_POSITION' },
  { pattern: /asset .*not (found|tradable|active)|not tradable|could not find asset/i, reason: 'UNKNOWN_SYMBOL' },
  { pattern: /market (is )?closed|outside of market hours/i, reason: 'MARKET_CLOSED' },
];

export function refusalReason(brokerMessage: string): ReasonCode {
  return REFUSAL_REASONS.find((r) => r.pattern.test(brokerMessage))?.reason ?? 'BROKER_REJECTED';
}

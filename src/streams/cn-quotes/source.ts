/**
 * What the A-share polling core needs from a quote source, and the HTTP plumbing they share.
 *
 * A source turns one batch of symbols into one request and its answer into per-symbol
 * results: a quote, or a state that says why there is none (halted, unknown to the source,
 * request failed). Records it cannot read are returned as `malformed`, never thrown: the
 * core counts and skips them. A request that fails as a whole (HTTP error, timeout, empty
 * body, the source's own error code) throws a CnQuoteError, which the core counts as a
 * failed poll.
 *
 * Timeouts run on the injected RxJS scheduler, not on AbortSignal.timeout: a virtual
 * scheduler in tests decides when a slow answer times out, so no test waits on wall time.
 * Error messages name the source and what went wrong, never a URL with a secret in it
 * (the only secret, the Tushare token, travels in a POST body and is redacted from any
 * text a source sends back).
 */
import { TextDecoder } from 'node:util';
import type { SchedulerLike } from 'rxjs';
import { dec } from '../../domain/money.js';
import type { Quote } from '../../domain/quotes.js';
import type { CnSymbol } from './symbols.js';

export type CnSourceName = 'sina' | 'tencent' | 'eastmoney' | 'tushare';
export const CN_SOURCE_NAMES: readonly CnSourceName[] = ['sina', 'tencent', 'eastmoney', 'tushare'];

/**
 * Why a symbol has (or has no) quote, as of the last answer about it:
 * - ok: a quote came (it may still be a duplicate of one already delivered);
 * - halted: the source says trading is suspended, or the price is 0 / missing (no trade
 *   today: suspended, or before the opening auction). Never turned into a 0 price;
 * - unknown: the source does not know the code (or gave no record for it);
 * - error: the request for it failed (see `reason`).
 */
export type SymbolStateKind = 'ok' | 'halted' | 'unknown' | 'error';

export interface SymbolResult {
  readonly symbol: string;
  readonly state: SymbolStateKind;
  readonly quote?: Quote;
  /** The security's name as the source gives it (decoded from GBK where needed). */
  readonly name?: string;
  /** For people: why there is no quote (halt code and meaning, ...). */
  readonly reason?: string;
}

/** A record a parser could not read, and why. */
export interface Bad {
  readonly bad: string;
}

export interface MalformedRecord {
  readonly reason: string;
  /** The offending text, at most 200 characters. */
  readonly sample: string;
}

export interface BatchAnswer {
  readonly results: readonly SymbolResult[];
  readonly malformed: readonly MalformedRecord[];
  /** Records the parser recognised (valid or not about a requested symbol); 0 with malformed > 0 means garbage. */
  readonly recognised: number;
}

export interface FetchContext {
  readonly timeoutMs: number;
  readonly scheduler: SchedulerLike;
  /** Epoch ms, the injected clock (Tushare derives its date window from it). */
  readonly now: () => number;
  /** Aborts the request (the feed is closing). */
  readonly signal?: AbortSignal;
}

export interface CnQuoteSource {
  readonly name: CnSourceName;
  /** At most this many symbols per request. */
  readonly maxBatch: number;
  /** One request for `symbols` (≤ maxBatch). Throws CnQuoteError when the request fails as a whole. */
  fetchBatch(symbols: readonly CnSymbol[], ctx: FetchContext): Promise<BatchAnswer>;
}

/**
 * http: non-2xx; timeout: no answer in time; network: connection failed; empty: blank body;
 * garbage: no readable record; refused: the source's own error code; closed: the feed is
 * closing; unavailable: start() found no source answering.
 */
export type CnQuoteErrorKind = 'http' | 'timeout' | 'network' | 'empty' | 'garbage' | 'refused' | 'closed' | 'unavailable';

export class CnQuoteError extends Error {
  override readonly name: string = 'CnQuoteError';
  constructor(
    readonly kind: CnQuoteErrorKind,
    message: string,
    /** HTTP status, or the source's own error code (Tushare 40101, Eastmoney rc). */
    readonly code?: number,
  ) {
    super(message);
  }
}

export interface HttpRequest {
  /** Used in error messages: `sina`, `tushare`, ... */
  readonly source: string;
  readonly url: string;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
  readonly scheduler: SchedulerLike;
  readonly signal?: AbortSignal;
  /** Extra words for an HTTP error status (Sina's 403 means a missing Referer). */
  readonly explainStatus?: (status: number) => string | undefined;
}

/** A 2xx answer's bytes. Non-2xx, timeouts, network errors and empty bodies throw CnQuoteError. */
export async function httpRequest(req: HttpRequest): Promise<Uint8Array> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = req.scheduler.schedule(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  const onOuterAbort = () => controller.abort();
  if (req.signal?.aborted) controller.abort();
  else req.signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    let response: Response;
    let bytes: Uint8Array;
    try {
      response = await fetch(req.url, {
        method: req.method ?? 'GET',
        headers: { ...req.headers },
        body: req.body,
        signal: controller.signal,
      });
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (err) {
      if (timedOut) throw new CnQuoteError('timeout', `${req.source}: no answer within ${req.timeoutMs} ms`);
      if (controller.signal.aborted) throw new CnQuoteError('closed', `${req.source}: request aborted (feed closing)`);
      throw new CnQuoteError('network', `${req.source}: request failed: ${networkReason(err)}`);
    }
    if (response.status < 200 || response.status > 299) {
      const extra = req.explainStatus?.(response.status);
      throw new CnQuoteError('http', `${req.source}: HTTP ${response.status}${extra ? ` (${extra})` : ''}`, response.status);
    }
    if (isBlank(bytes)) throw new CnQuoteError('empty', `${req.source}: empty answer`);
    return bytes;
  } finally {
    timer.unsubscribe();
    req.signal?.removeEventListener('abort', onOuterAbort);
  }
}

function networkReason(err: unknown): string {
  // undici wraps the socket error (ECONNREFUSED, ...) in `cause`.
  const cause = err instanceof Error ? (err as Error & { cause?: unknown }).cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${cause.message}` : cause.message;
  }
  return err instanceof Error ? err.message : String(err);
}

function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return false;
  return true;
}

let gbkDecoder: TextDecoder | undefined;
/** Sina and Tencent answer in GBK; Node ships the decoder with full ICU. */
export function decodeGbk(bytes: Uint8Array): string {
  gbkDecoder ??= new TextDecoder('gbk');
  return gbkDecoder.decode(bytes);
}

/** At most 200 characters, for malformed-record samples and error texts. */
export function sample(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** A decimal string as the source wrote it ("1436.00"), or undefined. */
export function decimalText(text: string | undefined): string | undefined {
  return text !== undefined && /^\d+(\.\d+)?$/.test(text) ? text : undefined;
}

/**
 * A JSON number as a decimal string: its shortest round-trip form, never an exponent. For
 * any price of up to 15 significant digits that is exactly the text the source sent.
 */
export function numberText(n: number): string {
  return dec(n).toFixed();
}

/** True for "0", "0.00", ...: the sources' way of saying "no trade". */
export function isZero(text: string): boolean {
  return /^0+(\.0+)?$/.test(text);
}

/** Results for symbols the answer said nothing about. */
export function missing(requested: readonly CnSymbol[], seen: ReadonlySet<string>, reason: string): SymbolResult[] {
  return requested.filter((s) => !seen.has(s.symbol)).map((s) => ({ symbol: s.symbol, state: 'unknown' as const, reason }));
}

/** What every GET quote source (Sina, Tencent, Eastmoney) takes. */
export interface GetSourceOptions {
  /** Default the source's public endpoint; tests point it at a local server. */
  readonly baseUrl?: string;
  /** Codes per request; default 50. */
  readonly maxBatch?: number;
}

/** How one GET source asks for a batch and reads the answer. */
export interface GetSourceSpec {
  readonly name: CnSourceName;
  readonly defaultUrl: string;
  readonly url: (base: string, symbols: readonly CnSymbol[]) => string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly explainStatus?: (status: number) => string | undefined;
  /** Bytes to records: the source's charset, then its format. */
  readonly read: (bytes: Uint8Array, symbols: readonly CnSymbol[]) => BatchAnswer;
}

/** A source that GETs one URL per batch: the shape Sina, Tencent and Eastmoney share. */
export function getQuoteSource(spec: GetSourceSpec, options: GetSourceOptions = {}): CnQuoteSource {
  const base = (options.baseUrl ?? spec.defaultUrl).replace(/\/+$/, '');
  return {
    name: spec.name,
    maxBatch: options.maxBatch ?? 50,
    async fetchBatch(symbols, ctx) {
      const bytes = await httpRequest({
        source: spec.name,
        url: spec.url(base, symbols),
        ...(spec.headers ? { headers: spec.headers } : {}),
        timeoutMs: ctx.timeoutMs,
        scheduler: ctx.scheduler,
        signal: ctx.signal,
        ...(spec.explainStatus ? { explainStatus: spec.explainStatus } : {}),
      });
      return spec.read(bytes, symbols);
    },
  };
}

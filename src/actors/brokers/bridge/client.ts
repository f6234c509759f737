/**
 * An HTTP JSON client of the A-share terminal bridge (easytrader's `easytrader.server`: POST
 * /prepare, /buy, /sell, /cancel_entrust; GET /balance, /position, /today_entrusts,
 * /today_trades), on `fetch`:
 *
 * - every request has its own deadline (`timeoutMs`, an AbortSignal fired by the injected RxJS
 *   scheduler: virtual time in tests), covering the answer's body too;
 * - no retries here: the adapter's caller (the order tracker) decides, by the class thrown
 *   (errors.ts): VenueRefused, VenueUnavailable (with `outcomeKnown`), VenueHalted;
 * - an optional bearer token goes in the Authorization header and nowhere else; redirects are
 *   refused (one off-host would carry it along). easytrader's server has no auth of its own: the
 *   token is for a guard the user puts in front of it (docs/brokers/bridge.md).
 */
import type { SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { VenueHalted, VenueRefused, VenueUnavailable } from '../venue-adapter.js';
import { buyErrorKind, isNotPrepared, NOT_SENT_CODES, refusalReason, splitPythonError } from './errors.js';

export interface BridgeClientOptions {
  /** e.g. http://127.0.0.1:1430 (no trailing slash). */
  readonly baseUrl: string;
  readonly token?: string | undefined;
  /** Deadlines run on it. */
  readonly scheduler: SchedulerLike;
  /** One request's deadline; default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Default the global fetch. */
  readonly fetch?: typeof fetch;
}

/** The routes and what a 400 on each means (errors.ts). */
export type BridgeRoute = '/prepare' | '/buy' | '/sell' | '/cancel_entrust' | '/balance' | '/position' | '/today_entrusts' | '/today_trades';
const ORDER_ROUTES: ReadonlySet<BridgeRoute> = new Set(['/buy', '/sell']);

const ErrorBodySchema = z.object({ error: z.string() });

/** The bridge is up but not prepared (its state was lost in a restart): nothing was carried out. */
export class BridgeNotPrepared extends VenueUnavailable {
  constructor(message: string) {
    super(message, true);
  }
}

export class BridgeClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #scheduler: SchedulerLike;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: BridgeClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, '');
    this.#headers = { accept: 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) };
    this.#scheduler = options.scheduler;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? fetch;
  }

  get(route: BridgeRoute): Promise<unknown> {
    return this.#request('GET', route);
  }

  /** `bodyText`: the JSON body as text (the adapter writes prices as number literals itself). */
  post(route: BridgeRoute, bodyText: string): Promise<unknown> {
    return this.#request('POST', route, bodyText);
  }

  async #request(method: 'GET' | 'POST', route: BridgeRoute, bodyText?: string): Promise<unknown> {
    const where = `the terminal bridge ${method} ${route}`;
    const abort = new AbortController();
    let timedOut = false;
    const deadline = this.#scheduler.schedule(() => {
      timedOut = true;
      abort.abort();
    }, this.#timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await this.#fetch(`${this.#base}${route}`, {
        method,
        headers: bodyText === undefined ? this.#headers : { ...this.#headers, 'content-type': 'application/json' },
        ...(bodyText === undefined ? {} : { body: bodyText }),
        signal: abort.signal,
        redirect: 'error',
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      if (timedOut) throw new VenueUnavailable(`${where}: no answer within ${this.#timeoutMs} ms; the outcome is unknown`, false);
      const code = errorCode(e);
      const notSent = code !== undefined && NOT_SENT_CODES.has(code);
      throw new VenueUnavailable(`${where}: connection failed (${code ?? errorText(e)})${notSent ? ': the bridge is not reachable, nothing was sent' : '; the outcome is unknown'}`, notSent);
    } finally {
      deadline.unsubscribe();
    }
    if (status >= 200 && status < 300) {
      const json = parseJson(text);
      if (json === undefined) throw new VenueUnavailable(`${where}: the answer (${status}) is not JSON: ${JSON.stringify(text.slice(0, 120))}`, false);
      return json;
    }
    throw this.#error(where, route, status, text);
  }

  #error(where: string, route: BridgeRoute, status: number, text: string): Error {
    const body = ErrorBodySchema.safeParse(parseJson(text));
    const said = body.success ? body.data.error : text.slice(0, 200);
    if (status === 401 || status === 403) return new VenueHalted(`${where}: ${status} ${said} (the bridge refused our token: trading stops until it is fixed)`);
    if (status === 404 || status === 405) return new VenueUnavailable(`${where}: ${status}: the bridge has no such route (is it easytrader's server?)`, true);
    if (status >= 500 || status !== 400 || !body.success) return new VenueUnavailable(`${where}: ${status} ${said}; the outcome is unknown`, false);
    const error = splitPythonError(said);
    if (route === '/prepare') return new VenueHalted(`${where}: the login failed: ${error.message}`);
    if (ORDER_ROUTES.has(route)) {
      switch (buyErrorKind(said)) {
        case 'not_prepared':
          return new BridgeNotPrepared(`${where}: the bridge is not prepared (${said}); nothing was sent`);
        case 'uncertain':
          return new VenueUnavailable(`${where}: the bridge failed while driving the terminal (${said}); the entrust may have been made`, false);
        case 'refused':
          return new VenueRefused(`the terminal refused the order: ${error.message}`, refusalReason(error.message));
      }
    }
    if (isNotPrepared(error)) return new BridgeNotPrepared(`${where}: the bridge is not prepared (${said})`);
    // A cancel is not sent again blindly, so an error there is "unknown" like a read's.
    return new VenueUnavailable(`${where}: the bridge could not do it: ${said}`, route !== '/cancel_entrust');
  }
}

/** undici puts the socket error's code on `cause` (`fetch failed` { cause: { code: 'ECONNREFUSED' } }). */
function errorCode(e: unknown): string | undefined {
  for (let x: unknown = e, i = 0; x instanceof Error && i < 4; x = (x as { cause?: unknown }).cause, i++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function errorText(e: unknown): string {
  return e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

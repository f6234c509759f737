/**
 * A thin client of EastMoney's web trading routes on `fetch`: every route is a form POST
 * (`application/x-www-form-urlencoded`) with `?validatekey=` in the query, the browser
 * session's Cookie and `X-Requested-With: XMLHttpRequest` (without it the site answers pages,
 * not JSON). One attempt per call, never a retry: the order tracker decides what to do with
 * each class (errors.ts), and a blind retry of a submit could buy twice.
 *
 * - Every attempt has its own deadline (`timeoutMs`), fired by the injected RxJS scheduler
 *   (virtual time in tests), covering the answer's body too.
 * - Redirects are never followed: from these routes a redirect is the site sending a dead
 *   session to its login page (and following it would carry the cookie along).
 * - The cookie and the validatekey go in the Cookie header and the query and nowhere else;
 *   every message is passed through the Redactor.
 */
import type { SchedulerLike } from 'rxjs';
import type { z } from 'zod';
import { VenueHalted, VenueRefused, VenueUnavailable } from '../venue-adapter.js';
import { looksLikeHtml, Redactor, refusalReason, SESSION_EXPIRED, SESSION_EXPIRED_STATUS } from './errors.js';
import { AssetAnswerSchema, EnvelopeSchema, ListAnswerSchema, SubmitAnswerSchema, WireDealSchema, WireOrderSchema, type WireAsset, type WireDeal, type WireOrder } from './wire.js';

export const ROUTES = {
  submit: '/Trade/SubmitTradeV2',
  revoke: '/Trade/RevokeOrders',
  orders: '/Search/GetOrdersData',
  deals: '/Search/GetDealData',
  asset: '/Com/queryAssetAndPositionV1',
} as const;

/** The submit form, as the site's own Buy / Sell pages post it. */
export interface SubmitForm {
  /** Six digits. */
  readonly stockCode: string;
  readonly price: string;
  readonly amount: number;
  readonly tradeType: 'B' | 'S';
  /** HA Shanghai A, SA Shenzhen A. */
  readonly market: 'HA' | 'SA';
  readonly zqmc?: string;
}

export interface EastMoneyClientOptions {
  /** e.g. https://jywg.18.cn (no trailing slash). */
  readonly baseUrl: string;
  readonly cookie: string;
  readonly validatekey: string;
  /** Deadlines run on it. */
  readonly scheduler: SchedulerLike;
  /** One attempt's deadline; default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Rows asked per page of a list (`qqhs`); default 100. */
  readonly pageSize?: number;
  /** Default the global fetch. */
  readonly fetch?: typeof fetch;
}

/** More pages than this is a cursor that does not move: given up rather than looped. */
const MAX_PAGES = 50;
// A browser's: the site serves its routes to browsers; nothing in it identifies the user.
const USER_AGENT = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

export class EastMoneyClient {
  readonly #base: string;
  readonly #cookie: string;
  readonly #validatekey: string;
  readonly #scheduler: SchedulerLike;
  readonly #timeoutMs: number;
  readonly #pageSize: number;
  readonly #fetch: typeof fetch;
  readonly #redactor: Redactor;
  readonly #inFlight = new Set<AbortController>();

  constructor(options: EastMoneyClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, '');
    this.#cookie = options.cookie.trim();
    this.#validatekey = options.validatekey.trim();
    this.#scheduler = options.scheduler;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#pageSize = options.pageSize ?? 100;
    this.#fetch = options.fetch ?? fetch;
    this.#redactor = new Redactor(this.#cookie, this.#validatekey);
  }

  /** Abort every request in flight (each ends as VenueUnavailable). */
  close(): void {
    for (const a of this.#inFlight) a.abort();
    this.#inFlight.clear();
  }

  /** Place an entrust; its number (Wtbh). Status != 0 is a VenueRefused with the site's Message. */
  async submit(form: SubmitForm): Promise<string> {
    const fields: Record<string, string> = { stockCode: form.stockCode, price: form.price, amount: String(form.amount), tradeType: form.tradeType, zqmc: form.zqmc ?? '', market: form.market };
    const envelope = await this.#envelope(ROUTES.submit, fields);
    if (envelope.status !== '0') {
      const said = envelope.message || `Status ${envelope.status}`;
      throw new VenueRefused(`EastMoney refused the order: ${said}`, refusalReason(said));
    }
    return this.#parse(ROUTES.submit, SubmitAnswerSchema, envelope.json).Data[0]!.Wtbh;
  }

  /**
   * Ask for the cancel of `revokes` (`<Wtrq>_<Wtbh>`). The site answers in plain text, one
   * sentence per entrust ("<Wtbh>: 您的撤单委托已提交，可至当日委托查看撤单结果"); anything else
   * is its refusal ("撤单失败，该笔委托已经全部成交或全部撤单"). The outcome shows in `orders()`.
   */
  async revoke(revokes: string): Promise<void> {
    const route = ROUTES.revoke;
    const body = (await this.#post(route, { revokes })).trim();
    if (body.includes('撤单委托已提交')) return;
    const json = parseJson(body);
    if (json !== undefined) {
      const envelope = this.#envelopeOf(route, json);
      if (envelope.status === '0') return;
      throw new VenueRefused(`EastMoney refused the cancel: ${envelope.message || `Status ${envelope.status}`}`, refusalReason(envelope.message));
    }
    if (body === '') throw new VenueUnavailable(`EastMoney POST ${route}: an empty answer; the outcome is unknown`);
    if (SESSION_EXPIRED.test(body)) throw this.#halted(route, body.slice(0, 80));
    throw new VenueRefused(`EastMoney refused the cancel: ${this.#redactor.redact(body.slice(0, 200))}`, refusalReason(body));
  }

  /** Today's entrusts, every page. */
  orders(): Promise<WireOrder[]> {
    return this.#list(ROUTES.orders, WireOrderSchema);
  }

  /** Today's deals (fills), every page. */
  deals(): Promise<WireDeal[]> {
    return this.#list(ROUTES.deals, WireDealSchema);
  }

  /** Funds and positions in one answer (the session check of `connect()` too). */
  async asset(): Promise<WireAsset> {
    const envelope = await this.#envelope(ROUTES.asset, { moneyType: 'RMB' });
    this.#queryOk(ROUTES.asset, envelope);
    return this.#parse(ROUTES.asset, AssetAnswerSchema, envelope.json).Data[0]!;
  }

  async #list<T extends z.ZodType>(route: string, row: T): Promise<z.output<T>[]> {
    const rows: z.output<T>[] = [];
    const schema = ListAnswerSchema(row);
    let dwc = '';
    for (let page = 0; page < MAX_PAGES; page++) {
      const envelope = await this.#envelope(route, { qqhs: String(this.#pageSize), dwc });
      this.#queryOk(route, envelope);
      const data = this.#parse(route, schema, envelope.json).Data as (z.output<T> & { Dwc?: string })[];
      rows.push(...data);
      const next = data.at(-1)?.Dwc;
      if (data.length < this.#pageSize || !next || next === dwc) return rows;
      dwc = next;
    }
    throw new VenueUnavailable(`EastMoney POST ${route}: more than ${MAX_PAGES} pages (the cursor Dwc does not move)`);
  }

  /** A query answered Status != 0: no data we can use, nothing was changed. */
  #queryOk(route: string, envelope: Envelope): void {
    if (envelope.status !== '0') throw new VenueUnavailable(`EastMoney POST ${route}: Status ${envelope.status} ${this.#redactor.redact(envelope.message)}`.trim(), true);
  }

  #parse<S extends z.ZodType>(route: string, schema: S, json: unknown): z.output<S> {
    const parsed = schema.safeParse(json);
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`);
    throw new VenueUnavailable(`EastMoney POST ${route}: unexpected answer: ${this.#redactor.redact(issues.join('; '))}`);
  }

  /** POST, JSON expected: the envelope, with a dead session already classed. */
  async #envelope(route: string, form: Record<string, string>): Promise<Envelope> {
    const body = await this.#post(route, form);
    const json = parseJson(body);
    if (json === undefined) {
      if (SESSION_EXPIRED.test(body)) throw this.#halted(route, 'a login prompt instead of JSON');
      throw new VenueUnavailable(`EastMoney POST ${route}: the answer is not JSON (${this.#redactor.redact(body.slice(0, 80))})`);
    }
    return this.#envelopeOf(route, json);
  }

  #envelopeOf(route: string, json: unknown): Envelope {
    const parsed = EnvelopeSchema.safeParse(json);
    if (!parsed.success) throw new VenueUnavailable(`EastMoney POST ${route}: unexpected answer: Status: ${parsed.error.issues[0]?.message ?? 'missing'}`);
    const status = parsed.data.Status;
    const message = (parsed.data.Message ?? '').trim();
    if (status === SESSION_EXPIRED_STATUS || SESSION_EXPIRED.test(message)) throw this.#halted(route, message || `Status ${status}`);
    return { status, message, json };
  }

  #halted(route: string, why: string): VenueHalted {
    return new VenueHalted(`EastMoney POST ${route}: the session has expired (${this.#redactor.redact(why)}); log in again in the browser, put the new cookie and validatekey in the environment and restart`);
  }

  /** One POST: the body of a 2xx answer; transport failures, redirects, HTML and bad statuses classed. */
  async #post(route: string, form: Record<string, string>): Promise<string> {
    const url = `${this.#base}${route}?validatekey=${encodeURIComponent(this.#validatekey)}`;
    const where = `POST ${route}`;
    const abort = new AbortController();
    this.#inFlight.add(abort);
    let timedOut = false;
    const deadline = this.#scheduler.schedule(() => {
      timedOut = true;
      abort.abort();
    }, this.#timeoutMs);
    let status: number;
    let location: string | null;
    let contentType: string;
    let body: string;
    try {
      const res = await this.#fetch(url, {
        method: 'POST',
        headers: {
          cookie: this.#cookie,
          'x-requested-with': 'XMLHttpRequest',
          'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
          accept: 'application/json, text/javascript, */*; q=0.01',
          'user-agent': USER_AGENT,
          referer: `${this.#base}/Trade/Buy`,
        },
        body: new URLSearchParams(form).toString(),
        redirect: 'manual',
        signal: abort.signal,
      });
      status = res.status;
      location = res.headers.get('location');
      contentType = res.headers.get('content-type') ?? '';
      body = await res.text();
    } catch (e) {
      if (!timedOut && refusedConnection(e)) throw new VenueUnavailable(`EastMoney ${where}: the connection was refused (nothing was sent)`, true);
      const why = timedOut ? `no answer within ${this.#timeoutMs} ms` : `connection failed: ${this.#redactor.redact(causeText(e))}`;
      throw new VenueUnavailable(`EastMoney ${where}: ${why}; the outcome is unknown`);
    } finally {
      deadline.unsubscribe();
      this.#inFlight.delete(abort);
    }
    if (status >= 300 && status < 400) {
      // The path only: a redirect's query may carry the validatekey back.
      const to = location === null ? 'elsewhere' : (safePath(location) ?? 'elsewhere');
      throw this.#halted(route, `redirected (${status}) to ${to}`);
    }
    if (status === 401 || status === 403) throw this.#halted(route, `${status}`);
    if (status === 404 || status === 405 || status === 410) {
      throw new VenueHalted(`EastMoney ${where}: ${status}: the site no longer has this route (its unofficial API changed); trading stops until the adapter is updated`);
    }
    if (status >= 500) throw new VenueUnavailable(`EastMoney ${where}: ${status}; the outcome is unknown`);
    if (status < 200 || status >= 300) throw new VenueUnavailable(`EastMoney ${where}: ${status} ${this.#redactor.redact(body.slice(0, 80))}`);
    if (contentType.includes('text/html') || looksLikeHtml(body)) throw this.#halted(route, 'an HTML page instead of an answer');
    return body;
  }
}

interface Envelope {
  /** Status as text ("0" on success). */
  readonly status: string;
  readonly message: string;
  readonly json: unknown;
}

function parseJson(text: string): unknown {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

function safePath(location: string): string | undefined {
  try {
    return new URL(location, 'http://x').pathname;
  } catch {
    return undefined;
  }
}

interface ErrorWithCode {
  readonly code?: unknown;
  readonly errors?: unknown;
  readonly cause?: unknown;
  readonly message?: unknown;
}

/** fetch's TypeError('fetch failed') carries the socket's error as `cause` (an AggregateError when several addresses were tried). */
function refusedConnection(e: unknown): boolean {
  const cause = (e as ErrorWithCode | undefined)?.cause as ErrorWithCode | undefined;
  if (!cause) return false;
  if (cause.code === 'ECONNREFUSED') return true;
  return Array.isArray(cause.errors) && cause.errors.length > 0 && cause.errors.every((x) => (x as ErrorWithCode).code === 'ECONNREFUSED');
}

function causeText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause as ErrorWithCode | undefined;
  const code = typeof cause?.code === 'string' ? `${cause.code} ` : '';
  return `${code}${typeof cause?.message === 'string' ? cause.message : e.message}`.trim();
}

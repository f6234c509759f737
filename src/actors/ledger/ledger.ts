/**
 * The ledger: one account per signature (cash, positions, cost basis, buy lots for
 * T+1, realised PnL, fees, start-of-day equity), fed by the broker's fills and the
 * sessions' outcomes, and the journals that record them:
 *
 * - `<stateDir>/<signature>/position.jsonl`: AI-Trader's audit log (format in
 *   position-log-writer.ts). Record 0 (the starting positions) is written with the
 *   signature's first recorded session, which creates the file; then each recorded
 *   session writes one record per filled order, with the positions and CASH after
 *   that action, in the order the fills were applied: the venue's order (fills of
 *   orders from earlier sessions or of protective sells that came since, e.g. an
 *   order queued to the next open or a stop-loss at the bar's close, take their place
 *   among them; an order whose fills another order's fill interrupted gets one record
 *   per run of its fills). So every record shows what the account held at that moment
 *   and never a cash or share count it did not have. A completed session without a
 *   fill writes one `no_trade` record. Skipped and failed sessions write only the fills they had.
 *   The record `date` is `dateLabel(session instant)`.
 * - LevelDB (the shared store): every change is ONE `saveSnapshot('ledger', ...)`
 *   batch holding the ledger snapshot (accounts, position.jsonl state, counters),
 *   its journal entries (`source: 'ledger'`: fills, refused fills, rejections,
 *   sessions, day rolls, mismatches) and its records: `ledger-fills/[sig, fillId]`,
 *   `ledger-sessions/<sessionId>`, `ledger-curve/[sig, n]`. The snapshot stays small
 *   (no lists that grow with the run): idempotency asks the store for the fill or
 *   session record when it is not in memory.
 *
 * Idempotent: a fill is applied once per (signature, fillId), a session recorded
 * once per sessionId; a repeat is ignored (and answered as done).
 *
 * position.jsonl is written AFTER the batch that commits its text (write-ahead: the
 * snapshot keeps the committed byte length and the last written text), so a crash
 * at any point is repaired on `Ledger.restore`: a missing or torn last write is
 * completed, bytes nobody committed are moved aside. Every repair is reported in
 * `ledger.repairs` and journalled.
 *
 * Marking: equity = cash + sum(quantity x price known at the instant, from `view(at)`);
 * a held symbol without a known price counts at its cost basis (no gain, no loss).
 * The start of day rolls at the first operation (getAccount, fill, recorded session)
 * on a new exchange-local date, at the equity marked at that instant, before the
 * operation changes anything.
 *
 * All operations run one at a time in arrival order (an internal queue), so a fill
 * always lands before the `recordSession` that follows it.
 */
import { DateTime } from 'luxon';
import { join } from 'node:path';
import { InputError } from '../../domain/errors.js';
import { MARKETS, type Frequency, type Market } from '../../domain/markets.js';
import type { AccountView, Message, SessionOutcome } from '../../domain/messages.js';
import { type CashRule, type Dec, dec, tradeValue } from '../../domain/money.js';
import type { OrderResult, OrderSide } from '../../domain/orders.js';
import type { PointInTimeView } from '../../domain/point-in-time.js';
import {
  type Account,
  type AccountJson,
  accountFromJson,
  accountToJson,
  applyFill as applyPortfolioFill,
  isNewDay,
  markToMarket,
  type Mark,
  openAccount,
  rollDay,
  sellable,
} from '../../domain/portfolio.js';
import type { PositionAction } from '../../domain/position-log.js';
import type { RecordPut, Store } from '../store/store.js';
import { fileSize, formatPositionLine, LedgerLogError, type LogRepair, moveAside, type PositionLine, syncLogFile } from './position-log-writer.js';
import { localDate } from '../../domain/local-date.js';

export const LEDGER_SNAPSHOT_KEY = 'ledger';
export const LEDGER_SUBLEVELS = { fills: 'ledger-fills', sessions: 'ledger-sessions', curve: 'ledger-curve', protective: 'ledger-protective' } as const;
export const POSITION_LOG_FILE = 'position.jsonl';
const SNAPSHOT_VERSION = 1;
const SIGNATURE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

export interface LedgerSignature {
  readonly signature: string;
  readonly initialCash: string | number;
}

export interface LedgerOptions {
  readonly market: Market;
  /** Used for the default `dateLabel`. */
  readonly frequency?: Frequency;
  readonly signatures: readonly LedgerSignature[];
  readonly store: Store;
  /** position.jsonl goes to `<stateDir>/<signature>/position.jsonl`. */
  readonly stateDir: string;
  /** Prices known at an instant (no look-ahead), for marking to market. */
  readonly view: (at: DateTime) => PointInTimeView;
  /**
   * AI-Trader's `date` of a session record. Default from `frequency`, in the exchange's zone:
   * daily `YYYY-MM-DD`, hourly `YYYY-MM-DD HH:mm:ss` of the session instant.
   */
  readonly dateLabel?: (at: DateTime) => string;
  /** Symbols every record lists (in this order, 0 when flat); others held follow in the order first bought. */
  readonly universe?: readonly string[];
  /** `date` of record 0 (AI-Trader: the run's start date); default: the label of the first recorded session. */
  readonly startDate?: string;
  /** Default: true on cn, false on us. */
  readonly tPlusOne?: boolean;
  /** fsync position.jsonl after each append (default true). */
  readonly fsync?: boolean;
  readonly snapshotKey?: string;
  /**
   * A position.jsonl that exists when the ledger is about to create it (a previous run that
   * this store knows nothing about): `error` (default) refuses, `move-aside` renames it to
   * `position.jsonl.replaced-<bytes>` and starts a new one.
   */
  readonly existingLog?: 'error' | 'move-aside';
  /**
   * How a fill's value becomes cash (money.ts): `cent` (default, the venue's strict rules)
   * or `exact` (AI-Trader's rules). The venue books with the same rule, so both agree.
   */
  readonly cashRule?: CashRule;
}

export interface CurvePoint {
  /** The session instant (ISO, as in the outcome). */
  readonly at: string;
  /** Decimal strings, exact. */
  readonly equity: string;
  readonly cash: string;
}

export interface LedgerSummary {
  readonly signature: string;
  readonly initialCash: string;
  readonly cash: string;
  /** As marked at the last recorded session (cash + cost basis before any). */
  readonly equity: string;
  readonly realizedPnl: string;
  /** As marked at the last recorded session. */
  readonly unrealizedPnl: string;
  readonly fees: string;
  readonly fills: number;
  readonly sessions: { readonly completed: number; readonly skipped: number; readonly failed: number };
  /** Order results in the recorded outcomes (intents that became orders or were denied). */
  readonly orders: number;
  readonly ordersByStatus: Readonly<Record<string, number>>;
  /** Results with status rejected or denied, by reason code (`UNKNOWN` when none was given). */
  readonly rejections: Readonly<Record<string, number>>;
  /** Disagreements between outcomes and the ledger's fills (each journalled as `ledger.mismatch`). */
  readonly mismatches: number;
}

export interface ApplyFillResult {
  readonly applied: boolean;
}

export interface RecordSessionResult {
  /** False when the session had been recorded before (nothing written). */
  readonly recorded: boolean;
  /** position.jsonl ids written for it ([] when none). */
  readonly ids: readonly number[];
  /** Human-readable disagreements between the outcome and the ledger's fills. */
  readonly mismatches: readonly string[];
}

/** Journal entries the ledger writes (the engine's own entries have no `source`). */
export type LedgerJournalEntry =
  | { source: 'ledger'; type: 'ledger.fill'; signature: string; clientOrderId: string; side: OrderSide; symbol: string; fill: Message<'ledger.applyFill'>['fill']; cash: string; position: number }
  | { source: 'ledger'; type: 'ledger.fillRefused'; signature: string; clientOrderId: string; side: OrderSide; symbol: string; fill: Message<'ledger.applyFill'>['fill']; message: string }
  | { source: 'ledger'; type: 'ledger.rejection'; signature: string; sessionId: string; clientOrderId: string; status: string; symbol: string; side: OrderSide; quantity: number; reason: string; message?: string }
  | { source: 'ledger'; type: 'ledger.session'; signature: string; sessionId: string; at: string; status: SessionOutcome['status']; reason?: string; error?: SessionOutcome['error']; orders: number; filledOrders: number; ids: number[]; equity: string; cash: string }
  | { source: 'ledger'; type: 'ledger.day'; signature: string; date: string; equity: string }
  | { source: 'ledger'; type: 'ledger.mismatch'; signature: string; sessionId: string; message: string }
  | { source: 'ledger'; type: 'ledger.repair'; signature: string; message: string }
  | { source: 'ledger'; type: 'ledger.correction'; signature: string; reason: string; before: { cash: string; positions: Record<string, number> }; after: { cash: string; positions: Record<string, number> }; differences: string[] }
  | { source: 'ledger'; type: 'ledger.protectiveOrder'; signature: string; clientOrderId: string; status: string; symbol: string; quantity: number; filled: number; reason?: string };

/** A fill applied to the account, not yet written to position.jsonl. */
interface UnloggedFill {
  readonly fillId: string;
  readonly clientOrderId: string;
  readonly side: OrderSide;
  readonly symbol: string;
  readonly quantity: number;
  readonly price: string;
  readonly fee: string;
}

interface LogState {
  readonly created: boolean;
  readonly nextId: number;
  /** Committed byte length of position.jsonl. */
  readonly bytes: number;
  /** The last committed text, until it is known to be in the file (always kept in the snapshot). */
  readonly pending?: string;
  /** Symbols printed besides the universe, in the order first held. */
  readonly symbols: readonly string[];
  /** Shares and cash as of the last record written (advanced action by action). */
  readonly positions: Readonly<Record<string, number>>;
  readonly cash: string;
}

interface Stats {
  readonly sessions: { completed: number; skipped: number; failed: number };
  readonly orders: number;
  readonly ordersByStatus: Readonly<Record<string, number>>;
  readonly rejections: Readonly<Record<string, number>>;
  readonly fills: number;
  readonly mismatches: number;
}

interface SigState {
  readonly signature: string;
  readonly account: Account;
  readonly log: LogState;
  readonly unlogged: readonly UnloggedFill[];
  readonly stats: Stats;
  readonly curveLength: number;
  readonly lastMark?: { readonly at: string; readonly equity: string; readonly unrealizedPnl: string };
}

interface SigStateJson extends Omit<SigState, 'account'> {
  readonly account: AccountJson;
}

export interface LedgerSnapshot {
  readonly version: number;
  readonly market: Market;
  readonly signatures: Record<string, SigStateJson>;
}

const EMPTY_STATS: Stats = { sessions: { completed: 0, skipped: 0, failed: 0 }, orders: 0, ordersByStatus: {}, rejections: {}, fills: 0, mismatches: 0 };

const fillKey = (signature: string, fillId: string) => JSON.stringify([signature, fillId]);
const curveKey = (signature: string, n: number) => JSON.stringify([signature, n]);
const bump = (r: Readonly<Record<string, number>>, k: string): Record<string, number> => ({ ...r, [k]: (r[k] ?? 0) + 1 });
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

function parseInstant(at: DateTime | string): DateTime {
  const dt = typeof at === 'string' ? DateTime.fromISO(at, { setZone: true }) : at;
  if (!dt.isValid) throw new InputError(`not an ISO instant: ${JSON.stringify(String(at))}`);
  return dt;
}

function freshState(signature: string, initialCash: string | number): SigState {
  const account = openAccount(initialCash);
  return {
    signature,
    account,
    log: { created: false, nextId: 0, bytes: 0, symbols: [], positions: {}, cash: account.cash.toFixed() },
    unlogged: [],
    stats: EMPTY_STATS,
    curveLength: 0,
  };
}

export class Ledger {
  readonly market: Market;
  readonly tPlusOne: boolean;
  /** Repairs made to position.jsonl files by `restore` (also journalled as `ledger.repair`). */
  readonly repairs: LogRepair[] = [];
  readonly #options: LedgerOptions;
  readonly #zone: string;
  readonly #dateLabel: (at: DateTime) => string;
  readonly #universe: readonly string[];
  readonly #universeSet: ReadonlySet<string>;
  #states = new Map<string, SigState>();
  readonly #curves = new Map<string, CurvePoint[]>();
  readonly #knownFills = new Set<string>();
  readonly #knownSessions = new Set<string>();
  /** Shares booked per client order id, read from the fill records on first use (a live account's reconciliation). */
  #filledByOrder: Promise<Map<string, number>> | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  /** A fresh ledger (nothing recorded yet). To resume from the store, use `Ledger.restore`. */
  constructor(options: LedgerOptions) {
    this.#options = options;
    this.market = options.market;
    this.#zone = MARKETS[options.market].zone;
    this.tPlusOne = options.tPlusOne ?? options.market === 'cn';
    if (options.dateLabel) this.#dateLabel = options.dateLabel;
    else if (options.frequency) {
      const format = options.frequency === 'daily' ? 'yyyy-MM-dd' : 'yyyy-MM-dd HH:mm:ss';
      this.#dateLabel = (at) => at.setZone(this.#zone).toFormat(format);
    } else throw new InputError('the ledger needs a dateLabel or a frequency to date position.jsonl records');
    if (options.startDate !== undefined && !/^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$/.test(options.startDate)) {
      throw new InputError(`ledger startDate: expected "YYYY-MM-DD" or "YYYY-MM-DD HH:mm:ss", got ${JSON.stringify(options.startDate)}`);
    }
    this.#universe = [...new Set(options.universe ?? [])];
    this.#universeSet = new Set(this.#universe);
    for (const s of options.signatures) {
      if (!SIGNATURE.test(s.signature)) throw new InputError(`ledger: signature ${JSON.stringify(s.signature)} cannot name a folder (letters, digits, ".", "_", "-")`);
      if (this.#states.has(s.signature)) throw new InputError(`ledger: signature ${s.signature} is given twice`);
      let cash: Dec;
      try {
        cash = dec(s.initialCash);
      } catch {
        throw new InputError(`ledger: initial cash of ${s.signature} is not a number: ${JSON.stringify(s.initialCash)}`);
      }
      if (cash.isNegative()) throw new InputError(`ledger: initial cash of ${s.signature} is negative`);
      this.#states.set(s.signature, freshState(s.signature, cash.toFixed()));
      this.#curves.set(s.signature, []);
    }
  }

  /**
   * The ledger as stored under `snapshotKey` (a fresh one when nothing is stored), with
   * every signature's position.jsonl brought back to what was committed. Signatures in
   * the options that the store does not know start fresh; stored ones are kept even when
   * not in the options. A stored initial cash wins over the options' (reported in `repairs`).
   */
  static async restore(options: LedgerOptions): Promise<Ledger> {
    const ledger = new Ledger(options);
    const saved = await options.store.loadSnapshot<LedgerSnapshot>(options.snapshotKey ?? LEDGER_SNAPSHOT_KEY);
    if (saved === undefined) return ledger;
    if (saved.version !== SNAPSHOT_VERSION) throw new InputError(`the stored ledger has version ${saved.version}; this build reads version ${SNAPSHOT_VERSION}`);
    if (saved.market !== options.market) throw new InputError(`the stored ledger is for market ${saved.market}, not ${options.market}: use another state directory`);
    await ledger.#load(saved);
    return ledger;
  }

  async #load(saved: LedgerSnapshot): Promise<void> {
    const notes: LedgerJournalEntry[] = [];
    for (const [signature, json] of Object.entries(saved.signatures)) {
      const state: SigState = { ...json, account: accountFromJson(json.account) };
      const given = this.#states.get(signature);
      if (given && !given.account.initialCash.equals(state.account.initialCash)) {
        const msg = `${signature}: initial cash ${given.account.initialCash.toFixed()} given, but the stored account started with ${state.account.initialCash.toFixed()}; keeping the stored account`;
        this.repairs.push({ file: '', message: msg });
        notes.push({ source: 'ledger', type: 'ledger.repair', signature, message: msg });
      }
      this.#states.set(signature, state);
      const curve: CurvePoint[] = [];
      for (let i = 0; i < state.curveLength; i++) {
        const p = await this.#options.store.getRecord<CurvePoint>(LEDGER_SUBLEVELS.curve, curveKey(signature, i));
        if (p) curve.push(p);
      }
      this.#curves.set(signature, curve);
      if (state.log.created) {
        const repairs = await syncLogFile(this.logFile(signature), { bytes: state.log.bytes, ...(state.log.pending ? { pending: state.log.pending } : {}) }, { fsync: this.#fsync, verify: true });
        for (const r of repairs) {
          this.repairs.push(r);
          notes.push({ source: 'ledger', type: 'ledger.repair', signature, message: r.message });
        }
        this.#states.set(signature, { ...state, log: withoutPending(state.log) });
      }
    }
    if (notes.length) await this.#options.store.appendJournal(notes);
  }

  get #cashRule(): CashRule {
    return this.#options.cashRule ?? 'cent';
  }

  get #fsync(): boolean {
    return this.#options.fsync ?? true;
  }

  /** Signatures the ledger keeps, sorted. */
  signatures(): string[] {
    return [...this.#states.keys()].sort();
  }

  /** `<stateDir>/<signature>/position.jsonl`. */
  logFile(signature: string): string {
    return join(this.#options.stateDir, signature, POSITION_LOG_FILE);
  }

  /** Resolves when every operation asked so far has finished (backtest drivers await it before moving time on). */
  async idle(): Promise<void> {
    for (;;) {
      const tail = this.#tail;
      await tail.then(
        () => undefined,
        () => undefined,
      );
      if (tail === this.#tail) return;
    }
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #state(signature: string): SigState {
    const s = this.#states.get(signature);
    if (!s) throw new InputError(`the ledger has no account for signature ${JSON.stringify(signature)} (known: ${this.signatures().join(', ') || 'none'})`);
    return s;
  }

  #day(at: DateTime): string {
    return localDate(at.toMillis(), this.#zone);
  }

  #mark(account: Account, at: DateTime): Mark {
    const view = this.#options.view(at);
    return markToMarket(account, (symbol) => view.price(symbol)?.price);
  }

  /** Roll the start of day if `at` is on a new exchange day; the journal entry when it did. */
  #roll(signature: string, account: Account, at: DateTime): { account: Account; journal: LedgerJournalEntry[] } {
    const day = this.#day(at);
    if (!isNewDay(account, day)) return { account, journal: [] };
    const equity = this.#mark(account, at).equity;
    return {
      account: rollDay(account, day, equity),
      journal: [{ source: 'ledger', type: 'ledger.day', signature, date: day, equity: equity.toFixed() }],
    };
  }

  /** Each signature's JSON form, by its (immutable) state: a commit converts only the signature it changed. */
  readonly #json = new WeakMap<SigState, SigStateJson>();

  #snapshot(states: ReadonlyMap<string, SigState>): LedgerSnapshot {
    const signatures: Record<string, SigStateJson> = {};
    for (const [sig, s] of states) {
      let json = this.#json.get(s);
      if (!json) {
        const { account, log, ...rest } = s;
        json = { ...rest, account: accountToJson(account), log };
        this.#json.set(s, json);
      }
      signatures[sig] = json;
    }
    return { version: SNAPSHOT_VERSION, market: this.market, signatures };
  }

  /** Commit one signature's new state with its journal entries and records, in one batch; then adopt it. */
  async #commit(next: SigState, journal: readonly LedgerJournalEntry[], puts: readonly RecordPut[] = []): Promise<void> {
    const states = new Map(this.#states);
    states.set(next.signature, next);
    await this.#options.store.saveSnapshot(this.#options.snapshotKey ?? LEDGER_SNAPSHOT_KEY, this.#snapshot(states), { journal, puts });
    this.#states = states;
  }

  /** Whether the fill is in the books (applied once per signature and fill id). */
  hasFill(signature: string, fillId: string): Promise<boolean> {
    return this.#hasFill(fillKey(signature, fillId));
  }

  async #hasFill(key: string): Promise<boolean> {
    if (this.#knownFills.has(key)) return true;
    const stored = await this.#options.store.getRecord(LEDGER_SUBLEVELS.fills, key);
    if (stored === undefined) return false;
    this.#knownFills.add(key);
    return true;
  }

  async #hasSession(sessionId: string): Promise<boolean> {
    if (this.#knownSessions.has(sessionId)) return true;
    const stored = await this.#options.store.getRecord(LEDGER_SUBLEVELS.sessions, sessionId);
    if (stored === undefined) return false;
    this.#knownSessions.add(sessionId);
    return true;
  }

  // -------------------------------------------------------------------------------------
  // getAccount

  /** The account as the agent sees it at `at`: equity marked with the prices known then. */
  getAccount(signature: string, at: DateTime | string): Promise<AccountView> {
    return this.#run(async () => {
      const state = this.#state(signature);
      const when = parseInstant(at);
      const rolled = this.#roll(signature, state.account, when);
      if (rolled.journal.length) await this.#commit({ ...state, account: rolled.account }, rolled.journal);
      return this.#view(signature, rolled.account, when);
    });
  }

  #view(signature: string, account: Account, at: DateTime): AccountView {
    const today = this.#day(at);
    const positions: AccountView['positions'] = {};
    for (const symbol of Object.keys(account.positions).sort()) {
      const p = account.positions[symbol]!;
      positions[symbol] = { quantity: p.quantity, sellable: sellable(account, symbol, today, this.tPlusOne), costBasis: p.costBasis.toFixed() };
    }
    return {
      signature,
      cash: account.cash.toFixed(),
      positions,
      equity: this.#mark(account, at).equity.toFixed(),
      startOfDayEquity: account.startOfDay.equity.toFixed(),
    };
  }

  /** The account itself (exact), for reports and tests. */
  account(signature: string): Account {
    return this.#state(signature).account;
  }

  // -------------------------------------------------------------------------------------
  // applyFill

  /**
   * Apply one broker fill to the signature's account (once per fillId). A fill the account
   * cannot take (selling more than held) is journalled as `ledger.fillRefused` and throws.
   */
  applyFill(m: Pick<Message<'ledger.applyFill'>, 'signature' | 'clientOrderId' | 'intent' | 'fill'>): Promise<ApplyFillResult> {
    return this.#run(async () => {
      const state = this.#state(m.signature);
      const key = fillKey(m.signature, m.fill.fillId);
      if (await this.#hasFill(key)) return { applied: false };
      const when = DateTime.fromMillis(m.fill.atMs, { zone: this.#zone });
      const { side, symbol } = m.intent;
      const fee = m.fill.fee ?? '0';
      const rolled = this.#roll(m.signature, state.account, when);
      let account: Account;
      try {
        account = applyPortfolioFill(rolled.account, { side, symbol, quantity: m.fill.quantity, price: m.fill.price, fee, date: this.#day(when), cashRule: this.#cashRule });
      } catch (err) {
        const refused: LedgerJournalEntry = { source: 'ledger', type: 'ledger.fillRefused', signature: m.signature, clientOrderId: m.clientOrderId, side, symbol, fill: m.fill, message: message(err) };
        await this.#commit({ ...state, account: rolled.account }, [...rolled.journal, refused]);
        throw err;
      }
      const entry: UnloggedFill = { fillId: m.fill.fillId, clientOrderId: m.clientOrderId, side, symbol, quantity: m.fill.quantity, price: m.fill.price, fee };
      const next: SigState = { ...state, account, unlogged: [...state.unlogged, entry], stats: { ...state.stats, fills: state.stats.fills + 1 } };
      const journal: LedgerJournalEntry[] = [
        ...rolled.journal,
        {
          source: 'ledger',
          type: 'ledger.fill',
          signature: m.signature,
          clientOrderId: m.clientOrderId,
          side,
          symbol,
          fill: m.fill,
          cash: account.cash.toFixed(),
          position: account.positions[symbol]?.quantity ?? 0,
        },
      ];
      const record = { signature: m.signature, clientOrderId: m.clientOrderId, intent: m.intent, fill: m.fill };
      await this.#commit(next, journal, [{ sublevel: LEDGER_SUBLEVELS.fills, key, value: record }]);
      this.#knownFills.add(key);
      if (this.#filledByOrder) {
        const byOrder = await this.#filledByOrder;
        byOrder.set(m.clientOrderId, (byOrder.get(m.clientOrderId) ?? 0) + m.fill.quantity);
      }
      return { applied: true };
    });
  }

  /**
   * Shares booked so far for one order, every signature's fills counted (0 when none). The first
   * call reads every fill record once; later fills keep the count.
   */
  filledQuantity(clientOrderId: string): Promise<number> {
    return this.#run(async () => {
      this.#filledByOrder ??= (async () => {
        const byOrder = new Map<string, number>();
        for await (const { value } of this.#options.store.listRecords<{ clientOrderId: string; fill: { quantity: number } }>(LEDGER_SUBLEVELS.fills)) {
          byOrder.set(value.clientOrderId, (byOrder.get(value.clientOrderId) ?? 0) + value.fill.quantity);
        }
        return byOrder;
      })();
      return (await this.#filledByOrder).get(clientOrderId) ?? 0;
    });
  }

  // -------------------------------------------------------------------------------------
  // correctTo (position sync: the broker wins)

  /**
   * Make the signature's books say what the broker says: share counts per symbol and cash.
   * A share difference is booked at `priceOf(symbol)` (the latest price; the cost basis of
   * shares the ledger did not know comes from it, shares it had too many of leave at it),
   * without fees; then cash is set to the broker's. Journalled as `ledger.correction` with
   * before, after and every difference. Returns the differences (empty: nothing to do).
   */
  correctTo(
    signature: string,
    broker: { readonly cash: string; readonly positions: Readonly<Record<string, number>> },
    priceOf: (symbol: string) => Dec | undefined,
    at: DateTime,
    reason: string,
  ): Promise<string[]> {
    return this.#run(async () => {
      const state = this.#state(signature);
      const before = state.account;
      const held = (a: Account) => Object.fromEntries(Object.entries(a.positions).map(([k, p]) => [k, p.quantity]));
      const differences: string[] = [];
      let account = before;
      const symbols = [...new Set([...Object.keys(before.positions), ...Object.keys(broker.positions)])].sort();
      for (const symbol of symbols) {
        const ours = before.positions[symbol]?.quantity ?? 0;
        const theirs = broker.positions[symbol] ?? 0;
        if (ours === theirs) continue;
        const price = priceOf(symbol) ?? before.positions[symbol]?.costBasis.dividedBy(Math.max(1, ours));
        if (price === undefined) throw new Error(`cannot correct ${symbol}: no price to book ${theirs - ours} shares at`);
        differences.push(`${symbol}: ledger ${ours}, broker ${theirs}`);
        account = applyPortfolioFill(account, { side: theirs > ours ? 'buy' : 'sell', symbol, quantity: Math.abs(theirs - ours), price, fee: '0', date: this.#day(at), cashRule: this.#cashRule });
      }
      const cash = dec(broker.cash);
      if (!account.cash.eq(cash) || differences.length > 0) {
        if (!before.cash.eq(cash)) differences.push(`cash: ledger ${before.cash.toFixed()}, broker ${cash.toFixed()}`);
        account = { ...account, cash };
      }
      if (differences.length === 0) return [];
      const entry: LedgerJournalEntry = {
        source: 'ledger',
        type: 'ledger.correction',
        signature,
        reason,
        before: { cash: before.cash.toFixed(), positions: held(before) },
        after: { cash: account.cash.toFixed(), positions: held(account) },
        differences,
      };
      await this.#commit({ ...state, account }, [entry]);
      return differences;
    });
  }

  // -------------------------------------------------------------------------------------
  // recordProtectiveOrder

  /**
   * Count an order no session asked for (risk's stop-loss / take-profit sells) in the
   * signature's orders, once per client order id; its fills are applied by `applyFill`
   * like any other and written to position.jsonl with the next session.
   */
  recordProtectiveOrder(signature: string, result: OrderResult): Promise<{ recorded: boolean }> {
    return this.#run(async () => {
      const key = `${signature}|${result.clientOrderId}`;
      if ((await this.#options.store.getRecord(LEDGER_SUBLEVELS.protective, key)) !== undefined) return { recorded: false };
      const state = this.#state(signature);
      let stats: Stats = { ...state.stats, orders: state.stats.orders + 1, ordersByStatus: bump(state.stats.ordersByStatus, result.status) };
      if ((result.status === 'rejected' || result.status === 'denied') && result.reason) stats = { ...stats, rejections: bump(stats.rejections, result.reason) };
      const entry: LedgerJournalEntry = {
        source: 'ledger',
        type: 'ledger.protectiveOrder',
        signature,
        clientOrderId: result.clientOrderId,
        status: result.status,
        symbol: result.intent.symbol,
        quantity: result.intent.quantity,
        filled: result.filledQuantity,
        ...(result.reason ? { reason: result.reason } : {}),
      };
      await this.#commit({ ...state, stats }, [entry], [{ sublevel: LEDGER_SUBLEVELS.protective, key, value: result }]);
      return { recorded: true };
    });
  }

  // -------------------------------------------------------------------------------------
  // recordSession

  /** Record a finished session (once per sessionId): position.jsonl records, journal, equity point. */
  recordSession(outcome: SessionOutcome): Promise<RecordSessionResult> {
    return this.#run(async () => {
      let state = this.#state(outcome.signature);
      // An earlier append failed after its commit (e.g. disk full): finish it first, also when
      // this is the retry of that very session, so `recorded` always means "in the file".
      if (state.log.pending !== undefined) state = await this.#syncLog(state);
      if (await this.#hasSession(outcome.sessionId)) return { recorded: false, ids: [], mismatches: [] };
      const signature = outcome.signature;
      const when = parseInstant(outcome.at);
      const label = this.#dateLabel(when);
      const rolled = this.#roll(signature, state.account, when);
      const account = rolled.account;
      const journal: LedgerJournalEntry[] = [...rolled.journal];
      const mismatches: string[] = [];

      // Actions in the order the ledger applied the fills, which is the order the venue made
      // them (one record per run of fills of one order): a protective sell or a queued order
      // filled before this session's buys comes first, so no record shows cash or shares the
      // account never had at that moment.
      const applied = new Map<string, number>();
      const actions: { side: OrderSide; symbol: string; fills: UnloggedFill[] }[] = [];
      for (const f of state.unlogged) {
        applied.set(f.clientOrderId, (applied.get(f.clientOrderId) ?? 0) + f.quantity);
        const last = actions.at(-1);
        if (last && last.fills[0]!.clientOrderId === f.clientOrderId) last.fills.push(f);
        else actions.push({ side: f.side, symbol: f.symbol, fills: [f] });
      }
      let filledOrders = 0;
      for (const r of outcome.results) {
        const got = applied.get(r.clientOrderId);
        if (r.filledQuantity > 0) filledOrders++;
        if ((got ?? 0) !== r.filledQuantity) {
          mismatches.push(`${r.clientOrderId}: the outcome says ${r.filledQuantity} ${r.intent.symbol} filled, the ledger applied ${got ?? 0}${got !== undefined ? '' : ' (no fill reached the ledger)'}`);
        }
      }

      // position.jsonl lines, replaying the actions on the log's own positions.
      const lines: PositionLine[] = [];
      let log = state.log;
      if (!log.created) {
        await this.#checkNewLog(signature);
        lines.push({ date: this.#options.startDate ?? label, id: 0, positions: this.#printed(log.symbols, {}), cash: dec(log.cash) });
        log = { ...log, created: true, nextId: 1 };
      }
      let nextId = log.nextId;
      const positions: Record<string, number> = { ...log.positions };
      const symbols = [...log.symbols];
      let cash = dec(log.cash);
      for (const a of actions) {
        let amount = 0;
        for (const f of a.fills) {
          const notional = tradeValue(dec(f.price), f.quantity, this.#cashRule);
          cash = f.side === 'buy' ? cash.minus(notional).minus(dec(f.fee)) : cash.plus(notional).minus(dec(f.fee));
          positions[f.symbol] = (positions[f.symbol] ?? 0) + (f.side === 'buy' ? f.quantity : -f.quantity);
          amount += f.quantity;
        }
        if (!this.#universeSet.has(a.symbol) && !symbols.includes(a.symbol)) symbols.push(a.symbol);
        const action: PositionAction = { action: a.side, symbol: a.symbol, amount };
        lines.push({ date: label, id: nextId++, action, positions: this.#printed(symbols, positions), cash });
      }
      if (actions.length === 0 && outcome.status === 'completed') {
        lines.push({ date: label, id: nextId++, action: { action: 'no_trade', symbol: '', amount: 0 }, positions: this.#printed(symbols, positions), cash });
      }
      const drift = this.#logDrift(account, positions, cash);
      if (drift) mismatches.push(drift);
      const text = lines.map((l) => `${formatPositionLine(l)}\n`).join('');
      const ids = lines.filter((l) => l.action).map((l) => l.id);
      const newLog: LogState = {
        ...log,
        nextId,
        bytes: log.bytes + Buffer.byteLength(text, 'utf8'),
        symbols,
        positions,
        cash: cash.toFixed(),
        ...(text ? { pending: text } : {}),
      };

      // Marks, counters, journal, records.
      const mark = this.#mark(account, when);
      const point: CurvePoint = { at: outcome.at, equity: mark.equity.toFixed(), cash: account.cash.toFixed() };
      let stats: Stats = {
        ...state.stats,
        sessions: { ...state.stats.sessions, [outcome.status]: state.stats.sessions[outcome.status] + 1 },
        orders: state.stats.orders + outcome.results.length,
        mismatches: state.stats.mismatches + mismatches.length,
      };
      for (const r of outcome.results) {
        stats = { ...stats, ordersByStatus: bump(stats.ordersByStatus, r.status) };
        if (r.status === 'rejected' || r.status === 'denied') {
          const reason = r.reason ?? 'UNKNOWN';
          stats = { ...stats, rejections: bump(stats.rejections, reason) };
          journal.push({
            source: 'ledger',
            type: 'ledger.rejection',
            signature,
            sessionId: outcome.sessionId,
            clientOrderId: r.clientOrderId,
            status: r.status,
            symbol: r.intent.symbol,
            side: r.intent.side,
            quantity: r.intent.quantity,
            reason,
            ...(r.message !== undefined ? { message: r.message } : {}),
          });
        }
      }
      for (const msg of mismatches) journal.push({ source: 'ledger', type: 'ledger.mismatch', signature, sessionId: outcome.sessionId, message: msg });
      journal.push({
        source: 'ledger',
        type: 'ledger.session',
        signature,
        sessionId: outcome.sessionId,
        at: outcome.at,
        status: outcome.status,
        ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
        ...(outcome.error !== undefined ? { error: outcome.error } : {}),
        orders: outcome.results.length,
        filledOrders,
        ids,
        equity: point.equity,
        cash: point.cash,
      });
      const next: SigState = {
        ...state,
        account,
        log: newLog,
        unlogged: [],
        stats,
        curveLength: state.curveLength + 1,
        lastMark: { at: outcome.at, equity: point.equity, unrealizedPnl: mark.unrealizedPnl.toFixed() },
      };
      await this.#commit(next, journal, [
        { sublevel: LEDGER_SUBLEVELS.sessions, key: outcome.sessionId, value: { outcome, ids, equity: point.equity, cash: point.cash } },
        { sublevel: LEDGER_SUBLEVELS.curve, key: curveKey(signature, state.curveLength), value: point },
      ]);
      this.#knownSessions.add(outcome.sessionId);
      this.#curves.get(signature)!.push(point);
      if (text) await this.#syncLog(next);
      return { recorded: true, ids, mismatches };
    });
  }

  /** Universe first, then other symbols in the order first held; CASH is added by the formatter. */
  #printed(symbols: readonly string[], positions: Readonly<Record<string, number>>): [string, number][] {
    return [...this.#universe, ...symbols].map((s) => [s, positions[s] ?? 0]);
  }

  /** After a session, the log's positions must equal the account's; a difference is a bug, reported. */
  #logDrift(account: Account, positions: Readonly<Record<string, number>>, cash: Dec): string | undefined {
    const problems: string[] = [];
    for (const s of new Set([...Object.keys(positions), ...Object.keys(account.positions)])) {
      const a = account.positions[s]?.quantity ?? 0;
      const l = positions[s] ?? 0;
      if (a !== l) problems.push(`${s} ${l} logged vs ${a} held`);
    }
    if (!cash.equals(account.cash)) problems.push(`cash ${cash.toFixed()} logged vs ${account.cash.toFixed()} held`);
    return problems.length ? `position.jsonl disagrees with the account: ${problems.join(', ')}` : undefined;
  }

  /** The signature's file is about to be created: an existing one belongs to a run this store does not know. */
  async #checkNewLog(signature: string): Promise<void> {
    const file = this.logFile(signature);
    const size = await fileSize(file);
    if (size === 0) return;
    if (this.#options.existingLog === 'move-aside') {
      const to = await moveAside(file, `replaced-${size}`);
      this.repairs.push({ file, message: `${file} existed from another run; moved to ${to}` });
      return;
    }
    throw new LedgerLogError(`${file} already exists (${size} bytes) but this ledger's store has no record of it: move it away, or use the state directory it belongs to`);
  }

  /** Bring the file to the committed state; adopt the state without pending text once it is there. */
  async #syncLog(state: SigState): Promise<SigState> {
    const { bytes, pending } = state.log;
    await syncLogFile(this.logFile(state.signature), { bytes, ...(pending !== undefined ? { pending } : {}) }, { fsync: this.#fsync });
    const current = this.#states.get(state.signature);
    const synced: SigState = { ...state, log: withoutPending(state.log) };
    if (current === state) this.#states.set(state.signature, synced);
    return synced;
  }

  // -------------------------------------------------------------------------------------
  // reports

  /** One point per recorded session, marked at the session instant, oldest first. */
  equityCurve(signature: string): CurvePoint[] {
    this.#state(signature);
    return [...(this.#curves.get(signature) ?? [])];
  }

  summary(signature: string): LedgerSummary {
    const s = this.#state(signature);
    const a = s.account;
    const costs = Object.values(a.positions).reduce((sum, p) => sum.plus(p.costBasis), dec(0));
    return {
      signature,
      initialCash: a.initialCash.toFixed(),
      cash: a.cash.toFixed(),
      equity: s.lastMark?.equity ?? a.cash.plus(costs).toFixed(),
      realizedPnl: a.realizedPnl.toFixed(),
      unrealizedPnl: s.lastMark?.unrealizedPnl ?? '0',
      fees: a.feesPaid.toFixed(),
      fills: s.stats.fills,
      sessions: { ...s.stats.sessions },
      orders: s.stats.orders,
      ordersByStatus: { ...s.stats.ordersByStatus },
      rejections: { ...s.stats.rejections },
      mismatches: s.stats.mismatches,
    };
  }
}

function withoutPending(log: LogState): LogState {
  const { pending: _pending, ...rest } = log;
  return rest;
}

export { LedgerLogError };

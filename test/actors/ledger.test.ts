import { appendFile, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger, LEDGER_SUBLEVELS, type LedgerJournalEntry, type LedgerOptions } from '../../src/actors/ledger/ledger.js';
import { formatCash, LedgerLogError, pythonJsonString, readPositionLines } from '../../src/actors/ledger/position-log-writer.js';
import { openStore, type Store } from '../../src/actors/store/store.js';
import { clientOrderId, sessionId } from '../../src/domain/ids.js';
import type { Message, SessionOutcome } from '../../src/domain/messages.js';
import { dec } from '../../src/domain/money.js';
import type { OrderResult, OrderSide } from '../../src/domain/orders.js';
import type { PointInTimeView } from '../../src/domain/point-in-time.js';
import { aiTrader } from '../support/fixtures.js';

const ZONE = 'Asia/Shanghai';
const SIG = 'alpha';
const REAL_LOG = aiTrader('agent-logs/cn-daily.gpt-5.position.jsonl');

let root: string;
let stateDir: string;
let store: Store;
/** symbol -> price, by exchange date (what the fake view knows). */
let prices: Record<string, Record<string, string>>;

const at = (date: string, time = '09:35') => DateTime.fromISO(`${date}T${time}`, { zone: ZONE });
const iso = (date: string, time = '09:35') => at(date, time).toISO()!;

function fakeView(when: DateTime): PointInTimeView {
  const day = when.setZone(ZONE).toISODate()!;
  return {
    at: when,
    symbols: () => Object.keys(prices[day] ?? {}),
    price: (symbol) => {
      const p = prices[day]?.[symbol];
      return p === undefined ? undefined : { price: dec(p), at: when, source: 'open', bar: undefined as never };
    },
    bars: () => [],
    previousClose: () => undefined,
    labelledBar: () => undefined,
  };
}

function options(extra: Partial<LedgerOptions> = {}): LedgerOptions {
  return {
    market: 'cn',
    frequency: 'daily',
    signatures: [{ signature: SIG, initialCash: '100000' }],
    store,
    stateDir,
    view: fakeView,
    universe: ['600519.SH', '600028.SH'],
    startDate: '2025-10-01',
    fsync: false,
    ...extra,
  };
}

interface Trade {
  readonly side: OrderSide;
  readonly symbol: string;
  readonly quantity: number;
  readonly price: string;
  readonly fee?: string;
  readonly status?: OrderResult['status'];
  readonly filled?: number;
  readonly reason?: OrderResult['reason'];
}

/** A session's outcome for these trades (clientOrderIds by index), and the fills to apply. */
function build(date: string, trades: readonly Trade[], signature = SIG, time = '09:35'): { outcome: SessionOutcome; fills: Message<'ledger.applyFill'>[] } {
  const atIso = iso(date, time);
  const results: OrderResult[] = [];
  const fills: Message<'ledger.applyFill'>[] = [];
  for (const [i, t] of trades.entries()) {
    const cid = clientOrderId(signature, 'cn', atIso, i);
    const filled = t.filled ?? (t.status === undefined || t.status === 'filled' ? t.quantity : 0);
    if (filled > 0) fills.push(fill(signature, cid, t, filled, at(date, time).toMillis()));
    results.push({
      clientOrderId: cid,
      intent: { side: t.side, symbol: t.symbol, quantity: t.quantity, type: 'market' },
      status: t.status ?? 'filled',
      filledQuantity: filled,
      ...(filled > 0 ? { averagePrice: t.price } : {}),
      fees: t.fee ?? '0',
      ...(t.reason ? { reason: t.reason, message: `${t.reason}: test` } : {}),
    });
  }
  return { outcome: { sessionId: sessionId(signature, atIso), signature, at: atIso, status: 'completed', results }, fills };
}

/** Apply the fills of a session's trades (like the engine, before the session records) and return its outcome. */
async function session(ledger: Ledger, date: string, trades: readonly Trade[], signature = SIG, time = '09:35'): Promise<SessionOutcome> {
  const { outcome, fills } = build(date, trades, signature, time);
  for (const f of fills) await ledger.applyFill(f);
  return outcome;
}

function fill(signature: string, cid: string, t: Trade, quantity: number, atMs: number, fillId = `${cid}#1`): Message<'ledger.applyFill'> {
  return {
    type: 'ledger.applyFill',
    signature,
    clientOrderId: cid,
    intent: { side: t.side, symbol: t.symbol, quantity: t.quantity, type: 'market' },
    fill: { fillId, quantity, price: t.price, fee: t.fee ?? '0', atMs },
  };
}

async function journal(): Promise<LedgerJournalEntry[]> {
  const out: LedgerJournalEntry[] = [];
  for await (const r of store.readJournal<LedgerJournalEntry>()) out.push(r.entry);
  return out;
}

const logFile = (signature = SIG) => join(stateDir, signature, 'position.jsonl');
const logText = (signature = SIG) => readFile(logFile(signature), 'utf8');

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-trader-ledger-'));
  stateDir = join(root, 'out');
  store = await openStore(join(root, 'state'));
  prices = {};
});

afterEach(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

async function reopen(): Promise<void> {
  await store.close();
  store = await openStore(join(root, 'state'));
}

describe('ledger: accounts', () => {
  it('marks equity at the instant with the prices known then, holds back T+1 shares and rolls the start of day', async () => {
    const ledger = new Ledger(options());
    prices = { '2025-10-09': { '600028.SH': '5.29' }, '2025-10-10': { '600028.SH': '5.50' } };
    const first = await ledger.getAccount(SIG, at('2025-10-09'));
    expect(first).toEqual({ signature: SIG, cash: '100000', positions: {}, equity: '100000', startOfDayEquity: '100000' });
    await ledger.recordSession(await session(ledger, '2025-10-09', [{ side: 'buy', symbol: '600028.SH', quantity: 1000, price: '5.29', fee: '5.00' }]));
    prices['2025-10-09']!['600028.SH'] = '5.40'; // later that day
    const sameDay = await ledger.getAccount(SIG, iso('2025-10-09', '14:00'));
    expect(sameDay.cash).toBe('94705');
    expect(sameDay.positions).toEqual({ '600028.SH': { quantity: 1000, sellable: 0, costBasis: '5295' } });
    expect(sameDay.equity).toBe('100105');
    expect(sameDay.startOfDayEquity).toBe('100000');
    const nextDay = await ledger.getAccount(SIG, at('2025-10-10'));
    expect(nextDay.positions['600028.SH']!.sellable).toBe(1000);
    expect(nextDay.equity).toBe('100205');
    expect(nextDay.startOfDayEquity).toBe('100205');
    // a symbol without a known price is valued at its cost basis
    prices['2025-10-13'] = {};
    const unpriced = await ledger.getAccount(SIG, at('2025-10-13'));
    expect(unpriced.equity).toBe('100000');
    const days = (await journal()).filter((e) => e.type === 'ledger.day').map((e) => e.type === 'ledger.day' && [e.date, e.equity]);
    expect(days).toEqual([
      ['2025-10-09', '100000'],
      ['2025-10-10', '100205'],
      ['2025-10-13', '100000'],
    ]);
  });

  it('refuses unknown signatures and bad instants (the actor answers ledger.failed)', async () => {
    const ledger = new Ledger(options());
    await expect(ledger.getAccount('nobody', at('2025-10-09'))).rejects.toThrow(/no account for signature "nobody"/);
    await expect(ledger.getAccount(SIG, 'yesterday')).rejects.toThrow(/not an ISO instant/);
    expect(() => new Ledger(options({ signatures: [{ signature: '../x', initialCash: 1 }] }))).toThrow(/cannot name a folder/);
  });
});

describe('ledger: idempotency', () => {
  it('applies a fill once per fillId and records a session once per sessionId', async () => {
    const ledger = new Ledger(options());
    prices = { '2025-10-09': { '600028.SH': '5.29' } };
    const { outcome, fills } = build('2025-10-09', [{ side: 'buy', symbol: '600028.SH', quantity: 100, price: '5.29' }]);
    const m = fills[0]!;
    const cid = m.clientOrderId;
    expect(await ledger.applyFill(m)).toEqual({ applied: true });
    expect(await ledger.applyFill(m)).toEqual({ applied: false });
    expect(ledger.account(SIG).cash.toFixed()).toBe('99471');
    expect(await ledger.recordSession(outcome)).toEqual({ recorded: true, ids: [1], mismatches: [] });
    const text = await logText();
    expect(await ledger.recordSession(outcome)).toEqual({ recorded: false, ids: [], mismatches: [] });
    expect(await logText()).toBe(text);
    expect(await ledger.applyFill(m)).toEqual({ applied: false });
    const entries = await journal();
    expect(entries.filter((e) => e.type === 'ledger.fill')).toHaveLength(1);
    expect(entries.filter((e) => e.type === 'ledger.session')).toHaveLength(1);
    expect(ledger.equityCurve(SIG)).toHaveLength(1);
    expect(await store.getRecord(LEDGER_SUBLEVELS.fills, JSON.stringify([SIG, `${cid}#1`]))).toMatchObject({ clientOrderId: cid });
  });

  it('surfaces an impossible fill: a sell of shares not held throws and is journalled, nothing changes', async () => {
    const ledger = new Ledger(options());
    const cid = clientOrderId(SIG, 'cn', iso('2025-10-09'), 0);
    await expect(ledger.applyFill(fill(SIG, cid, { side: 'sell', symbol: '600028.SH', quantity: 100, price: '5' }, 100, at('2025-10-09').toMillis()))).rejects.toThrow(
      /only 0 held/,
    );
    expect(ledger.account(SIG).cash.toFixed()).toBe('100000');
    expect((await journal()).map((e) => e.type)).toContain('ledger.fillRefused');
    // not remembered as applied: the same fill id can still be applied once it makes sense
    expect(ledger.summary(SIG).fills).toBe(0);
  });
});

describe('ledger: position.jsonl', () => {
  it('writes AI-Trader records: record 0, one record per filled order, no_trade for a session without fills', async () => {
    const ledger = new Ledger(options({ universe: undefined }));
    prices = { '2025-10-09': {}, '2025-10-10': {} };
    await ledger.recordSession(
      await session(ledger, '2025-10-09', [
        { side: 'buy', symbol: '600028.SH', quantity: 100, price: '5.29' },
        { side: 'buy', symbol: '601318.SH', quantity: 300, price: '55.04', status: 'rejected', filled: 0, reason: 'INSUFFICIENT_CASH' },
        { side: 'buy', symbol: '601318.SH', quantity: 100, price: '55.04' },
      ]),
    );
    await ledger.recordSession(await session(ledger, '2025-10-10', []));
    await ledger.recordSession(await session(ledger, '2025-10-13', [{ side: 'sell', symbol: '600028.SH', quantity: 100, price: '5.3' }]));
    expect((await logText()).split('\n')).toEqual([
      '{"date": "2025-10-01", "id": 0, "positions": {"CASH": 100000.0}}',
      '{"date": "2025-10-09", "id": 1, "this_action": {"action": "buy", "symbol": "600028.SH", "amount": 100}, "positions": {"600028.SH": 100, "CASH": 99471.0}}',
      '{"date": "2025-10-09", "id": 2, "this_action": {"action": "buy", "symbol": "601318.SH", "amount": 100}, "positions": {"600028.SH": 100, "601318.SH": 100, "CASH": 93967.0}}',
      '{"date": "2025-10-10", "id": 3, "this_action": {"action": "no_trade", "symbol": "", "amount": 0}, "positions": {"600028.SH": 100, "601318.SH": 100, "CASH": 93967.0}}',
      '{"date": "2025-10-13", "id": 4, "this_action": {"action": "sell", "symbol": "600028.SH", "amount": 100}, "positions": {"600028.SH": 0, "601318.SH": 100, "CASH": 94497.0}}',
      '',
    ]);
    const s = ledger.summary(SIG);
    expect(s).toMatchObject({ fills: 3, orders: 4, rejections: { INSUFFICIENT_CASH: 1 }, ordersByStatus: { filled: 3, rejected: 1 }, sessions: { completed: 3 }, mismatches: 0 });
    expect(s.realizedPnl).toBe('1');
    expect((await journal()).filter((e) => e.type === 'ledger.rejection')).toEqual([
      expect.objectContaining({ reason: 'INSUFFICIENT_CASH', symbol: '601318.SH', status: 'rejected', message: 'INSUFFICIENT_CASH: test' }),
    ]);
  });

  it('matches a real AI-Trader record byte for byte (key order, separators, number shapes)', async () => {
    const real = (await readFile(REAL_LOG, 'utf8')).split('\n');
    const record0 = JSON.parse(real[0]!) as { date: string; positions: Record<string, number> };
    const universe = Object.keys(record0.positions).filter((k) => k !== 'CASH');
    const ledger = new Ledger(options({ universe, startDate: record0.date }));
    // the real record 1: buy 100 600028.SH at the 2025-10-09 open (5.29)
    await ledger.recordSession(await session(ledger, '2025-10-09', [{ side: 'buy', symbol: '600028.SH', quantity: 100, price: '5.29' }]));
    const ours = (await logText()).split('\n');
    expect(ours[0]).toBe(real[0]);
    expect(ours[1]).toBe(real[1]);
    // a no_trade record has the real one's keys and value shapes
    await ledger.recordSession(await session(ledger, '2025-10-10', []));
    const realNoTrade = JSON.parse(real.find((l) => l.includes('"no_trade"'))!) as Record<string, unknown>;
    const ourNoTrade = JSON.parse((await logText()).split('\n')[2]!) as Record<string, unknown>;
    const shape = (r: Record<string, unknown>) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'object' && v !== null ? v : typeof v));
    expect(Object.keys(ourNoTrade)).toEqual(Object.keys(realNoTrade));
    expect(shape(ourNoTrade)).toBe(shape(realNoTrade));
    expect(ourNoTrade['this_action']).toEqual({ action: 'no_trade', symbol: '', amount: 0 });
  });

  it('prints CASH rounded to the cent like Python floats, and strings like json.dumps', () => {
    expect(formatCash(dec('99471'))).toBe('99471.0');
    expect(formatCash(dec('6633.10'))).toBe('6633.1');
    expect(formatCash(dec('1185.43'))).toBe('1185.43');
    expect(formatCash(dec('3572.755'))).toBe('3572.76');
    expect(formatCash(dec('-0.001'))).toBe('0.0');
    expect(formatCash(dec('-12.5'))).toBe('-12.5');
    expect(pythonJsonString('中国石化')).toBe('"\\u4e2d\\u56fd\\u77f3\\u5316"');
  });

  it('logs fills of an order from an earlier session (queued to the next open) at the next recorded session', async () => {
    const ledger = new Ledger(options());
    const queued = await session(ledger, '2025-10-09', [{ side: 'buy', symbol: '600519.SH', quantity: 50, price: '1450', status: 'queued', filled: 0 }]);
    await ledger.recordSession(queued);
    const cid = queued.results[0]!.clientOrderId;
    await ledger.applyFill(fill(SIG, cid, { side: 'buy', symbol: '600519.SH', quantity: 50, price: '1450' }, 50, at('2025-10-10', '09:30').toMillis()));
    const next = await session(ledger, '2025-10-10', [{ side: 'buy', symbol: '600028.SH', quantity: 200, price: '5.34' }]);
    expect(await ledger.recordSession(next)).toMatchObject({ ids: [2, 3] });
    const records = (await readPositionLines(logFile())).records as { this_action?: { symbol: string }; positions: Record<string, number> }[];
    // The queued buy filled at the 09:30 open, before the session's buy: it comes first.
    expect(records.map((r) => r.this_action?.symbol)).toEqual([undefined, '', '600519.SH', '600028.SH']);
    expect(records[2]!.positions).toEqual({ '600519.SH': 50, '600028.SH': 0, CASH: 100000 - 72500 });
    expect(records[3]!.positions).toEqual({ '600519.SH': 50, '600028.SH': 200, CASH: 100000 - 72500 - 1068 });
  });

  it('writes the records in the order the venue filled them: a stop-loss sell before the session\'s buy never shows negative cash', async () => {
    // The account holds 300 601318.SH and 1000 cash; a stop-loss sells them at the 10:30 close,
    // then the 10:35 session buys with the proceeds (the replayed cn-60min run of issue 15).
    const ledger = new Ledger(options({ signatures: [{ signature: SIG, initialCash: '17500' }], universe: ['601318.SH', '600036.SH'], frequency: 'hourly', startDate: undefined }));
    await ledger.recordSession(await session(ledger, '2025-10-21', [{ side: 'buy', symbol: '601318.SH', quantity: 300, price: '55' }], SIG, '10:35'));
    const stop = { side: 'sell' as const, symbol: '601318.SH', quantity: 300, price: '54' };
    await ledger.applyFill(fill(SIG, 'alpha.stop.1', stop, 300, at('2025-10-22', '10:30').toMillis()));
    const next = await session(ledger, '2025-10-22', [{ side: 'buy', symbol: '600036.SH', quantity: 400, price: '42' }], SIG, '10:35');
    await ledger.recordSession(next);
    const records = (await readPositionLines(logFile())).records as { this_action?: { action: string; symbol: string }; positions: Record<string, number> }[];
    expect(records.slice(2).map((r) => [r.this_action?.action, r.this_action?.symbol, r.positions['CASH']])).toEqual([
      ['sell', '601318.SH', 1000 + 16200],
      ['buy', '600036.SH', 1000 + 16200 - 16800],
    ]);
    for (const r of records) expect(Object.values(r.positions).every((v) => v >= 0)).toBe(true);
  });

  it('books a fill at its value rounded to the cent (the venue\'s strict rule), or unrounded with AI-Trader\'s exact rule', async () => {
    const aapl = { side: 'buy' as const, symbol: 'AAPL', quantity: 3, price: '256.515' }; // worth 769.545
    const cent = new Ledger(options({ universe: ['AAPL'] }));
    await cent.recordSession(await session(cent, '2025-10-09', [aapl]));
    expect(cent.account(SIG).cash.toFixed()).toBe('99230.45');
    expect(cent.summary(SIG).cash).toBe('99230.45');
    expect((await logText()).split('\n')[1]).toContain('"CASH": 99230.45}');
    await store.close();
    await rm(root, { recursive: true, force: true });
    root = await mkdtemp(join(tmpdir(), 'agent-trader-ledger-'));
    stateDir = join(root, 'out');
    store = await openStore(join(root, 'state'));
    const exact = new Ledger(options({ universe: ['AAPL'], cashRule: 'exact' }));
    await exact.recordSession(await session(exact, '2025-10-09', [aapl]));
    expect(exact.account(SIG).cash.toFixed()).toBe('99230.455');
    expect((await logText()).split('\n')[1]).toContain('"CASH": 99230.46}'); // printed to the cent, half-up
  });

  it('gives an order whose fills another fill interrupted one record per run of its fills', async () => {
    const ledger = new Ledger(options());
    const t = at('2025-10-09', '09:35').toMillis();
    const buy = { side: 'buy' as const, symbol: '600028.SH', quantity: 300, price: '5.29' };
    const other = { side: 'buy' as const, symbol: '600519.SH', quantity: 100, price: '450' };
    await ledger.applyFill(fill(SIG, 'a.1', buy, 100, t, 'a.1#1'));
    await ledger.applyFill(fill(SIG, 'b.1', other, 100, t + 1));
    await ledger.applyFill(fill(SIG, 'a.1', buy, 200, t + 2, 'a.1#2'));
    await ledger.recordSession(await session(ledger, '2025-10-09', []));
    const records = (await readPositionLines(logFile())).records as { this_action?: { symbol: string; amount: number }; positions: Record<string, number> }[];
    expect(records.slice(1).map((r) => [r.this_action?.symbol, r.this_action?.amount, r.positions['CASH']])).toEqual([
      ['600028.SH', 100, 100000 - 529],
      ['600519.SH', 100, 100000 - 529 - 45000],
      ['600028.SH', 200, 100000 - 529 - 45000 - 1058],
    ]);
  });

  it('writes a stop-loss sell before the buy that spent its proceeds: no record shows cash or shares the account never had', async () => {
    // A protective sell (no session's order) fills between two sessions; the next session buys
    // with the cash it freed. Each record is the positions AFTER its action, so the sell must come
    // first: written after the session's buy, the buy's record showed negative cash.
    const ledger = new Ledger(options({ signatures: [{ signature: SIG, initialCash: '1000' }] }));
    await ledger.recordSession(await session(ledger, '2025-10-09', [{ side: 'buy', symbol: '600028.SH', quantity: 100, price: '9' }]));
    const stop = { side: 'sell' as const, symbol: '600028.SH', quantity: 100, price: '8' };
    await ledger.applyFill(fill(SIG, 'alpha.20251010T0930.SL-600028.SH', stop, 100, at('2025-10-10', '09:31').toMillis()));
    await ledger.recordSession(await session(ledger, '2025-10-10', [{ side: 'buy', symbol: '600519.SH', quantity: 1, price: '850' }]));
    const records = (await readPositionLines(logFile())).records as { this_action?: { action: string; symbol: string }; positions: Record<string, number> }[];
    expect(records.map((r) => r.this_action && `${r.this_action.action} ${r.this_action.symbol}`)).toEqual([undefined, 'buy 600028.SH', 'sell 600028.SH', 'buy 600519.SH']);
    expect(records.map((r) => r.positions['CASH'])).toEqual([1000, 100, 900, 50]);
  });

  // Open (found by a paper run stopped with Ctrl-C right after a stop-loss sold TSLA): a fill of no
  // session's order waits for the agent's next recorded session, so position.jsonl still shows the
  // shares after the stop and after a restart, until that session. Writing it at restore would make
  // an interrupted backtest's bytes differ from the uninterrupted run's; it needs a record written
  // at the stop (paper/live) or at the end of a backtest, with a date label of its own.
  it.todo('writes a stop-loss fill that no session follows (the last before a stop) to position.jsonl by the next start');

  it('reports an outcome that disagrees with the fills the ledger received', async () => {
    const ledger = new Ledger(options());
    const o = await session(ledger, '2025-10-09', [{ side: 'buy', symbol: '600028.SH', quantity: 100, price: '5.29', status: 'filled', filled: 0 }]);
    o.results[0]!.filledQuantity = 100; // the order says filled, no fill reached the ledger
    const r = await ledger.recordSession(o);
    expect(r.mismatches).toEqual([expect.stringMatching(/says 100 600028.SH filled, the ledger applied 0 \(no fill reached the ledger\)/)]);
    expect(ledger.summary(SIG).mismatches).toBe(1);
    expect((await journal()).some((e) => e.type === 'ledger.mismatch')).toBe(true);
  });

  it('writes skipped and failed sessions to the journal and the curve, not to position.jsonl', async () => {
    const ledger = new Ledger(options());
    await ledger.recordSession(await session(ledger, '2025-10-09', []));
    const before = await logText();
    const skipped = { ...(await session(ledger, '2025-10-10', [])), status: 'skipped' as const, reason: 'PREVIOUS_SESSION_RUNNING' as const };
    await ledger.recordSession(skipped);
    expect(await logText()).toBe(before);
    expect(ledger.summary(SIG).sessions).toEqual({ completed: 1, skipped: 1, failed: 0 });
    expect(ledger.equityCurve(SIG).map((p) => p.at)).toEqual([iso('2025-10-09'), iso('2025-10-10')]);
  });

  it('refuses to take over a position.jsonl its store does not know, or moves it aside when told', async () => {
    await mkdir(join(stateDir, SIG), { recursive: true });
    const old = '{"date": "2025-01-01", "id": 0, "positions": {"CASH": 1.0}}\n';
    await writeFile(logFile(), old);
    const ledger = new Ledger(options());
    await expect(ledger.recordSession(await session(ledger, '2025-10-09', []))).rejects.toThrow(LedgerLogError);
    const other = new Ledger(options({ existingLog: 'move-aside' }));
    await other.recordSession(await session(other, '2025-10-09', []));
    expect((await readdir(join(stateDir, SIG))).sort()).toEqual(['position.jsonl', `position.jsonl.replaced-${old.length}`]);
    expect(other.repairs).toHaveLength(1);
  });
});

describe('ledger: restore', () => {
  async function run(ledger: Ledger): Promise<void> {
    prices = { '2025-10-09': { '600028.SH': '5.29' }, '2025-10-10': { '600028.SH': '5.40' }, '2025-10-13': { '600028.SH': '5.50' } };
    await ledger.getAccount(SIG, at('2025-10-09'));
    await ledger.recordSession(await session(ledger, '2025-10-09', [{ side: 'buy', symbol: '600028.SH', quantity: 300, price: '5.29', fee: '5' }]));
    await ledger.getAccount(SIG, at('2025-10-10'));
    await ledger.recordSession(await session(ledger, '2025-10-10', [{ side: 'sell', symbol: '600028.SH', quantity: 100, price: '5.40', fee: '5.54' }]));
  }

  it('continues ids and doubles nothing after a restart', async () => {
    const first = new Ledger(options());
    await run(first);
    const text = await logText();
    const summary = first.summary(SIG);
    await reopen();
    const ledger = await Ledger.restore(options());
    expect(ledger.repairs).toEqual([]);
    expect(ledger.summary(SIG)).toEqual(summary);
    expect(ledger.equityCurve(SIG)).toEqual(first.equityCurve(SIG));
    expect((await ledger.getAccount(SIG, iso('2025-10-10', '14:00'))).startOfDayEquity).toBe((await first.getAccount(SIG, iso('2025-10-10', '14:00'))).startOfDayEquity);
    // the engine re-sends what it is not sure about: the last fill and the last session
    const again = build('2025-10-10', [{ side: 'sell', symbol: '600028.SH', quantity: 100, price: '5.40', fee: '5.54' }]);
    expect(await ledger.applyFill(again.fills[0]!)).toEqual({ applied: false });
    expect(await ledger.recordSession(again.outcome)).toMatchObject({ recorded: false });
    expect(await logText()).toBe(text);
    expect(ledger.account(SIG).cash.toFixed()).toBe(first.account(SIG).cash.toFixed());
    // and goes on where it stopped
    expect(await ledger.recordSession(await session(ledger, '2025-10-13', []))).toMatchObject({ recorded: true, ids: [3] });
    const ids = ((await readPositionLines(logFile())).records as { id: number }[]).map((r) => r.id);
    expect(ids).toEqual([0, 1, 2, 3]);
    expect(ledger.equityCurve(SIG)).toHaveLength(3);
  });

  it('completes a write that a crash left missing or torn, and moves aside bytes nobody committed', async () => {
    await run(new Ledger(options()));
    const full = await logText();
    const lines = full.split('\n');
    const base = Buffer.byteLength(lines.slice(0, -2).join('\n') + '\n');

    // crash after the commit, before the append
    await truncate(logFile(), base);
    await reopen();
    let ledger = await Ledger.restore(options());
    expect(await logText()).toBe(full);
    expect(ledger.repairs).toEqual([expect.objectContaining({ message: expect.stringMatching(/was missing; wrote it/) })]);

    // crash in the middle of the append: a torn last line
    await truncate(logFile(), base + 17);
    await reopen();
    ledger = await Ledger.restore(options());
    expect(await logText()).toBe(full);
    expect(ledger.repairs[0]!.message).toMatch(/torn \(17 of/);

    // bytes after the last committed record
    await appendFile(logFile(), '{"date": "2025-10-1');
    await reopen();
    ledger = await Ledger.restore(options());
    expect(await logText()).toBe(full);
    expect(ledger.repairs[0]!.message).toMatch(/19 bytes after the last committed record/);
    expect((await readdir(join(stateDir, SIG))).some((f) => f.startsWith('position.jsonl.torn-'))).toBe(true);
    expect((await journal()).filter((e) => e.type === 'ledger.repair')).toHaveLength(3);

    // records lost before the last write: refused, never papered over
    await truncate(logFile(), 10);
    await reopen();
    await expect(Ledger.restore(options())).rejects.toThrow(/records were lost/);
    expect((await stat(logFile())).size).toBe(10);
  });

  it('finishes an append that failed after its commit when the session is asked again', async () => {
    const ledger = new Ledger(options());
    await ledger.recordSession(await session(ledger, '2025-10-09', []));
    const before = await logText();
    // the file cannot be written (here: a directory in its place)
    await rename(logFile(), `${logFile()}.bak`);
    await mkdir(logFile());
    const second = await session(ledger, '2025-10-10', [{ side: 'buy', symbol: '600028.SH', quantity: 100, price: '5.34' }]);
    await expect(ledger.recordSession(second)).rejects.toThrow();
    await rm(logFile(), { recursive: true });
    await rename(`${logFile()}.bak`, logFile());
    // the session's ledger.failed makes the engine fail it; a re-ask (resume) finds it recorded and in the file
    expect(await ledger.recordSession(second)).toMatchObject({ recorded: false });
    const lines = (await logText()).slice(before.length).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ id: 2, this_action: { action: 'buy', symbol: '600028.SH', amount: 100 } });
  });

  it('refuses a stored ledger of another market', async () => {
    await run(new Ledger(options()));
    await expect(Ledger.restore(options({ market: 'us' }))).rejects.toThrow(/market cn, not us/);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromCallback, setup, type AnyActorRef } from 'xstate';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { riskActor, type RiskActorDeps } from '../../src/actors/risk/risk.actor.js';
import { DEFAULT_FEE_RATES } from '../../src/domain/fees.js';
import type { AccountView, AnyMessage, Message } from '../../src/domain/messages.js';
import type { OrderIntent, OrderResult } from '../../src/domain/orders.js';
import type { RiskDecision } from '../../src/domain/risk/book.js';
import { storeRiskJournal } from '../../src/actors/risk/risk-journal.js';
import { openStore } from '../../src/actors/store/store.js';
import { dec } from '../../src/domain/money.js';
import { LIVE_RAMP_SUBLEVEL, storeLiveRampDays } from '../../src/actors/risk/live-ramp-days.js';
import { order as alpacaOrder, startWorld, until } from '../support/fake-alpaca/harness.js';
import { FakeAlpacaProcess } from '../support/fake-alpaca/process.js';

const AT = '2025-10-09T09:35:00+08:00';
const NEXT_DAY = '2025-10-10T09:35:00+08:00';
const NOW = Date.parse(AT);
const SESSION = 'session:S';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-trader-risk-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const flat = (over: Partial<AccountView> = {}): AccountView => ({
  signature: 'alpha',
  cash: '100000',
  positions: {},
  equity: '100000',
  startOfDayEquity: '100000',
  ...over,
});

interface Probe {
  readonly deps: RiskActorDeps;
  readonly session: AnyMessage[];
  readonly engine: AnyMessage[];
  readonly alerts: Message<'monitor.alert'>[];
  readonly errors: unknown[];
  readonly journal: RiskDecision[];
  accountCalls: number;
  account: AccountView;
  ask(m: Partial<Message<'risk.check'>> & { clientOrderId: string; intent?: OrderIntent }): void;
  send(m: AnyMessage): void;
  stop(): void;
}

/** A parent with the risk actor (systemId 'risk') and recorders for the session, the engine and the monitor. */
function system(over: Partial<RiskActorDeps> = {}): Probe {
  const session: AnyMessage[] = [];
  const engine: AnyMessage[] = [];
  const alerts: Message<'monitor.alert'>[] = [];
  const errors: unknown[] = [];
  const journal: RiskDecision[] = [];
  const probe = { session, engine, alerts, errors, journal, accountCalls: 0, account: flat() } as Probe;
  const deps: RiskActorDeps = {
    mode: 'paper',
    market: 'cn',
    riskConfig: {
      max_single_position_ratio: 0.3,
      max_daily_loss_ratio: 0.05,
      min_cash_reserve: 10_000,
      max_orders_per_session: 10,
      max_orders_per_minute: 30,
      duplicate_window_seconds: 60,
    },
    staleQuoteSeconds: 30,
    account: async (signature) => {
      probe.accountCalls++;
      return { ...probe.account, signature };
    },
    quote: () => ({ price: '10', atMs: NOW }),
    knownSymbol: (s) => s !== 'NOPE.SH',
    fees: DEFAULT_FEE_RATES,
    now: () => NOW,
    killSwitch: new KillSwitch(dir, () => NOW, { pollMs: 20 }),
    journal: (d) => {
      journal.push(d);
    },
    onError: (e) => errors.push(e),
    ...over,
  };
  const recorder = (into: AnyMessage[]) => fromCallback<AnyMessage>(({ receive }) => receive((m) => into.push(m)));
  const machine = setup({
    actors: {
      session: recorder(session),
      engine: recorder(engine),
      monitor: fromCallback<AnyMessage>(({ receive }) => receive((m) => m.type === 'monitor.alert' && alerts.push(m))),
      risk: riskActor(deps),
    },
  }).createMachine({
    // The recorders first: risk talks to the engine as soon as it starts (a kill switch already thrown).
    invoke: [
      { src: 'engine', systemId: 'engine' },
      { src: 'monitor', systemId: 'monitor' },
      { src: 'session', systemId: SESSION },
      { src: 'risk', systemId: 'risk' },
    ],
  });
  const actor = createActor(machine);
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  const send = (m: AnyMessage) => (actor.system.get('risk') as AnyActorRef).send(m);
  return Object.assign(probe, {
    deps,
    send,
    ask: (m: Partial<Message<'risk.check'>> & { clientOrderId: string }) =>
      send({
        type: 'risk.check',
        sessionId: 'alpha@S',
        signature: 'alpha',
        at: AT,
        intent: { side: 'buy', symbol: '600519.SH', quantity: 100, type: 'market' },
        replyTo: SESSION,
        ...m,
      }),
    stop: () => actor.stop(),
  });
}

const buy = (quantity: number, symbol = '600519.SH'): OrderIntent => ({ side: 'buy', symbol, quantity, type: 'market' });
const sell = (quantity: number, symbol = '600519.SH'): OrderIntent => ({ side: 'sell', symbol, quantity, type: 'market' });
const replies = (p: Probe) => p.session.map((m) => (m.type === 'risk.rejected' ? `${m.clientOrderId} rejected ${m.reason}` : `${(m as Message<'risk.approved'>).clientOrderId} approved`));

describe('risk actor', () => {
  it('approves an order within the limits and rejects one beyond them, with the checks that ran', async () => {
    const p = system();
    p.ask({ clientOrderId: 'c1' });
    p.ask({ clientOrderId: 'c2', intent: buy(5000) });
    await vi.waitFor(() => expect(p.session).toHaveLength(2));
    const [approved, rejected] = p.session as [Message<'risk.approved'>, Message<'risk.rejected'>];
    expect(approved).toMatchObject({ type: 'risk.approved', sessionId: 'alpha@S', clientOrderId: 'c1', tsEvent: NOW });
    expect(approved.checks?.map((c) => c.rule)).toContain('max_single_position_ratio');
    expect(approved.checks?.every((c) => c.passed)).toBe(true);
    expect(rejected).toMatchObject({
      type: 'risk.rejected',
      clientOrderId: 'c2',
      reason: 'MAX_POSITION_RATIO',
      message: 'MAX_POSITION_RATIO: 600519.SH would be 50.0% of equity, limit 30%',
    });
    expect(rejected.checks?.at(-1)).toMatchObject({ code: 'MAX_POSITION_RATIO', passed: false, value: '50.0%', limit: '30%' });
    expect(p.journal.map((d) => [d.clientOrderId, d.approved])).toEqual([
      ['c1', true],
      ['c2', false],
    ]);
    expect(p.errors).toEqual([]);
    p.stop();
  });

  it('checks unknown symbols and stale quotes in paper mode', async () => {
    const p = system({ quote: (s) => (s === '600000.SH' ? { price: '10', atMs: NOW - 31_000 } : undefined) });
    p.ask({ clientOrderId: 'c1', intent: buy(100, 'NOPE.SH') });
    p.ask({ clientOrderId: 'c2', intent: buy(100, '600000.SH') });
    p.ask({ clientOrderId: 'c3', intent: buy(100, '600519.SH') });
    await vi.waitFor(() => expect(replies(p)).toEqual(['c1 rejected UNKNOWN_SYMBOL', 'c2 rejected STALE_QUOTE', 'c3 rejected STALE_QUOTE']));
    p.stop();
  });

  it('is idempotent by client order id: a re-ask gets the recorded answer and counts once, also after a restart', async () => {
    const limits = { max_single_position_ratio: 0.3, max_daily_loss_ratio: 0.05, min_cash_reserve: 10_000, max_orders_per_session: 1, max_orders_per_minute: 30, duplicate_window_seconds: 60 };
    const p = system({ riskConfig: limits });
    p.ask({ clientOrderId: 'c1' });
    p.ask({ clientOrderId: 'c1' }); // a session's resume re-asks
    p.ask({ clientOrderId: 'c2', intent: buy(200) });
    await vi.waitFor(() => expect(replies(p)).toEqual(['c1 approved', 'c1 approved', 'c2 rejected MAX_ORDERS_PER_SESSION']));
    expect(p.session[0]).toEqual(p.session[1]);
    expect(p.accountCalls).toBe(2);
    expect(p.journal).toHaveLength(2);
    p.stop();

    // A new process, started with the journal of the first.
    const q = system({ riskConfig: limits, history: p.journal });
    q.ask({ clientOrderId: 'c1' });
    q.ask({ clientOrderId: 'c3', intent: buy(300) });
    await vi.waitFor(() => expect(replies(q)).toEqual(['c1 approved', 'c3 rejected MAX_ORDERS_PER_SESSION']));
    expect(q.session[0]).toMatchObject({ checks: (p.session[0] as Message<'risk.approved'>).checks });
    expect(q.accountCalls).toBe(1); // only c3 read the account
    q.stop();
  });

  it('keeps its decisions in LevelDB: a process started on the same store answers as before and still holds a daily-loss breach', async () => {
    const storeDir = join(dir, 'state');
    const first = await openStore(storeDir);
    const j1 = storeRiskJournal(first);
    const p = system({ journal: j1.journal });
    p.account = flat({ equity: '94000', positions: { '600519.SH': { quantity: 1000, sellable: 1000, costBasis: '16' } } });
    p.ask({ clientOrderId: 'c1', intent: buy(100) });
    p.ask({ clientOrderId: 'c2', intent: sell(100) });
    await vi.waitFor(() => expect(replies(p)).toEqual(['c1 rejected DAILY_LOSS_LIMIT', 'c2 approved']));
    p.stop();
    await first.close();

    const again = await openStore(storeDir);
    try {
      const history = await storeRiskJournal(again).history();
      expect(history.map((d) => [d.clientOrderId, d.approved, d.reducing])).toEqual([
        ['c1', false, true],
        ['c2', true, true],
      ]);
      const q = system({ history });
      q.account = flat(); // equity recovered: the breach still holds for the day
      q.ask({ clientOrderId: 'c2', intent: sell(100) });
      q.ask({ clientOrderId: 'c3', intent: buy(100, '600000.SH') });
      await vi.waitFor(() => expect(replies(q)).toEqual(['c2 approved', 'c3 rejected DAILY_LOSS_LIMIT']));
      expect(q.alerts.filter((a) => a.code === 'DAILY_LOSS_LIMIT')).toEqual([]); // alerted once, by the first process
      q.stop();
    } finally {
      await again.close();
    }
  });

  it('counts cash committed to open buys (queued, resting) against the reserve', async () => {
    let committed = dec(0);
    const p = system({ committedCash: () => committed });
    p.ask({ clientOrderId: 'c1', intent: buy(2000, '600000.SH') }); // 20,000 of 100,000: fine
    await vi.waitFor(() => expect(replies(p)).toEqual(['c1 approved']));
    committed = dec(85_000); // queued buys elsewhere promise 85k: 15k left, 10k reserve
    p.ask({ clientOrderId: 'c2', intent: buy(600, '601318.SH') }); // 6,000 + fees -> 8,995 < 10,000
    p.ask({ clientOrderId: 'c3', intent: sell(100, '600000.SH') }); // sells are not held back by commitments
    await vi.waitFor(() => expect(p.session).toHaveLength(3));
    expect(replies(p)).toEqual(['c1 approved', 'c2 rejected MIN_CASH_RESERVE', 'c3 approved']);
    expect((p.session[1] as Message<'risk.rejected'>).message).toBe(
      'MIN_CASH_RESERVE: buying 600 601318.SH for 6000.00 + 5.06 fees would leave 8994.94 CNY in cash (85000.00 CNY already committed to open buys), reserve 10000.00 CNY',
    );
    p.stop();
  });

  it('refuses a duplicate inside the window', async () => {
    const p = system();
    p.ask({ clientOrderId: 'c1' });
    p.ask({ clientOrderId: 'c2', sessionId: 'alpha@T' });
    await vi.waitFor(() => expect(replies(p)).toEqual(['c1 approved', 'c2 rejected DUPLICATE_ORDER']));
    expect((p.session[1] as Message<'risk.rejected'>).message).toBe('DUPLICATE_ORDER: buy 100 600519.SH was approved 0s ago (c1), window 60s');
    p.stop();
  });

  it('daily loss: trips once, alerts once, refuses buys for the rest of the day even if equity recovers, allows sells', async () => {
    const p = system();
    p.account = flat({ equity: '94000', positions: { '600519.SH': { quantity: 1000, sellable: 1000, costBasis: '16' } } });
    p.ask({ clientOrderId: 'c1' });
    p.ask({ clientOrderId: 'c2', intent: buy(200) });
    p.ask({ clientOrderId: 'c3', intent: sell(100) });
    await vi.waitFor(() => expect(p.session).toHaveLength(3));
    expect(replies(p)).toEqual(['c1 rejected DAILY_LOSS_LIMIT', 'c2 rejected DAILY_LOSS_LIMIT', 'c3 approved']);
    expect(p.alerts).toEqual([
      {
        type: 'monitor.alert',
        level: 'warning',
        code: 'DAILY_LOSS_LIMIT',
        message:
          'alpha: equity 94000.00 CNY is 6.0% below the start of day 100000.00 CNY (limit 5%); buys are refused until the next trading day after 2025-10-09, sells stay allowed',
        signature: 'alpha',
        sessionId: 'alpha@S',
        clientOrderId: 'c1',
        tsEvent: NOW,
      },
    ]);

    p.account = flat(); // recovered
    p.ask({ clientOrderId: 'c4', intent: buy(300) });
    await vi.waitFor(() => expect(p.session).toHaveLength(4));
    expect((p.session[3] as Message<'risk.rejected'>).message).toMatch(/^DAILY_LOSS_LIMIT: the daily loss limit 5% was reached earlier today/);

    p.ask({ clientOrderId: 'c5', at: NEXT_DAY, sessionId: 'alpha@N', intent: buy(300) });
    await vi.waitFor(() => expect(p.session).toHaveLength(5));
    expect(replies(p)[4]).toBe('c5 approved');
    expect(p.alerts).toHaveLength(1);
    p.stop();

    // The breach survives a restart (from the journal) without a second alert.
    const q = system({ history: p.journal.filter((d) => d.day === '2025-10-09') });
    q.ask({ clientOrderId: 'c6', intent: buy(400) });
    await vi.waitFor(() => expect(replies(q)).toEqual(['c6 rejected DAILY_LOSS_LIMIT']));
    expect(q.alerts).toEqual([]);
    q.stop();
  });

  it('kill switch already thrown at start: cancels all open orders, alerts, refuses every order', async () => {
    await new KillSwitch(dir, () => NOW).activate({ reason: 'stop everything' });
    const p = system();
    expect(p.engine).toEqual([{ type: 'engine.cancelOpenOrders', reason: 'KILL_SWITCH', tsEvent: NOW }]);
    expect(p.alerts).toMatchObject([{ level: 'critical', code: 'KILL_SWITCH' }]);
    expect(p.alerts[0]?.message).toBe(
      'kill switch thrown for all signatures (stop everything, at 2025-10-09T01:35:00.000Z): open orders cancelled, new orders refused until reset',
    );
    p.ask({ clientOrderId: 'c1' });
    p.ask({ clientOrderId: 'c2', intent: sell(100) });
    await vi.waitFor(() => expect(replies(p)).toEqual(['c1 rejected KILL_SWITCH', 'c2 rejected KILL_SWITCH']));
    expect((p.session[0] as Message<'risk.rejected'>).checks).toEqual([
      { rule: 'kill_switch', code: 'KILL_SWITCH', passed: false, value: 'halted', limit: 'active' },
    ]);
    p.stop();
  });

  it('kill switch thrown and reset while running (from another process): cancels that signature only, then trades again', async () => {
    const p = system();
    expect(p.engine).toEqual([]);
    const cli = new KillSwitch(dir, () => NOW);
    await cli.activate({ signature: 'alpha', reason: 'runaway agent' });
    await vi.waitFor(() => expect(p.engine).toEqual([{ type: 'engine.cancelOpenOrders', signature: 'alpha', reason: 'KILL_SWITCH', tsEvent: NOW }]));
    expect(p.alerts).toMatchObject([{ level: 'critical', code: 'KILL_SWITCH', signature: 'alpha' }]);

    p.ask({ clientOrderId: 'a1' });
    p.ask({ clientOrderId: 'b1', signature: 'beta', sessionId: 'beta@S' });
    await vi.waitFor(() => expect(replies(p)).toEqual(['a1 rejected KILL_SWITCH', 'b1 approved']));

    await cli.reset();
    await vi.waitFor(() => expect(p.alerts.map((a) => a.code)).toEqual(['KILL_SWITCH', 'KILL_SWITCH_RESET']));
    p.ask({ clientOrderId: 'a2', intent: buy(200) });
    await vi.waitFor(() => expect(replies(p)).toEqual(['a1 rejected KILL_SWITCH', 'b1 approved', 'a2 approved']));
    expect(p.engine).toHaveLength(1);
    p.stop();
  });

  it('hands the results of protective orders to onProtectiveResult', () => {
    const seen: OrderResult[] = [];
    const p = system({ onProtectiveResult: (r) => seen.push(r) });
    const result: OrderResult = { clientOrderId: 'stop.1', intent: sell(100), status: 'filled', filledQuantity: 100, averagePrice: '9', fees: '5' };
    p.send({ type: 'order.result', sessionId: 'risk', result, tsEvent: NOW });
    expect(seen).toEqual([result]);
    p.stop();
  });

  it('fails closed: an account it cannot read is a rejection (ACTOR_FAILED), not recorded, so a re-ask tries again', async () => {
    let broken = true;
    const q = system({
      account: async (signature) => {
        if (broken) throw new Error('ledger down');
        return flat({ signature });
      },
    });
    q.ask({ clientOrderId: 'c1' });
    await vi.waitFor(() => expect(replies(q)).toEqual(['c1 rejected ACTOR_FAILED']));
    expect((q.session[0] as Message<'risk.rejected'>).message).toBe('ACTOR_FAILED: risk could not read the account for c1: ledger down');
    expect(q.alerts).toMatchObject([{ level: 'critical', code: 'RISK_CHECK_FAILED', clientOrderId: 'c1' }]);
    broken = false;
    q.ask({ clientOrderId: 'c1' });
    await vi.waitFor(() => expect(replies(q)).toEqual(['c1 rejected ACTOR_FAILED', 'c1 approved']));
    q.stop();
  });
});

describe('risk actor: live', () => {
  const RAMP = { start_cap: 20_000, growth_per_trading_day: 10_000, max: 40_000 };
  /** 1,000 shares held at a cost of 10,000 CNY: 10,000 of capital in use before any buy. */
  const holding = () => flat({ positions: { '600519.SH': { quantity: 1000, sellable: 1000, costBasis: '10000' } }, equity: '110000' });
  const at = (date: string) => `${date}T09:35:00+08:00`;

  it('live ramp: the first check records the first live day; the cap grows by trading day up to max; a restart counts from the same day', async () => {
    const storeDir = join(dir, 'state');
    const store = await openStore(storeDir);
    const days = await storeLiveRampDays(store, 'real');
    const p = system({ mode: 'live', liveRamp: { ramp: RAMP, firstDay: (s, d) => days.firstDay(s, d) } });
    p.account = holding();
    // Thursday 2025-10-09, the first live day: cap 20,000. 10,000 held + 1,000 x 10 + 5.10 fees is over it; 900 fits.
    p.ask({ clientOrderId: 'd1.1', at: at('2025-10-09'), intent: buy(1000) });
    p.ask({ clientOrderId: 'd1.2', at: at('2025-10-09'), intent: buy(900) });
    p.ask({ clientOrderId: 'd1.3', at: at('2025-10-09'), intent: sell(1000) }); // sells are never capped
    await vi.waitFor(() => expect(replies(p)).toEqual(['d1.1 rejected LIVE_RAMP_CAP', 'd1.2 approved', 'd1.3 approved']));
    expect((p.session[0] as Message<'risk.rejected'>).message).toBe(
      "LIVE_RAMP_CAP: buying 1000 600519.SH would bring alpha's capital in use to 20005.10 CNY (positions at cost 10000.00 + open buys 0.00 + this order 10005.10), " +
        "over today's live ramp cap 20000.00 CNY (trading day 0 since 2025-10-09: 20000.00 + 10000.00 a trading day, at most 40000.00)",
    );
    expect((p.session[0] as Message<'risk.rejected'>).checks?.at(-1)).toMatchObject({ rule: 'live_ramp', code: 'LIVE_RAMP_CAP', passed: false, value: '20005.10', limit: '20000.00' });
    // Friday: one trading day later, 30,000.
    p.ask({ clientOrderId: 'd2.1', at: at('2025-10-10'), intent: buy(1000) });
    await vi.waitFor(() => expect(replies(p).at(-1)).toBe('d2.1 approved'));
    p.stop();
    expect(await store.getRecord(LIVE_RAMP_SUBLEVEL, 'real/alpha')).toEqual({ account: 'real', signature: 'alpha', firstDay: '2025-10-09' });
    await store.close();

    // A restarted process on the same store: the weekend does not count, Monday is day 2 (40,000).
    const again = await openStore(storeDir);
    try {
      const days2 = await storeLiveRampDays(again, 'real');
      expect([...days2.recorded]).toEqual([['alpha', '2025-10-09']]);
      const q = system({ mode: 'live', liveRamp: { ramp: RAMP, firstDay: (s, d) => days2.firstDay(s, d) } });
      q.account = flat({ positions: { '600519.SH': { quantity: 3000, sellable: 3000, costBasis: '30000' } }, equity: '130000' });
      q.ask({ clientOrderId: 'd3.1', at: at('2025-10-13'), intent: buy(1000, '600000.SH') }); // 30,000 + 10,005.10 > 40,000
      q.ask({ clientOrderId: 'd3.2', at: at('2025-10-13'), intent: buy(900, '600000.SH') });
      q.ask({ clientOrderId: 'd9.1', at: at('2025-10-20'), intent: buy(1000, '600000.SH') }); // later still: max 40,000
      await vi.waitFor(() => expect(replies(q)).toEqual(['d3.1 rejected LIVE_RAMP_CAP', 'd3.2 approved', 'd9.1 rejected LIVE_RAMP_CAP']));
      expect((q.session[2] as Message<'risk.rejected'>).message).toContain("over today's live ramp cap 40000.00 CNY (trading day 7 since 2025-10-09");
      q.stop();
    } finally {
      await again.close();
    }
  });

  it('live ramp: open buys count as capital in use', async () => {
    const days = new Map<string, string>();
    const p = system({
      mode: 'live',
      committedCash: () => dec(9_000),
      liveRamp: { ramp: RAMP, firstDay: async (s, d) => days.get(s) ?? (days.set(s, d), d) },
    });
    p.account = holding();
    p.ask({ clientOrderId: 'c1', intent: buy(100) }); // 10,000 + 9,000 + 1,005 > 20,000
    await vi.waitFor(() => expect(replies(p)).toEqual(['c1 rejected LIVE_RAMP_CAP']));
    expect((p.session[0] as Message<'risk.rejected'>).message).toContain('(positions at cost 10000.00 + open buys 9000.00 + this order 1005.01)');
    p.stop();
  });

  it("buying power: each buy is checked against the broker's answer of the moment; sells do not ask", async () => {
    let power = '5000';
    let asked = 0;
    const p = system({
      mode: 'live',
      buyingPower: async () => {
        asked++;
        return power;
      },
    });
    p.account = holding(); // the sell below sells held shares (live checks the position)
    p.ask({ clientOrderId: 'c1', intent: buy(400) }); // 4,000 + 5 fees
    await vi.waitFor(() => expect(replies(p)).toEqual(['c1 approved']));
    power = '3000';
    p.ask({ clientOrderId: 'c2', intent: buy(400, '600000.SH') });
    p.ask({ clientOrderId: 'c3', intent: sell(100) });
    await vi.waitFor(() => expect(replies(p)).toEqual(['c1 approved', 'c2 rejected BUYING_POWER', 'c3 approved']));
    expect((p.session[1] as Message<'risk.rejected'>).message).toBe("BUYING_POWER: buying 400 600000.SH costs 4005.04 CNY with fees, the broker account's buying power is 3000.00 CNY");
    expect(asked).toBe(2);
    p.stop();
  });

  it('buying power that cannot be read fails closed (ACTOR_FAILED, alerted, not recorded)', async () => {
    const p = system({ mode: 'live', buyingPower: async () => Promise.reject(new Error('Alpaca GET /v2/account: 503 down')) });
    p.ask({ clientOrderId: 'c1' });
    await vi.waitFor(() => expect(replies(p)).toEqual(['c1 rejected ACTOR_FAILED']));
    expect((p.session[0] as Message<'risk.rejected'>).message).toBe("ACTOR_FAILED: risk could not read the broker account's buying power for c1: Alpaca GET /v2/account: 503 down");
    expect(p.alerts).toMatchObject([{ level: 'critical', code: 'RISK_CHECK_FAILED' }]);
    expect(p.journal).toEqual([]);
    p.stop();
  });

  it("buying power from the AlpacaBroker against the fake Alpaca: an order resting there lowers what the next buy may spend", async () => {
    const fake = await FakeAlpacaProcess.start({ cash: '5000' });
    await fake.price('AAPL', '270.25');
    const world = await startWorld({}, fake);
    try {
      const p = system({
        mode: 'live',
        market: 'us',
        riskConfig: { max_single_position_ratio: 0.9, max_daily_loss_ratio: 0.05, min_cash_reserve: 0, max_orders_per_session: 10, max_orders_per_minute: 30, duplicate_window_seconds: 0 },
        quote: () => ({ price: '270.25', atMs: NOW }),
        buyingPower: (s) => world.broker.buyingPower(s),
      });
      const aapl = (q: number): OrderIntent => ({ side: 'buy', symbol: 'AAPL', quantity: q, type: 'market' });
      p.ask({ clientOrderId: 'c1', intent: aapl(10), at: '2025-11-07T10:05:00-05:00' }); // 2,702.50 of 5,000
      await vi.waitFor(() => expect(replies(p)).toEqual(['c1 approved']));
      // A limit buy rests at the fake and holds 2,700 of the buying power.
      await world.broker.submit(alpacaOrder('ew.1', { type: 'limit', limitPrice: '270', quantity: 10 }));
      await until(async () => (await fake.state()).orders.some((o) => o.client_order_id === 'ew.1'), 'the resting order');
      p.ask({ clientOrderId: 'c2', intent: aapl(10), at: '2025-11-07T10:05:00-05:00' });
      await vi.waitFor(() => expect(replies(p)).toEqual(['c1 approved', 'c2 rejected BUYING_POWER']));
      expect((p.session[1] as Message<'risk.rejected'>).message).toBe("BUYING_POWER: buying 10 AAPL costs 2702.50 USD with fees, the broker account's buying power is 2300.00 USD");
      p.stop();
    } finally {
      await world.stop();
      await fake.stop();
    }
  });
});

/**
 * The `risk` system actor: pre-trade risk between the agent's intent and the order, in every
 * mode. Nothing reaches a broker without its `risk.approved`.
 *
 * - `risk.check` -> reads the account (`deps.account`, the ledger's view at the session
 *   instant), the latest quote and the venue's estimate of the order's price and fees
 *   (`deps.estimate`), runs the table (src/domain/risk/checks.ts) through the
 *   signature's gate (`active | halted | reducing`) and answers `risk.approved` or
 *   `risk.rejected` (reason, `CODE: detail`, and the checks that ran) to `replyTo`.
 *   IDEMPOTENT by client order id: a re-asked check (a session's `resume`) gets the recorded
 *   decision and counts nothing twice. Checks run one at a time in arrival order, so two
 *   orders never both pass a limit only one of them fits.
 *   Each new decision goes to `deps.journal` (awaited, so it is stored before it is acted
 *   on); `deps.history` (the journal of an earlier run, in order) rebuilds the decisions,
 *   counters and today's daily-loss breaches on start. A buy is checked against cash minus
 *   what the signature's open buys already committed (`deps.committedCash`).
 * - Daily loss: the first check that sees equity beyond `max_daily_loss_ratio` below the start
 *   of day turns the signature's gate to `reducing` until the next exchange day (buys refused,
 *   sells allowed, even if equity recovers) and raises ONE `monitor.alert` (warning,
 *   `DAILY_LOSS_LIMIT`).
 * - Kill switch (`deps.killSwitch`, a file another process may change): on start when it is
 *   already thrown, and whenever it is thrown later, `engine.cancelOpenOrders
 *   { signature?, reason: 'KILL_SWITCH' }` to the engine and a critical `monitor.alert`
 *   (`KILL_SWITCH`); every check reads the file, so a halted signature is refused even before
 *   the watcher fires. A reset raises an info alert (`KILL_SWITCH_RESET`).
 * - `order.result` (protective orders the stop-loss watcher places with `replyTo: 'risk'`) ->
 *   `deps.onProtectiveResult`.
 * - Live: with `deps.liveRamp`, a buy is checked against the signature's capital cap of the day
 *   (src/domain/risk/live-ramp.ts), counted from its first live trading day, which
 *   `liveRamp.firstDay` keeps (recorded durably at the signature's first check); with
 *   `deps.buyingPower`, the broker account's buying power is fetched before each buy and the buy
 *   must fit in it (`BUYING_POWER`).
 *
 * Fails closed: an account that cannot be read, or a check that throws, is answered
 * `risk.rejected` (`ACTOR_FAILED`, not recorded, so a re-ask tries again) and alerted; never
 * approved. The actor itself never throws.
 */
import { fromCallback, type AnyActorRef } from 'xstate';
import type { FeeRates, OrderEstimate } from '../../domain/fees.js';
import type { InFlight } from '../../domain/in-flight.js';
import { SYSTEM_IDS } from '../../domain/ids.js';
import type { Market } from '../../domain/markets.js';
import type { AccountView, AnyMessage, Message } from '../../domain/messages.js';
import { dec, type Dec } from '../../domain/money.js';
import type { OrderResult } from '../../domain/orders.js';
import { RiskBook, type RiskDecision } from '../../domain/risk/book.js';
import { exchangeDay, gateOf, limitPercent, money, ratioPercent, runChecks, type RiskInput, type RiskIntent, type RiskLimits, type TradingMode } from '../../domain/risk/checks.js';
import { liveRampCap, type LiveRamp } from '../../domain/risk/live-ramp.js';
import { MARKET_RULES } from '../../domain/market-rules.js';
import { haltsSignature, KILL_SWITCH_OFF, type KillSwitch, type KillSwitchState } from './kill-switch.js';

export interface RiskQuote {
  /** Decimal string. */
  readonly price: string;
  /** When the price was current (epoch ms, the injected clock's time line). */
  readonly atMs: number;
}

export interface RiskActorDeps {
  readonly mode: TradingMode;
  readonly market: Market;
  /** `config.risk_control`. */
  readonly riskConfig: RiskLimits;
  /** `config.data_source.stale_quote_seconds`. */
  readonly staleQuoteSeconds: number;
  /** The account at the session instant (the ledger's `getAccount`). */
  readonly account: (signature: string, atIso: string) => Promise<AccountView>;
  /** The latest quote of a symbol (backtest: the point-in-time price at `now`). */
  readonly quote: (symbol: string) => RiskQuote | undefined;
  /** The market data knows the symbol. */
  readonly knownSymbol: (symbol: string) => boolean;
  /** The symbol's previous close (decimal string): the exchange's daily band (live rows); absent: not checked. */
  readonly previousClose?: (symbol: string) => string | undefined;
  /** The symbols the run trades (data_source.symbols); absent: any known symbol. */
  readonly universe?: readonly string[];
  /** `config.broker.fees`: the fee table when the venue gives no `estimate`. */
  readonly fees: FeeRates;
  /**
   * The venue's price and fees for an order now (src/actors/brokers/broker.ts
   * `OrderEstimates`): orders are valued as the venue will fill and charge them, so risk
   * never refuses what the venue would take (or the reverse) because of a different price or
   * fee table. Absent, or undefined for an order: the latest quote (or limit) and `fees`.
   */
  readonly estimate?: (intent: RiskIntent) => OrderEstimate | undefined;
  /** Injected clock, epoch ms. */
  readonly now: () => number;
  readonly killSwitch: Pick<KillSwitch, 'state' | 'watch'>;
  /** Checks in flight are counted here (the backtest driver waits for them). */
  readonly inFlight?: InFlight;
  /** Results of protective orders (stop-loss) placed with `replyTo: 'risk'`. */
  readonly onProtectiveResult?: (result: OrderResult) => void;
  /** Each new decision, for the audit trail and for `history` after a restart; awaited before the answer goes out. */
  readonly journal?: (decision: RiskDecision) => void | Promise<void>;
  /** Cash promised to the signature's open buys (src/runtime/commitments.ts); none when absent. */
  readonly committedCash?: (signature: string) => Dec;
  /** Decisions of an earlier run, oldest first, replayed on start. */
  readonly history?: readonly RiskDecision[];
  /** Also told about every error (logs, tests). */
  readonly onError?: (error: unknown, request?: AnyMessage) => void;
  /**
   * Live: the capital ramp (`risk_control.live_ramp`), and the signature's first live trading
   * day: the one recorded, or `day` (recorded durably before it resolves) when there is none yet.
   * Absent: capital in use is not capped.
   */
  readonly liveRamp?: { readonly ramp: LiveRamp; readonly firstDay: (signature: string, day: string) => Promise<string> };
  /** The broker account's buying power now (decimal string), asked before each buy; absent: not checked. */
  readonly buyingPower?: (signature: string) => Promise<string>;
  /** The broker account's program-trading tally and caps, read before every order (ORDER_RATE_LIMIT); absent: not checked. */
  readonly programTrading?: () => RiskInput['programTrading'];
  /** The limits now (a reloaded config's, between sessions); absent: `riskConfig` for good. */
  readonly limits?: () => RiskLimits;
  /**
   * Handed, on start, a way to check an order outside a session (the control layer's flatten):
   * the same queue, table, book and journal as a session's check; resolves to the answer.
   */
  readonly expose?: (check: (request: Message<'risk.check'>) => Promise<RiskAnswer>) => void;
}

/** What a check answered: approved, or refused with the reason code and its `CODE: detail`. */
export interface RiskAnswer {
  readonly approved: boolean;
  readonly reason?: string | undefined;
  readonly message?: string | undefined;
}

type Alert = Message<'monitor.alert'>;

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

const parsePrice = (p: string | undefined): Dec | undefined => {
  if (p === undefined || !/^\d+(\.\d+)?$/.test(p)) return undefined;
  return dec(p);
};

export function riskActor(deps: RiskActorDeps) {
  return fromCallback<AnyMessage>(({ receive, system }) => {
    const startLimits = deps.riskConfig;
    const book = new RiskBook({ horizonMs: Math.max(60_000, startLimits.duplicate_window_seconds * 1000) });
    for (const d of deps.history ?? []) book.record(d);
    let stopped = false;

    const send = (to: string, message: AnyMessage) => {
      if (stopped) return;
      try {
        (system.get(to) as AnyActorRef | undefined)?.send(message);
      } catch (err) {
        deps.onError?.(err, message);
      }
    };
    const alert = (level: Alert['level'], code: string, text: string, extra: { signature?: string; sessionId?: string; clientOrderId?: string } = {}) =>
      send(SYSTEM_IDS.monitor, { type: 'monitor.alert', level, code, message: text, ...extra, tsEvent: deps.now() } satisfies Alert);

    // -----------------------------------------------------------------------------------
    // Kill switch

    let known: KillSwitchState = KILL_SWITCH_OFF;
    const cancel = (signature: string | undefined) =>
      send(SYSTEM_IDS.engine, {
        type: 'engine.cancelOpenOrders',
        ...(signature === undefined ? {} : { signature }),
        reason: 'KILL_SWITCH',
        tsEvent: deps.now(),
      } satisfies Message<'engine.cancelOpenOrders'>);
    const announce = (next: KillSwitchState) => {
      const prev = known;
      known = next;
      const before = prev.active ? prev.signatures : [];
      const after = next.active ? next.signatures : [];
      const why = `${next.reason}${next.at ? `, at ${next.at}` : ''}`;
      if (after === 'all') {
        if (before === 'all') return;
        cancel(undefined);
        alert('critical', 'KILL_SWITCH', `kill switch thrown for all signatures (${why}): open orders cancelled, new orders refused until reset`);
        return;
      }
      const added = before === 'all' ? [] : after.filter((s) => !before.includes(s));
      for (const signature of added) {
        cancel(signature);
        alert('critical', 'KILL_SWITCH', `kill switch thrown for ${signature} (${why}): open orders cancelled, new orders refused until reset`, { signature });
      }
      const released = before === 'all' ? (after.length ? [] : ['all']) : before.filter((s) => !after.includes(s));
      if (released.length > 0) {
        alert('info', 'KILL_SWITCH_RESET', `kill switch reset for ${released.join(', ')}${after.length ? `; still halted: ${after.join(', ')}` : ''}`);
      }
    };
    try {
      announce(deps.killSwitch.state());
    } catch (err) {
      deps.onError?.(err);
    }
    const unwatch = deps.killSwitch.watch((s) => announce(s));

    // -----------------------------------------------------------------------------------
    // Checks

    const reply = (m: Message<'risk.check'>, d: RiskDecision) =>
      send(
        m.replyTo,
        d.approved
          ? { type: 'risk.approved', sessionId: m.sessionId, clientOrderId: m.clientOrderId, checks: [...d.checks], tsEvent: deps.now() }
          : {
              type: 'risk.rejected',
              sessionId: m.sessionId,
              clientOrderId: m.clientOrderId,
              reason: d.reason ?? 'INVALID_ORDER',
              message: d.message ?? '',
              checks: [...d.checks],
              tsEvent: deps.now(),
            },
      );
    const failed = (m: Message<'risk.check'>, what: string, err: unknown): RiskAnswer => {
      deps.onError?.(err, m);
      const text = `risk could not ${what} for ${m.clientOrderId}: ${messageOf(err)}`;
      alert('critical', 'RISK_CHECK_FAILED', text, { signature: m.signature, sessionId: m.sessionId, clientOrderId: m.clientOrderId });
      send(m.replyTo, {
        type: 'risk.rejected',
        sessionId: m.sessionId,
        clientOrderId: m.clientOrderId,
        reason: 'ACTOR_FAILED',
        message: `ACTOR_FAILED: ${text}`,
        tsEvent: deps.now(),
      });
      return { approved: false, reason: 'ACTOR_FAILED', message: `ACTOR_FAILED: ${text}` };
    };
    const answered = (m: Message<'risk.check'>, d: RiskDecision): RiskAnswer => {
      reply(m, d);
      return { approved: d.approved, reason: d.reason, message: d.message };
    };
    const STOPPED: RiskAnswer = { approved: false, reason: 'ACTOR_FAILED', message: 'ACTOR_FAILED: risk is stopping' };

    const check = async (m: Message<'risk.check'>): Promise<RiskAnswer> => {
      const limits = deps.limits?.() ?? startLimits;
      const recorded = book.decision(m.clientOrderId);
      if (recorded) {
        // A decision recorded before a restart does not outlive a kill switch thrown since.
        const ks = deps.killSwitch.state();
        const halted = haltsSignature(ks, m.signature);
        if (recorded.approved && halted) {
          return answered(m, { ...recorded, approved: false, reason: 'KILL_SWITCH', message: `KILL_SWITCH: trading is halted by the kill switch (${ks.reason}${ks.at ? `, at ${ks.at}` : ''})` });
        }
        return answered(m, recorded);
      }
      let account: AccountView;
      try {
        account = await deps.account(m.signature, m.at);
      } catch (err) {
        return failed(m, 'read the account', err);
      }
      if (stopped) return STOPPED;
      // What the live checks need from outside, read before the table runs (it is pure).
      let firstDay: string | undefined;
      let buyingPower: Dec | undefined;
      if (deps.liveRamp) {
        try {
          firstDay = await deps.liveRamp.firstDay(m.signature, exchangeDay(deps.market, m.at));
        } catch (err) {
          return failed(m, 'read the first live trading day', err);
        }
      }
      if (deps.buyingPower && m.intent.side === 'buy') {
        try {
          buyingPower = dec(await deps.buyingPower(m.signature));
        } catch (err) {
          return failed(m, "read the broker account's buying power", err);
        }
      }
      if (stopped) return STOPPED;
      let decision: RiskDecision;
      try {
        const nowMs = deps.now();
        const day = exchangeDay(deps.market, m.at);
        const ks = deps.killSwitch.state();
        const halted = haltsSignature(ks, m.signature);
        const reducing = book.reducing(m.signature, day);
        const q = deps.quote(m.intent.symbol);
        const price = parsePrice(q?.price);
        const venueEstimate = deps.estimate?.(m.intent);
        const verdict = runChecks({
          mode: deps.mode,
          market: deps.market,
          signature: m.signature,
          sessionId: m.sessionId,
          intent: m.intent,
          account,
          quote: q && price ? { price, atMs: q.atMs } : undefined,
          venueEstimate,
          knownSymbol: deps.knownSymbol(m.intent.symbol),
          universe: deps.universe,
          fees: deps.fees,
          limits,
          staleQuoteSeconds: deps.staleQuoteSeconds,
          nowMs,
          ordersThisSession: book.ordersThisSession(m.signature, m.sessionId),
          recent: book.recent(m.signature, nowMs),
          gate: gateOf({ halted, reducing }),
          committedCash: m.intent.side === 'buy' ? deps.committedCash?.(m.signature) : undefined,
          halt: halted ? { reason: ks.reason, at: ks.at } : undefined,
          liveRamp: deps.liveRamp && firstDay !== undefined ? liveRampCap(deps.liveRamp.ramp, deps.market, firstDay, day) : undefined,
          buyingPower,
          programTrading: deps.programTrading?.(),
          prevClose: parsePrice(deps.previousClose?.(m.intent.symbol)),
        });
        decision = {
          clientOrderId: m.clientOrderId,
          sessionId: m.sessionId,
          signature: m.signature,
          at: m.at,
          day,
          intent: m.intent,
          approved: verdict.approved,
          reason: verdict.failure?.code,
          message: verdict.failure?.message,
          checks: verdict.checks,
          reducing: reducing || verdict.lossBreached,
          decidedAtMs: nowMs,
        };
        const { breachStarted } = book.record(decision);
        if (breachStarted) {
          const ccy = MARKET_RULES[deps.market].currency;
          const sod = dec(account.startOfDayEquity);
          const equity = dec(account.equity);
          const cap = dec(limits.max_daily_loss_ratio);
          const loss = ratioPercent(sod.minus(equity).dividedBy(sod), cap);
          alert(
            'warning',
            'DAILY_LOSS_LIMIT',
            `${m.signature}: equity ${money(equity)} ${ccy} is ${loss} below the start of day ${money(sod)} ${ccy} (limit ${limitPercent(cap)}); ` +
              `buys are refused until the next trading day after ${day}, sells stay allowed`,
            { signature: m.signature, sessionId: m.sessionId, clientOrderId: m.clientOrderId },
          );
        }
      } catch (err) {
        return failed(m, 'check the order', err);
      }
      try {
        await deps.journal?.(decision);
      } catch (err) {
        // Not written: answered anyway (the engine journal still records it), and said.
        deps.onError?.(err, m);
        alert('warning', 'RISK_JOURNAL_FAILED', `risk decision for ${m.clientOrderId} not saved: ${messageOf(err)}`, { signature: m.signature, clientOrderId: m.clientOrderId });
      }
      if (stopped) return STOPPED;
      return answered(m, decision);
    };

    let queue: Promise<unknown> = Promise.resolve();
    const enqueue = (m: Message<'risk.check'>): Promise<RiskAnswer> => {
      const answer = queue.then(() => check(m));
      queue = answer.catch((err: unknown) => deps.onError?.(err, m));
      deps.inFlight?.track(queue);
      return answer.catch((err: unknown): RiskAnswer => ({ approved: false, reason: 'ACTOR_FAILED', message: `ACTOR_FAILED: ${messageOf(err)}` }));
    };
    deps.expose?.(enqueue);
    receive((m) => {
      if (m.type === 'risk.check') {
        void enqueue(m);
      } else if (m.type === 'order.result') {
        try {
          deps.onProtectiveResult?.(m.result);
        } catch (err) {
          deps.onError?.(err, m);
        }
      }
    });

    return () => {
      stopped = true;
      unwatch();
    };
  });
}

/**
 * The control layer of a running paper/live process: what the HTTP control API
 * (src/server/control-routes.ts), the CLI's status/pause/flatten/reload (over HTTP) and the
 * Telegram commands (src/actors/monitor/channels/telegram-commands.ts) all call. One place, so
 * every door does the same thing and every command is journalled the same way.
 *
 * - Every command, read or write, accepted or refused, goes to the run's journal (store
 *   `stage({ journal })`) as `{ source: 'control', type: 'control.<command>', by, at, ... }`, with
 *   who (`whoText`: `cli/loopback`, `token`, `telegram:<chat id>`, ...) and when (the injected
 *   clock), before the answer goes out: an answer is a journalled command.
 * - pause/resume: `<state_dir>/paused.json` (paused-agents.ts); the schedule reads it at every
 *   tick and the engine skips a paused agent's session (AGENT_PAUSED). Open orders stay.
 * - flatten: market sells of the sellable shares (planFlatten: T+1, open sells), each checked by
 *   risk (the same queue, table and journal as a session's check; a refusal is answered with its
 *   `CODE: detail`) and placed through the engine's order machine, results to risk like the
 *   stop-loss's (counted by the ledger as protective orders).
 * - reload: the config file read again and compared (planReload): refused as a whole when any
 *   change cannot be taken (each named with its reason); else alert channels at once, risk limits
 *   and changed agents at the next session (`beforeTick`), an agent with a session running at its
 *   following one.
 *
 * Answers are plain JSON with snake_case fields: a contract (README, "Control API").
 */
import { DateTime } from 'luxon';
import type { Config } from '../config/schema.js';
import { changedAgents, planFlatten, planReload, heldBack, type FlattenLine, type ReloadPlan, type Who, whoText } from '../domain/control.js';
import type { DashboardOrder } from '../domain/dashboard-state.js';
import { InputError } from '../domain/errors.js';
import { sessionId as makeSessionId } from '../domain/ids.js';
import { localDate } from '../domain/local-date.js';
import { calendarHours, type TradingHours } from '../domain/clock-events.js';
import { MARKET_RULES } from '../domain/market-rules.js';
import { MARKETS } from '../domain/markets.js';
import type { Message } from '../domain/messages.js';
import { cashText, dec } from '../domain/money.js';
import type { PriceSource } from '../domain/price-store.js';
import type { RiskLimits } from '../domain/risk/checks.js';
import { isoInstant } from '../domain/schedule.js';
import type { Decider } from '../actors/agents/agent.js';
import type { Ledger } from '../actors/ledger/ledger.js';
import type { PausedAgents } from '../actors/control/paused-agents.js';
import { haltsSignature, type KillSwitch, type KillSwitchState } from '../actors/risk/kill-switch.js';
import type { RiskAnswer } from '../actors/risk/risk.actor.js';
import type { Store } from '../actors/store/store.js';
import type { EngineRuntime } from './engine-runtime.js';
import { openOrders } from './open-orders.js';

export type ControlCommand = 'status' | 'positions' | 'orders' | 'pause' | 'resume' | 'flatten' | 'reload' | 'kill';

export interface ControlDeps {
  readonly config: Config;
  readonly store: Pick<Store, 'stage'>;
  readonly ledger: Ledger;
  readonly engine: () => EngineRuntime | undefined;
  readonly prices: PriceSource;
  /** The run's clock (exchange zone). */
  readonly now: () => DateTime;
  readonly paused: PausedAgents;
  readonly killSwitch: Pick<KillSwitch, 'state'> & Partial<Pick<KillSwitch, 'activate' | 'reset'>>;
  /** The schedule's next instant, if any. */
  readonly nextSession: () => DateTime | undefined;
  /** Recent orders as the feed told them (newest first). */
  readonly orders: () => readonly DashboardOrder[];
  /** Risk's check outside a session (set once the risk actor has started). */
  readonly risk: () => ((m: Message<'risk.check'>) => Promise<RiskAnswer>) | undefined;
  /** The venue's hours (when an order trades at once); default the exchange calendar's. */
  readonly hours?: TradingHours;
  /** Read the config file again (reload); absent: reload is refused. */
  readonly loadConfig?: () => Promise<Config>;
  /** Build the deciders of these models of `config` (reload of changed agents). */
  readonly buildDeciders?: (config: Config, signatures: readonly string[]) => Promise<Record<string, Decider>>;
  /** The deciders the agent actor reads at each request (replaced in place at the next session). */
  readonly deciders?: Record<string, Decider>;
  /** Process-level parts of a reload applied at once (the alert channels). */
  readonly onReload?: (config: Config) => void | Promise<void>;
}

export interface Control {
  status(who: Who): Promise<Record<string, unknown>>;
  positions(who: Who): Promise<Record<string, unknown>>;
  orders(who: Who): Promise<Record<string, unknown>>;
  pause(who: Who, signature: string): Promise<Record<string, unknown>>;
  resume(who: Who, signature: string): Promise<Record<string, unknown>>;
  flatten(who: Who, signature: string, symbol?: string): Promise<Record<string, unknown>>;
  reload(who: Who): Promise<Record<string, unknown>>;
  kill(who: Who, signature?: string, reset?: boolean): Promise<Record<string, unknown>>;
  /** A request refused before it reached a command (a body that is not JSON, too large, of unknown keys): journalled too; its journal seq. */
  refused(command: ControlCommand, who: Who, error: string): Promise<number>;
  /** Signatures to skip at this tick; applies what a reload left for the next session first. */
  beforeTick(): readonly string[];
  /** The risk limits now (what a reload applied). */
  riskLimits(): RiskLimits;
  /** The config now (a reload applied). */
  config(): Config;
}

/** A refused command: HTTP 4xx with the answer, and in the journal as refused. */
export class ControlRefusal extends InputError {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
    readonly answer: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A session machine's state value as text: `deciding`, `executing.ordering`. */
function stateText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [k, v] = Object.entries(value)[0] ?? [];
    if (k !== undefined) return v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0) ? k : `${k}.${stateText(v)}`;
  }
  return 'unknown';
}

export function createControl(deps: ControlDeps): Control {
  const { ledger } = deps;
  let current = deps.config;
  let limits: RiskLimits = current.risk_control;
  /** What a reload left for the next session. */
  let pending: { config: Config; plan: ReloadPlan; deciders: Record<string, Decider>; agents: Set<string> } | undefined;
  const market = current.market;
  const zone = MARKETS[market].zone;
  const signatures = () => current.models.map((m) => m.signature);
  const iso = (at: DateTime) => at.setZone(zone).toISO()!;
  const instant = (at: DateTime | undefined) => (at ? { at: iso(at), zone } : null);

  const journal = async (command: ControlCommand, who: Who, fields: Record<string, unknown>): Promise<number> => {
    const [seq] = await deps.store.stage({ journal: [{ source: 'control', type: `control.${command}`, command, by: whoText(who), channel: who.channel, at: iso(deps.now()), ...fields }] }, ` of control ${command}`);
    return seq ?? 0;
  };
  /** Run a command: its answer journalled (or its refusal), then returned (or thrown). */
  const run = async (command: ControlCommand, who: Who, args: Record<string, unknown>, body: () => Promise<Record<string, unknown>>, journalled: (a: Record<string, unknown>) => Record<string, unknown> = () => ({})) => {
    let answer: Record<string, unknown>;
    try {
      answer = await body();
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      const seq = await journal(command, who, { args, ok: false, error: err.message });
      if (err instanceof ControlRefusal) Object.assign(err.answer, { journal_seq: seq });
      throw err;
    }
    const seq = await journal(command, who, { args, ok: true, ...journalled(answer) });
    return { command, ok: true, by: whoText(who), at: iso(deps.now()), journal_seq: seq, ...answer };
  };

  const knownSignature = (signature: string) => {
    const m = current.models.find((x) => x.signature === signature);
    if (!m) throw new ControlRefusal(`no agent with signature ${JSON.stringify(signature)}; signatures: ${signatures().join(', ')}`, 404);
    return m;
  };

  const positionsOf = async (signature: string, at: DateTime) => {
    const view = await ledger.getAccount(signature, isoInstant(at));
    return Object.entries(view.positions).map(([symbol, p]) => {
      const last = deps.prices.priceAsOf(symbol, at)?.price;
      return {
        symbol,
        quantity: p.quantity,
        sellable: p.sellable,
        cost_basis: p.costBasis,
        ...(last ? { last_price: last.toFixed(), market_value: last.times(p.quantity).toFixed() } : { last_price: null, market_value: null }),
      };
    });
  };

  const openOf = (signature?: string) => {
    const engine = deps.engine();
    if (!engine) return [];
    return openOrders(engine)
      .filter((o) => signature === undefined || o.signature === signature)
      .map((o) => ({
        client_order_id: o.clientOrderId,
        signature: o.signature,
        symbol: o.context?.order.symbol ?? null,
        side: o.context?.order.side ?? null,
        quantity: o.context?.order.quantity ?? null,
        filled_quantity: o.context?.filledQuantity ?? 0,
        state: o.state === undefined ? null : stateText(o.state),
      }));
  };

  const pausedInfo = (signature: string) => {
    const s = deps.paused.state();
    const p = s.paused[signature];
    return s.unreadable !== undefined ? { paused: true, paused_at: null, paused_by: null, paused_note: s.unreadable } : p ? { paused: true, paused_at: p.at, paused_by: p.by } : { paused: false };
  };

  const agentStatus = async (signature: string, at: DateTime, ks: KillSwitchState) => {
    const m = current.models.find((x) => x.signature === signature)!;
    const engine = deps.engine();
    const ctx = engine?.actor.getSnapshot().context;
    const running = ctx?.running[signature];
    const child = running ? engine?.actor.getSnapshot().children[`session:${running.sessionId}`]?.getSnapshot() : undefined;
    const view = m.enabled ? await ledger.getAccount(signature, isoInstant(at)) : undefined;
    const lastError = [...(ctx?.history ?? [])].reverse().find((h) => h.signature === signature && h.status === 'failed');
    const paused = pausedInfo(signature);
    const equity = view ? dec(view.equity) : undefined;
    const sod = view ? dec(view.startOfDayEquity) : undefined;
    return {
      signature,
      name: m.name,
      enabled: m.enabled,
      ...paused,
      halted: haltsSignature(ks, signature),
      session: running ? { state: child ? stateText((child as { value?: unknown }).value) : 'starting', session_id: running.sessionId, at: running.at } : { state: 'idle' },
      next_session: m.enabled && !paused.paused ? instant(deps.nextSession()) : null,
      cash: view ? cashText(dec(view.cash)) : null,
      equity: equity ? equity.toFixed(2) : null,
      pnl_today:
        equity && sod
          ? { amount: equity.minus(sod).toFixed(2), ratio: sod.isZero() ? null : equity.minus(sod).dividedBy(sod).toFixed(6), start_of_day_equity: sod.toFixed(2) }
          : null,
      positions: m.enabled ? await positionsOf(signature, at) : [],
      open_orders: openOf(signature),
      last_error: lastError
        ? { session_id: lastError.sessionId, at: lastError.at, step: lastError.error?.step ?? null, reason: lastError.error?.reason ?? lastError.reason ?? null, message: lastError.error?.message ?? null }
        : null,
    };
  };

  const header = (at: DateTime) => ({
    time: iso(at),
    zone,
    mode: current.mode,
    market,
    currency: MARKET_RULES[market].currency,
  });

  // Unique per flatten of this process (two in one millisecond differ by the sequence number); a
  // restarted process is at a later instant.
  let flattens = 0;
  const clientOrderIdOf = (signature: string, at: DateTime, symbol: string) =>
    `${signature}.${at.setZone(zone).toFormat("yyyyLLdd'T'HHmm")}.FL${at.setZone(zone).toFormat('ssSSS')}${++flattens}-${symbol}`;
  /** One flatten at a time per signature: each plans with the sells of the one before it in the engine. */
  const flattening = new Map<string, Promise<unknown>>();
  const oneAtATime = <T>(signature: string, body: () => Promise<T>): Promise<T> => {
    const run = (flattening.get(signature) ?? Promise.resolve()).then(body, body);
    flattening.set(signature, run.catch(() => undefined));
    return run;
  };

  return {
    config: () => current,
    riskLimits: () => limits,
    refused: (command, who, error) => journal(command, who, { ok: false, error }),

    status: (who) =>
      run('status', who, {}, async () => {
        const at = deps.now();
        const ks = deps.killSwitch.state();
        return {
          ...header(at),
          next_session: instant(deps.nextSession()),
          kill_switch: { active: ks.active, signatures: ks.signatures, reason: ks.reason || null },
          reload_pending: pending ? pending.plan.apply.map((c) => c.field) : [],
          agents: await Promise.all(current.models.map((m) => agentStatus(m.signature, at, ks))),
        };
      }),

    positions: (who) =>
      run('positions', who, {}, async () => {
        const at = deps.now();
        const enabled = current.models.filter((m) => m.enabled);
        return { ...header(at), agents: await Promise.all(enabled.map(async (m) => ({ signature: m.signature, positions: await positionsOf(m.signature, at) }))) };
      }),

    orders: (who) =>
      run('orders', who, {}, async () => {
        const at = deps.now();
        const today = localDate(at.toMillis(), zone);
        const todays = deps
          .orders()
          .filter((o) => localDate(DateTime.fromISO(o.time).toMillis(), zone) === today)
          .map((o) => ({
            client_order_id: o.clientOrderId,
            signature: o.signature,
            symbol: o.symbol,
            side: o.side,
            quantity: o.quantity,
            status: o.status,
            filled_quantity: o.filledQuantity ?? 0,
            average_price: o.averagePrice ?? null,
            reason: o.reason ?? null,
            time: o.time,
          }));
        return { ...header(at), date: today, open: openOf(), today: todays };
      }),

    pause: (who, signature) =>
      run(
        'pause',
        who,
        { signature },
        async () => {
          knownSignature(signature);
          const { changed } = deps.paused.pause(signature, iso(deps.now()), whoText(who));
          return { signature, paused: true, changed, note: 'no new session until resumed; open orders stay' };
        },
        (a) => ({ changed: a['changed'] }),
      ),

    resume: (who, signature) =>
      run(
        'resume',
        who,
        { signature },
        async () => {
          knownSignature(signature);
          const { changed } = deps.paused.resume(signature, signatures(), iso(deps.now()));
          return { signature, paused: false, changed, next_session: instant(deps.nextSession()) };
        },
        (a) => ({ changed: a['changed'] }),
      ),

    flatten: (who, signature, symbol) =>
      run(
        'flatten',
        who,
        { signature, ...(symbol !== undefined ? { symbol } : {}) },
        () => oneAtATime(signature, async () => {
          const m = knownSignature(signature);
          if (!m.enabled) throw new ControlRefusal(`${signature} is disabled in the config: it holds nothing this process trades`, 409);
          const engine = deps.engine();
          const ask = deps.risk();
          if (!engine || !ask) throw new ControlRefusal('the engine is not running yet', 409);
          const at = deps.now();
          const today = localDate(at.toMillis(), zone);
          const open = openOrders(engine).filter((o) => o.signature === signature && o.context?.order.side === 'sell');
          const selling = (s: string) => open.filter((o) => o.context?.order.symbol === s).reduce((n, o) => n + (o.context!.order.quantity - (o.context!.filledQuantity ?? 0)), 0);
          const plan = planFlatten({ account: ledger.account(signature), symbol, today, tPlusOne: ledger.tPlusOne, selling });
          if (plan.length === 0) return { signature, date: today, orders: [], note: `${signature} holds nothing` };
          const atIso = isoInstant(at);
          const sessionId = makeSessionId(signature, atIso);
          const hours = (deps.hours ?? calendarHours)(market, at);
          const lines: Record<string, unknown>[] = [];
          for (const line of plan) {
            const base = { symbol: line.symbol, held: line.held, sellable: line.sellable, selling: line.selling };
            if (line.action === 'refused') {
              lines.push({ ...base, quantity: 0, action: 'refused', reason: line.reason, message: line.message });
              continue;
            }
            const clientOrderId = clientOrderIdOf(signature, at, line.symbol);
            const intent = { side: 'sell' as const, symbol: line.symbol, quantity: line.quantity, type: 'market' as const };
            const answer = await ask({ type: 'risk.check', sessionId, signature, at: atIso, clientOrderId, intent, replyTo: 'risk' });
            if (!answer.approved) {
              lines.push({ ...base, quantity: 0, action: 'refused', reason: answer.reason ?? 'INVALID_ORDER', message: answer.message ?? '', client_order_id: clientOrderId });
              continue;
            }
            engine.send({
              type: 'engine.placeOrder',
              sessionId,
              order: { ...intent, clientOrderId, signature },
              replyTo: 'risk',
              marketOpen: hours.open,
              nextOpenMs: (hours.open ? at : hours.nextOpen).toMillis(),
              tsEvent: at.toMillis(),
            });
            const note = heldBack(line as FlattenLine);
            lines.push({ ...base, quantity: line.quantity, action: 'sell', client_order_id: clientOrderId, ...(note ? { note } : {}) });
          }
          // The sells are in the engine's open orders before the next flatten of this signature plans.
          await engine.flush();
          return { signature, date: today, orders: lines };
        }),
        (a) => ({ orders: a['orders'] }),
      ),

    reload: (who) =>
      run(
        'reload',
        who,
        {},
        async () => {
          if (!deps.loadConfig) throw new ControlRefusal('this process was not started from a config file: nothing to reload', 409);
          let next: Config;
          try {
            next = await deps.loadConfig();
          } catch (err) {
            if (err instanceof InputError) throw new ControlRefusal(`the config file does not load: ${err.message}`, 400, { problems: err.problems });
            throw err;
          }
          const plan = planReload(current as unknown as Record<string, unknown>, next as unknown as Record<string, unknown>);
          if (plan.refused.length > 0) {
            throw new ControlRefusal(`reload refused: ${plan.refused.map((r) => `${r.field}: ${r.reason}`).join('; ')}`, 409, {
              applied: false,
              refused: plan.refused.map((r) => ({ field: r.field, reason: r.reason })),
              changes: plan.apply.map((c) => c.field),
            });
          }
          if (plan.apply.length === 0) return { applied: false, changes: [], refused: [], note: 'the config file is as the process runs it' };
          const agents = changedAgents(plan);
          const deciders = agents.length > 0 && deps.buildDeciders ? await deps.buildDeciders(next, agents) : {};
          // The alert channels first: building them may fail (a variable not set), and then nothing is applied.
          if (plan.apply.some((c) => c.field.startsWith('alerts'))) {
            try {
              await deps.onReload?.(next);
            } catch (err) {
              throw new ControlRefusal(`reload refused: the new alert channels cannot be built: ${err instanceof Error ? err.message : String(err)}`, 400, { applied: false, refused: [], changes: plan.apply.map((c) => c.field) });
            }
          }
          pending = { config: next, plan, deciders, agents: new Set(agents) };
          return { applied: true, changes: plan.apply.map((c) => c.field), refused: [], effective: 'alert channels now; risk limits and agents at the next session' };
        },
        (a) => ({ changes: a['changes'] }),
      ),

    kill: (who, signature, reset) =>
      run('kill', who, { ...(signature !== undefined ? { signature } : {}), reset: reset === true }, async () => {
        if (signature !== undefined) knownSignature(signature);
        if (!deps.killSwitch.activate || !deps.killSwitch.reset) throw new ControlRefusal('the kill switch cannot be thrown from here; use `kill` on the state directory', 409);
        const state = reset
          ? await deps.killSwitch.reset({ signature, reason: `reset by ${whoText(who)}` })
          : await deps.killSwitch.activate({ signature, reason: `kill by ${whoText(who)}` });
        return { kill_switch: { active: state.active, signatures: state.signatures, reason: state.reason || null } };
      }),

    beforeTick: () => {
      if (pending) {
        const p = pending;
        current = p.config;
        limits = p.config.risk_control;
        const running = deps.engine()?.actor.getSnapshot().context.running ?? {};
        for (const sig of [...p.agents]) {
          if (running[sig]) continue; // its session runs on with the agent it started with
          const d = p.deciders[sig];
          if (d && deps.deciders) deps.deciders[sig] = d;
          p.agents.delete(sig);
        }
        pending = p.agents.size > 0 ? p : undefined;
      }
      return deps.paused.pausedOf(signatures());
    },
  };
}

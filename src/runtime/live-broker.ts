/**
 * A live run on a broker's account (Alpaca, Futu OpenD, an A-share terminal bridge, EastMoney; paper or real money), around the same engine as
 * a paper run: the broker is built from the config, told which orders the committed engine already
 * follows, and started; trading waits until the start-up reconciliation is done.
 *
 * Start-up, in this order (the nautilus way: reconcile before the first session):
 * 1. The engine is restored (startEngine): orders in flight resume per their committed state; an
 *    order whose submit's answer was lost asks Alpaca by client order id before anything is sent.
 * 2. `resumeOrders`: every open order of the engine, with its Alpaca id and the fills already
 *    booked, is handed to the broker, so that what happened while we were down (a fill, a cancel)
 *    comes out once, and only that.
 * 3. `start()`: the trade_updates stream listens; the broker asks REST for each of those orders
 *    (open orders in one request, the others by client order id) and the updates flow into the
 *    order machines and the ledger.
 * 4. The account pass (live-account.ts): orders of ours the engine does not follow are adopted,
 *    then the account is compared with the sub-accounts + the external book.
 * Only then does the schedule start. A pass that fails (Alpaca down, a 5xx) is retried with a
 * growing wait (`BROKER_RECONCILE_FAILED`, then `BROKER_RECONCILED` once it succeeds); refused keys
 * (401) stop trading for good (`BROKER_AUTH_FAILED`, critical): the process stays up for the
 * dashboard and the CLI but takes no session.
 *
 * While running: a 401 anywhere halts trading (every signature, as a kill switch that only a
 * restart with valid keys lifts); an order on the account that is not ours is alerted
 * (`EXTERNAL_ORDER`) and asks for an account pass; every reconnect of the stream asks the broker to
 * catch up (alpaca-broker.ts) and the monitor for an account pass.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import type { AccountBroker } from '../actors/brokers/account-broker.js';
import type { KillSwitch, KillSwitchState } from '../actors/risk/kill-switch.js';
import type { Config } from '../config/schema.js';
export { tradesBrokerAccount } from '../config/live-gate.js';
import type { Message } from '../domain/messages.js';
import type { Broker } from '../actors/brokers/broker.js';
import type { EngineRuntime } from './engine-runtime.js';
import { openOrders } from './open-orders.js';
import { accountBroker } from './account-brokers.js';

type Alert = Message<'monitor.alert'>;


/** Where a refusal came from, in words. */
const AUTH_SOURCES: Readonly<Record<string, string>> = {
  rest: '401 on the REST API',
  stream: '401 on the trade stream',
  session: 'the session or the login',
};

export interface LiveBrokerOptions {
  readonly config: Config;
  readonly env: NodeJS.ProcessEnv;
  /** The wall clock: request deadlines, back-off, reconnects. */
  readonly wall: SchedulerLike;
  readonly alert: (alert: Alert) => void;
  /** The latest price of a symbol (a market order on a limit-only venue goes as a limit through it). */
  readonly price?: (symbol: string) => string | undefined;
  readonly prevClose?: (symbol: string) => string | undefined;
}

export interface LiveBroker {
  readonly broker: AccountBroker;
  /**
   * The broker as the engine's trading actors use it: a submit waits until the start-up
   * reconciliation is done (`reconciled()`), so that an order of a session resumed from before the
   * stop does not go out while what happened at the broker is not known yet; status, cancel and
   * the rest go through at once (they are how the reconciliation learns).
   */
  readonly trading: Broker;
  /** The start-up reconciliation is done: submits may go out. */
  reconciled(): void;
  /** The kill switch with the broker's halt in front of it: a 401 halts every signature. */
  killSwitch(ks: Pick<KillSwitch, 'state' | 'watch'>): Pick<KillSwitch, 'state' | 'watch'>;
  /** Step 2: the orders the committed engine follows. */
  resumeOrders(engine: Pick<EngineRuntime, 'actor'>): number;
  /** The stream is listening now. */
  connected(): boolean;
  /** Call `onAccountChange` when an account pass is worth running (an order not ours was seen). */
  onAccountChange(listener: (reason: string) => void): void;
  close(): void;
}

export function liveBroker(o: LiveBrokerOptions): LiveBroker {
  const broker = accountBroker(o.config, { wall: o.wall, env: o.env, price: o.price ?? (() => undefined), prevClose: o.prevClose ?? (() => undefined) });
  const subs: Subscription[] = [];
  let openSubmits!: () => void;
  const submitsOpen = new Promise<void>((resolve) => (openSubmits = resolve));
  const trading: Broker = {
    submit: async (order) => {
      await submitsOpen;
      return broker.submit(order);
    },
    cancel: (cid) => broker.cancel(cid),
    status: (cid) => broker.status(cid),
    positions: (account) => broker.positions(account),
    balance: (account) => broker.balance(account),
    buyingPower: (account) => broker.buyingPower(account),
    updates$: broker.updates$,
  };
  let halt: { reason: string; at: string } | undefined;
  let listening = false;
  const listeners: ((reason: string) => void)[] = [];
  const alert = (level: Alert['level'], code: string, message: string) => o.alert({ type: 'monitor.alert', level, code, message, tsEvent: o.wall.now() });

  subs.push(
    broker.halts$.subscribe((h) => {
      halt = { reason: `BROKER_AUTH_FAILED: ${broker.venue} refused the credentials (${h.source}): ${h.message}`, at: new Date(h.tsEvent).toISOString() };
      alert('critical', 'BROKER_AUTH_FAILED', `${broker.venue} refused the credentials (${AUTH_SOURCES[h.source] ?? h.source}): trading is halted for every agent; no order is sent until the process is restarted with valid credentials (${h.message})`);
    }),
    broker.external$.subscribe((e) => {
      const level = e.event === 'fill' || e.event === 'partial_fill' ? 'warning' : 'info';
      alert(level, 'EXTERNAL_ORDER',
        `an order that is not ours on the account: ${e.event} ${e.side} ${e.qty ?? ''} ${e.symbol}${e.price ? ` at ${e.price}` : ''} (client order id ${e.clientOrderId}); its effect goes to the external book, no agent's account`.replace(/\s+/g, ' '),
      );
      if (e.event === 'fill' || e.event === 'partial_fill') for (const l of listeners) l('an order that is not ours filled');
    }),
    broker.connection$.subscribe((e) => {
      if (e.type === 'listening') listening = true;
      else if (e.type === 'disconnected' || e.type === 'unauthorized') listening = false;
    }),
  );

  return {
    broker,
    trading,
    reconciled: () => openSubmits(),
    killSwitch: (ks) => ({
      state: (): KillSwitchState => (halt ? { active: true, signatures: 'all', reason: halt.reason, at: halt.at } : ks.state()),
      watch: (onChange) => ks.watch(onChange),
    }),
    resumeOrders(engine) {
      let n = 0;
      for (const { clientOrderId, context: c } of openOrders(engine)) {
        if (!c?.order) continue;
        // The request too: a venue that cannot carry our client order id finds a lost answer's order by it.
        const request = { symbol: c.order.symbol, side: c.order.side, ...(c.order.type === 'limit' && c.order.limitPrice ? { limitPrice: c.order.limitPrice } : {}) };
        broker.resumeOrder(clientOrderId, { brokerOrderId: c.brokerOrderId, quantity: c.order.quantity, fills: c.fills ?? [], request });
        n++;
      }
      return n;
    },
    connected: () => listening,
    onAccountChange: (l) => void listeners.push(l),
    close() {
      for (const sub of subs.splice(0)) sub.unsubscribe();
      broker.close();
    },
  };
}

export interface StartLiveDeps {
  readonly engine: Pick<EngineRuntime, 'actor' | 'flush'>;
  readonly ledger: { idle(): Promise<void> };
  readonly wall: SchedulerLike;
  readonly raise: (alert: Alert) => void;
  readonly nowMs: () => number;
  readonly stopped: () => boolean;
  /** Waits between failed passes: 5 s doubling up to 5 min (wall clock). */
  readonly retryMs?: (attempt: number) => number;
}

/**
 * Steps 2-4 of the start-up (see the module comment); resolves true once the account is reconciled
 * (trading may start), false when it never can (the keys are refused, or the run stopped first).
 */
export async function startLive(live: LiveBroker, account: { sync(reason: string): Promise<Record<string, string[]>> }, d: StartLiveDeps): Promise<boolean> {
  const alert = (level: Alert['level'], code: string, message: string) => d.raise({ type: 'monitor.alert', level, code, message, tsEvent: d.nowMs() });
  const resumed = live.resumeOrders(d.engine);
  try {
    await live.broker.start();
  } catch (err) {
    // Refused keys (the halt has raised BROKER_AUTH_FAILED) or a stop during the start.
    if (!live.broker.halted && !d.stopped()) alert('critical', 'BROKER_AUTH_FAILED', `the trade stream did not start: ${err instanceof Error ? err.message : String(err)}; no session is taken`);
    return false;
  }
  const wait = d.retryMs ?? ((n: number) => Math.min(300_000, 5_000 * 2 ** (n - 1)));
  for (let attempt = 1; !d.stopped(); attempt++) {
    try {
      // The first catch-up ran as the stream started; a failed one (or a retry) asks again here.
      await live.broker.reconcileOrders();
      await live.broker.settled();
      await d.ledger.idle();
      await d.engine.flush();
      const out = await account.sync('start-up reconciliation');
      const external = out['external']?.length ?? 0;
      const adopted = out['adopted']?.length ?? 0;
      live.reconciled();
      alert('info', 'BROKER_RECONCILED', `start-up reconciliation with the broker done${attempt > 1 ? ` (attempt ${attempt})` : ''}: ${resumed} open order(s) resumed, ${adopted} order(s) adopted, ${external} difference(s) booked to the external book; trading starts`);
      return true;
    } catch (err) {
      if (live.broker.halted) return false;
      const ms = wait(attempt);
      const level = attempt === 1 ? 'critical' : 'warning';
      alert(level, 'BROKER_RECONCILE_FAILED', `start-up reconciliation with the broker failed (attempt ${attempt}): ${err instanceof Error ? err.message : String(err)}; no session is taken; trying again in ${Math.round(ms / 1000)} s`);
      await new Promise<void>((resolve) => d.wall.schedule(() => resolve(), ms));
    }
  }
  return false;
}

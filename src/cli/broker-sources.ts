/**
 * The broker's side of `broker status|positions|orders|fills`: what the configured real broker
 * says about the account, in broker-view.ts's neutral shapes, one source per kind:
 *
 * - Alpaca: AlpacaBroker's REST GETs (the trade stream is never opened).
 * - Futu OpenD, the terminal bridge, EastMoney: the venue adapter a live run trades through
 *   (src/runtime/account-brokers.ts `venueAdapter`), held here as a `VenueReader`: connect and
 *   the list calls only, so nothing in this module can place or cancel (the type has no such
 *   member). What connect sends: Futu GetAccList, UnlockTrade (real environment), SubAccPush; the
 *   bridge POST /prepare (its login, when `broker.bridge.prepare`) and GET /balance; EastMoney one
 *   asset query. The list calls are GETs on the bridge and EastMoney's /Search and /Com queries.
 *
 * Venues list today's orders and fills only. Where they cannot carry our client order id (the
 * bridge, EastMoney) an order's number is ours when the run committed it (broker-view.ts
 * `orderIdsOfLedger`); where the venue lists no fills (Futu's simulate environment) each order's
 * cumulative quantity and average price is one fill, `<number>:cum:<filled>`, as the live run's
 * tracker makes them (polled-broker.ts).
 *
 * Every failure is an InputError (exit 2) in the broker's own words, with every secret the config
 * names by variable taken out: a refused session or credentials (VenueHalted, Alpaca's 401) says so.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import { AlpacaBroker } from '../actors/brokers/alpaca/alpaca-broker.js';
import { AlpacaError, AlpacaOperationalError } from '../actors/brokers/alpaca/errors.js';
import { alpacaSettings } from '../actors/brokers/alpaca/settings.js';
import { bridgeSettings } from '../actors/brokers/bridge/settings.js';
import { eastmoneySettings } from '../actors/brokers/eastmoney/settings.js';
import { futuSettings } from '../actors/brokers/futu/settings.js';
import { TERMINAL_VENUE_STATES, VenueError, VenueHalted, VenueUnavailable, type VenueAdapter, type VenueFill, type VenueOrder, type VenueOrderState } from '../actors/brokers/venue-adapter.js';
import type { Config } from '../config/schema.js';
import { InputError } from '../domain/errors.js';
import { venueAdapter } from '../runtime/account-brokers.js';
import { fromAlpacaAccount, fromAlpacaFill, fromAlpacaOrder, orderIdsOfLedger, type BrokerAccount, type BrokerFill, type BrokerOrder, type LedgerView } from './broker-view.js';

export interface BrokerSource {
  readonly type: Config['broker']['type'];
  /** For messages: "Alpaca", "Futu OpenD", "the terminal bridge", "EastMoney". */
  readonly name: string;
  /** Where the broker is asked (the envelope's `base_url`). */
  readonly baseUrl: string;
  /** The header's words for the account: "alpaca paper account", "futu simulate account (CN)". */
  readonly label: string;
  /** true: the broker lists today's fills only (the venues); false: fills of any day (Alpaca). */
  readonly todayOnly: boolean;
  account(): Promise<BrokerAccount>;
  positions(): Promise<{ readonly symbol: string; readonly quantity: number }[]>;
  /** Open orders (the ledger maps the numbers of a venue that cannot carry our id). */
  openOrders(ledger: LedgerView | undefined): Promise<BrokerOrder[]>;
  /** Fills from `fromMs` on (a venue: today's, whatever `fromMs`). */
  fills(fromMs: number, ledger: LedgerView | undefined): Promise<BrokerFill[]>;
  close(): void;
}

/** The venue adapter as the broker command may use it: connect and list, nothing that sends an order. */
export type VenueReader = Pick<VenueAdapter, 'name' | 'carriesClientOrderId' | 'connect' | 'close' | 'orders' | 'fills' | 'account' | 'positions' | 'connection$'>;

/** How long a venue may take to be ready to answer (Futu reconnects by itself: it would try forever). */
const CONNECT_DEADLINE_MS = 30_000;

/** Every value of a variable the broker block names (`*_env`), so that no message can carry one. */
export function secretsOf(broker: Config['broker'], env: NodeJS.ProcessEnv): string[] {
  const names: string[] = [];
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k.endsWith('_env') && typeof x === 'string') names.push(x);
      else walk(x);
    }
  };
  walk(broker);
  // Short values (a 4-digit PIN is still a secret) are taken out too; empty ones cannot be.
  return [...new Set(names.map((n) => env[n]?.trim() ?? '').filter((v) => v.length > 0))].sort((a, b) => b.length - a.length);
}

const redactor = (secrets: readonly string[]) => (text: string) => secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);

// ---------------------------------------------------------------------------------------
// Alpaca

export function alpacaSource(config: Config, env: NodeJS.ProcessEnv, wall: SchedulerLike): BrokerSource {
  const settings = alpacaSettings(config.broker, env); // names a missing variable, never a value
  const broker = new AlpacaBroker({
    baseUrl: settings.baseUrl,
    streamUrl: settings.streamUrl,
    keyId: settings.keyId,
    secretKey: settings.secretKey,
    scheduler: wall,
    requestTimeoutMs: settings.requestTimeoutMs,
    retry: { maxRetries: settings.maxRetries },
    heartbeat: false,
  });
  const redact = redactor([settings.keyId, settings.secretKey]);
  /** Alpaca's refusals as exit 2 with its words; never a header, never a key. */
  const asking = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (e) {
      if (e instanceof AlpacaOperationalError) throw new InputError(`Alpaca refused the keys (401) asking for ${what}: check broker.api_key_env and broker.api_secret_env`);
      if (e instanceof AlpacaError) throw new InputError(redact(`Alpaca could not give ${what}: ${e.message}`));
      throw e;
    }
  };
  return {
    type: 'alpaca',
    name: 'Alpaca',
    baseUrl: settings.baseUrl,
    label: `alpaca ${config.broker.paper ? 'paper account' : 'REAL-MONEY account'}`,
    todayOnly: false,
    account: async () => fromAlpacaAccount(await asking('the account', () => broker.account())),
    positions: () => asking('the positions', () => broker.positions()),
    openOrders: async () => (await asking('the open orders', () => broker.openOrders())).map(fromAlpacaOrder),
    async fills(fromMs) {
      const activities = await asking('the fills', () => broker.fillsSince(fromMs - 1));
      // Activities name Alpaca's order id; the client order id (whose prefix says whose) is on the order.
      const placed = await asking('the orders', () => broker.ordersSince(fromMs - 24 * 3_600_000));
      const cidOf = new Map(placed.map((o) => [o.id, o.client_order_id]));
      return activities.map((a) => fromAlpacaFill(a, cidOf));
    },
    close: () => broker.close(),
  };
}

// ---------------------------------------------------------------------------------------
// The venues (Futu OpenD, the terminal bridge, EastMoney)

/** The currency a venue's cash is in. */
const FUTU_CURRENCY: Readonly<Record<string, string>> = { HK: 'HKD', US: 'USD', CN: 'CNH', HKCC: 'CNH' };

/** What to check when a venue refuses the session, by broker type. */
const REFUSED_HINTS: Readonly<Partial<Record<Config['broker']['type'], string>>> = {
  futu: "check OpenD's websocket key (broker.futu.websocket_key_env) and, in the real environment, the trade password (broker.password_env); a wrong password retried locks the account",
  bridge: 'check the token (broker.bridge.token_env) and the login the bridge is prepared with (broker.account_id, broker.password_env)',
  eastmoney: 'log in again in your browser and set the cookie and validatekey variables (broker.eastmoney.cookie_env, validatekey_env)',
};

/** The order machine's state a venue's word means (an open order). */
const MACHINE_STATE: Readonly<Partial<Record<VenueOrderState, string>>> = { pending: 'accepted', open: 'accepted', cancelling: 'cancelling' };

function venueLabel(config: Config): string {
  const b = config.broker;
  if (b.type === 'futu') return `futu ${b.paper ? 'simulate' : 'REAL-MONEY'} account (${b.futu?.trd_market ?? '?'})`;
  if (b.type === 'eastmoney') return `eastmoney REAL-MONEY account (${b.eastmoney?.trading ? 'trading on' : 'read-only session'})`;
  return `${b.type} ${b.paper ? 'paper account' : 'REAL-MONEY account'}`;
}

function venueUrl(config: Config, env: NodeJS.ProcessEnv): string {
  const b = config.broker;
  if (b.type === 'futu') return futuSettings(b, env).url;
  if (b.type === 'bridge') return bridgeSettings(b, env).baseUrl;
  if (b.type === 'eastmoney') return eastmoneySettings(b, env).baseUrl;
  throw new InputError(`broker.type: ${b.type} is not a venue`);
}

/** One fill per order from its totals, as the live run's tracker makes them where the venue lists none. */
function fillsFromTotals(orders: readonly VenueOrder[]): VenueFill[] {
  return orders.flatMap((o) => (o.filledQuantity > 0 && o.avgFillPrice !== undefined ? [{ fillId: `${o.brokerOrderId}:cum:${o.filledQuantity}`, brokerOrderId: o.brokerOrderId, quantity: o.filledQuantity, price: o.avgFillPrice, atMs: o.updatedAtMs ?? o.createdAtMs }] : []));
}

/** The adapter's connect, bounded: Futu reconnects by itself, so a first drop before it listens ends the look. */
async function connect(adapter: VenueReader, wall: SchedulerLike, deadlineMs: number): Promise<void> {
  const subs: Subscription[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      adapter.connect().then(resolve, reject);
      const drops = adapter.connection$?.subscribe((e) => {
        if (e.type !== 'disconnected') return;
        // A macrotask later: a refusal (VenueHalted) that comes with the drop rejects connect() first.
        subs.push(wall.schedule(() => reject(new VenueUnavailable(`${adapter.name} is not reachable: ${e.message ?? 'the connection dropped'}`, true)), 0));
      });
      if (drops) subs.push(drops);
      subs.push(wall.schedule(() => reject(new VenueUnavailable(`${adapter.name} was not ready within ${deadlineMs / 1000} s`, true)), deadlineMs));
    });
  } finally {
    for (const s of subs) s.unsubscribe();
  }
}

/**
 * The configured venue, connected (read-only); undefined when the config's broker is no venue.
 * `adapter` for tests of this module alone; the command builds it as a live run does.
 */
export async function venueSource(config: Config, env: NodeJS.ProcessEnv, wall: SchedulerLike, adapter?: VenueReader): Promise<BrokerSource | undefined> {
  const reader: VenueReader | undefined = adapter ?? venueAdapter(config, { wall, env });
  if (!reader) return undefined;
  const redact = redactor(secretsOf(config.broker, env));
  const name = reader.name;
  const hint = REFUSED_HINTS[config.broker.type];
  const asking = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (e) {
      if (e instanceof VenueHalted) throw new InputError(redact(`${name} refused the session/credentials asking for ${what}: ${e.message}`), hint ? [hint] : []);
      if (e instanceof VenueError) throw new InputError(redact(`${name} could not give ${what}: ${e.message}`));
      throw e;
    }
  };
  try {
    await asking('a session', () => connect(reader, wall, CONNECT_DEADLINE_MS));
  } catch (e) {
    reader.close();
    throw e;
  }
  const carries = reader.carriesClientOrderId === true;
  /** Today's orders and fills, each order's client order id: carried (Futu's remark), else mapped by the ledger. */
  const listing = async (ledger: LedgerView | undefined) => {
    const orders = await asking("today's orders", () => reader.orders());
    const listed = reader.fills ? await asking("today's fills", () => reader.fills!()) : undefined;
    const fills = listed ?? fillsFromTotals(orders);
    const mapped = carries ? new Map<string, string>() : orderIdsOfLedger(ledger, fills);
    const cidOf = (o: { readonly brokerOrderId: string; readonly clientOrderId?: string | undefined }) => (o.clientOrderId ? o.clientOrderId : mapped.get(o.brokerOrderId));
    return { orders, fills, cumulative: listed === undefined, cidOf };
  };
  return {
    type: config.broker.type,
    name,
    baseUrl: venueUrl(config, env),
    label: venueLabel(config),
    todayOnly: true,
    async account() {
      const a = await asking('the account', () => reader.account());
      const id = (reader as { readonly accountId?: unknown }).accountId;
      return {
        id: typeof id === 'string' ? id : null,
        account_number: null,
        status: null,
        currency: config.broker.type === 'futu' ? (FUTU_CURRENCY[config.broker.futu?.trd_market ?? ''] ?? null) : 'CNY',
        cash: a.cash,
        buying_power: a.buyingPower ?? null,
        equity: null,
      };
    },
    positions: async () => (await asking('the positions', () => reader.positions())).map((p) => ({ symbol: p.symbol, quantity: p.quantity })),
    async openOrders(ledger) {
      const { orders, cidOf } = await listing(ledger);
      return orders
        .filter((o) => !TERMINAL_VENUE_STATES.has(o.state))
        .map((o) => ({
          orderId: o.brokerOrderId,
          clientOrderId: cidOf(o),
          symbol: o.symbol,
          side: o.side,
          quantity: o.quantity,
          filledQuantity: o.filledQuantity,
          status: o.rawStatus ?? o.state,
          state: o.state === 'open' && o.filledQuantity > 0 ? 'partially_filled' : MACHINE_STATE[o.state],
        }));
    },
    async fills(_fromMs, ledger) {
      const { orders, fills, cumulative, cidOf } = await listing(ledger);
      const byNumber = new Map(orders.map((o) => [o.brokerOrderId, o]));
      return fills.map((f) => {
        const o = byNumber.get(f.brokerOrderId);
        return {
          fillId: f.fillId,
          orderId: f.brokerOrderId,
          clientOrderId: o ? cidOf(o) : cidOf({ brokerOrderId: f.brokerOrderId }),
          // A deal whose entrust is not in today's list (it should be) keeps what the deal says.
          symbol: o?.symbol ?? '?',
          side: o?.side ?? '?',
          quantity: f.quantity,
          price: f.price,
          atMs: f.atMs,
          ...(cumulative ? { cumulative: true } : {}),
        };
      });
    },
    close: () => reader.close(),
  };
}

/**
 * Steering a running process (the control API, the CLI's status/pause/flatten/reload and the
 * Telegram commands): the pure parts. Who asked (for the journal), what a flatten sells (only
 * sellable shares, T+1 respected, less what open sells already cover), and which changes of a
 * reloaded config can be applied to a running process and which are refused, with why.
 *
 * The answers' field names are a contract (README, "Control API"): added to, never renamed.
 */
import type { Account } from './portfolio.js';
import { sellable } from './portfolio.js';

// ---------------------------------------------------------------------------------------
// Who

/** Who sent a command: how it reached the process and how it was let in. */
export interface Who {
  readonly channel: 'http' | 'telegram';
  /** http: loopback without a token, or the server token; telegram: a chat on the allow-list. */
  readonly auth: 'loopback' | 'token' | 'chat';
  /** The client that said what it is (`X-Agent-Trader-Client: cli`), if any. */
  readonly client?: string | undefined;
  readonly chatId?: number | string | undefined;
}

/** `cli/loopback`, `cli/token`, `loopback`, `token`, `telegram:<chat id>` (never the token itself). */
export function whoText(w: Who): string {
  if (w.channel === 'telegram') return `telegram:${String(w.chatId)}`;
  return w.client ? `${w.client}/${w.auth}` : w.auth;
}

/** A client name as a header may carry it: short, plain. */
export const CLIENT_NAME = /^[a-z][a-z0-9-]{0,15}$/;

// ---------------------------------------------------------------------------------------
// Flatten

export interface FlattenLine {
  readonly symbol: string;
  /** Shares held now. */
  readonly held: number;
  /** Of them, sellable today (A-shares: bought before today). */
  readonly sellable: number;
  /** Shares already in open sell orders of this signature. */
  readonly selling: number;
  /** Shares this flatten sells (0 when refused). */
  readonly quantity: number;
  /** `sell` when an order goes out; `refused` (with reason and message) when not. */
  readonly action: 'sell' | 'refused';
  readonly reason?: string;
  readonly message?: string;
}

export interface FlattenInput {
  readonly account: Pick<Account, 'positions'>;
  /** Only this symbol; all held symbols when absent. */
  readonly symbol?: string | undefined;
  /** Exchange-local date, `YYYY-MM-DD`. */
  readonly today: string;
  readonly tPlusOne: boolean;
  /** Shares of a symbol in the signature's open sell orders. */
  readonly selling: (symbol: string) => number;
}

/**
 * What to sell, per symbol: every sellable share not already in an open sell. A symbol not held
 * is `NOT_HELD`; held but all bought today under T+1, `T_PLUS_ONE`; all sellable shares already in
 * open sells, `SELL_PENDING`. Selling exactly the sellable shares is always lot-valid (an odd
 * remainder goes with them).
 */
export function planFlatten(input: FlattenInput): FlattenLine[] {
  const { account, today, tPlusOne } = input;
  const symbols = input.symbol !== undefined ? [input.symbol] : Object.keys(account.positions).sort();
  return symbols.map((symbol): FlattenLine => {
    const held = account.positions[symbol]?.quantity ?? 0;
    const canSell = sellable(account as Account, symbol, today, tPlusOne);
    const selling = input.selling(symbol);
    const base = { symbol, held, sellable: canSell, selling };
    if (held === 0) return { ...base, quantity: 0, action: 'refused', reason: 'NOT_HELD', message: `NOT_HELD: no ${symbol} is held` };
    if (canSell === 0) {
      return {
        ...base,
        quantity: 0,
        action: 'refused',
        reason: 'T_PLUS_ONE',
        message: `T_PLUS_ONE: the ${held} ${symbol} held were all bought today (${today}); they can be sold from the next trading day`,
      };
    }
    const quantity = canSell - selling;
    if (quantity <= 0) return { ...base, quantity: 0, action: 'refused', reason: 'SELL_PENDING', message: `SELL_PENDING: open sell orders already cover the ${canSell} sellable ${symbol}` };
    return { ...base, quantity, action: 'sell' };
  });
}

/** The note for shares held back by T+1 when some are sold. */
export function heldBack(line: FlattenLine): string | undefined {
  const back = line.held - line.sellable;
  return line.action === 'sell' && back > 0 ? `${back} bought today stay (T+1): sellable from the next trading day` : undefined;
}

// ---------------------------------------------------------------------------------------
// Reload

export interface ReloadChange {
  /** The config path that changed, e.g. `risk_control.min_cash_reserve`, `models[ew].agent`. */
  readonly field: string;
}
export interface RefusedChange extends ReloadChange {
  readonly reason: string;
}

export interface ReloadPlan {
  /** Changes the running process takes at the next session. */
  readonly apply: readonly ReloadChange[];
  /** Changes it cannot take; when there is any, nothing is applied. */
  readonly refused: readonly RefusedChange[];
}

/** Risk limits the risk actor reads at every check: safe to change between sessions. */
const RISK_APPLIED = new Set([
  'max_single_position_ratio',
  'max_daily_loss_ratio',
  'min_cash_reserve',
  'max_order_notional',
  'max_order_notional_ratio',
  'max_orders_per_minute',
  'allow_symbols',
  'deny_symbols',
]);

/** Why a top-level section cannot change under a running process. */
const REFUSED_TOP: Readonly<Record<string, string>> = {
  mode: 'the mode is the process itself: stop it and start the new one',
  market: 'the market fixes the calendar, the ledger and the venue: use another state_dir',
  frequency: 'the schedule runs at the frequency it started with: restart to change it',
  schedule: 'the schedule runs on the instants it started with: restart to change it',
  data_source: 'the quote source is connected: restart to change it',
  broker: 'the broker is connected and holds the orders: restart to change it',
  state_dir: 'the state directory is open (LevelDB lock): restart to change it',
  execution: 'the order machines run with the execution settings they started with: restart to change it',
  server: 'the HTTP port is open: restart to change it',
  monitor: 'the monitor runs with the timings it started with: restart to change it',
  log: 'the log is open: restart to change it',
  calendar: 'the exchange calendar is loaded: restart to change it',
  date_range: 'a backtest setting; a running process has no date range',
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Paths (a.b.c) where two JSON values differ, as deep as both are objects. */
function diffPaths(a: unknown, b: unknown, path: string, out: string[]): void {
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diffPaths(a[k], b[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(path);
}

interface ModelLike {
  readonly signature: string;
  readonly enabled: boolean;
  readonly [key: string]: unknown;
}

/**
 * What a reload of `next` over `current` (both loaded configs) would do. Applied: risk limits the
 * checks read (`risk_control.*` but the ones fixed at start), alert channels (`alerts`), each
 * model's `name` and `agent` (prompt, params, model settings). Refused, each with its reason: the
 * signatures (added, removed, renamed, reordered), a model's `enabled` or `initial_cash`, the cash
 * (`agent_config.initial_cash`), the market, the broker, the state directory and every other part
 * the running process holds open.
 */
/** The telegram channels that take commands, as configured (their keys and chats). */
function commandChannels(config: Record<string, unknown>): unknown[] {
  const alerts = config['alerts'] as { channels?: unknown } | undefined;
  const channels = Array.isArray(alerts?.channels) ? (alerts.channels as Record<string, unknown>[]) : [];
  return channels.filter((c) => c['type'] === 'telegram' && c['commands'] === true);
}

export function planReload(current: Record<string, unknown>, next: Record<string, unknown>): ReloadPlan {
  const apply: ReloadChange[] = [];
  const refused: RefusedChange[] = [];
  const changed: string[] = [];
  const { models: curModels, ...curRest } = current;
  const { models: nextModels, ...nextRest } = next;
  diffPaths(curRest, nextRest, '', changed);
  // Who may steer the process by Telegram is fixed at start (the command pollers are started once):
  // a change to a command channel is refused whole rather than half applied.
  if (JSON.stringify(commandChannels(current)) !== JSON.stringify(commandChannels(next))) {
    refused.push({ field: 'alerts.channels[].commands', reason: 'the Telegram command channels (who may steer this process) are started once: restart to change them' });
  }
  for (const field of changed) {
    const [top, second] = field.split('.');
    if (top === 'description') continue;
    if (top === 'risk_control') {
      if (second !== undefined && RISK_APPLIED.has(second)) apply.push({ field });
      else if (second === 'enable_stop_loss' || second === 'stop_loss_ratio' || second === 'take_profit_ratio' || second === 'trailing_stop_ratio') {
        refused.push({ field, reason: 'the stop-loss watcher keeps the ratios of the positions it watches: restart to change them' });
      } else if (second === 'max_orders_per_session') refused.push({ field, reason: 'the engine caps the intents of every session with it, set at start: restart to change it' });
      else if (second === 'duplicate_window_seconds') refused.push({ field, reason: "risk keeps the recent orders for the window it started with: restart to change it" });
      else refused.push({ field, reason: `${second ?? 'it'} is read once at start (program-trading counter, live ramp): restart to change it` });
    } else if (top === 'alerts') apply.push({ field });
    else if (top === 'agent_config') {
      if (second === 'initial_cash') refused.push({ field, reason: 'the accounts were opened with their initial cash; the ledger keeps it' });
      else if (second === 'session_deadline_seconds') refused.push({ field, reason: 'the engine gives sessions the deadline it started with: restart to change it' });
      else apply.push({ field });
    } else {
      refused.push({ field, reason: (top !== undefined ? REFUSED_TOP[top] : undefined) ?? 'not reloadable: restart to change it' });
    }
  }
  const cur = (Array.isArray(curModels) ? curModels : []) as ModelLike[];
  const nxt = (Array.isArray(nextModels) ? nextModels : []) as ModelLike[];
  const sigs = (ms: ModelLike[]) => ms.map((m) => m.signature);
  if (JSON.stringify(sigs(cur)) !== JSON.stringify(sigs(nxt))) {
    const gone = sigs(cur).filter((s) => !sigs(nxt).includes(s));
    const added = sigs(nxt).filter((s) => !sigs(cur).includes(s));
    const what = [gone.length ? `removed ${gone.join(', ')}` : '', added.length ? `added ${added.join(', ')}` : '', !gone.length && !added.length ? 'reordered' : ''].filter(Boolean).join('; ');
    refused.push({
      field: 'models[].signature',
      reason: `the signatures are the accounts, journals and client order ids of this state directory (${what}): restart with the new set, or use another state_dir`,
    });
  } else {
    cur.forEach((m, i) => {
      const n = nxt[i]!;
      const fields: string[] = [];
      diffPaths(m, n, '', fields);
      for (const f of fields) {
        const field = `models[${m.signature}].${f}`;
        const top = f.split('.')[0];
        if (top === 'name' || top === 'agent') apply.push({ field });
        else if (top === 'enabled') refused.push({ field, reason: 'the engine runs the agents it started with: restart to enable or disable one (pause stops one now)' });
        else if (top === 'initial_cash') refused.push({ field, reason: 'the account was opened with its initial cash; the ledger keeps it' });
        else refused.push({ field, reason: 'not reloadable: restart to change it' });
      }
    });
  }
  return { apply, refused };
}

/** A model whose agent changed (its decider is rebuilt at its next session). */
export function changedAgents(plan: ReloadPlan): string[] {
  const out = new Set<string>();
  for (const c of plan.apply) {
    const m = /^models\[([^\]]+)\]\.agent/.exec(c.field);
    if (m) out.add(m[1]!);
  }
  return [...out];
}

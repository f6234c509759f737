/**
 * `broker status|positions|orders|fills [--config F] [--json]`: what the broker itself says about
 * the configured account next to what the ledger in `state_dir` says, differences marked (`!` in
 * the text, and `differs` in JSON); see ../broker-view.ts for what counts as one. The broker is
 * the config's real one: Alpaca (REST GETs, the keys the config names), Futu OpenD, the terminal
 * bridge or EastMoney (their venue adapters' connect and list calls: ../broker-sources.ts).
 * Read-only on both sides: nothing is sent to the broker that could place or cancel an order,
 * and the store is opened read-only (a running process that holds it leaves the ledger side out,
 * saying so). Exit 0 whatever differs (scripts read `differences`); 2 for a config without a real
 * broker, keys or a session not set or refused, an answer refused, or (a venue, which lists
 * today's fills only) `fills --since` another day.
 */
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import type { SchedulerLike } from 'rxjs';
import { loadConfig, resolveConfigPath } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { InputError } from '../../domain/errors.js';
import { MARKETS } from '../../domain/markets.js';
import { alpacaSource, venueSource, type BrokerSource } from '../broker-sources.js';
import { compareBrokerFills, compareBrokerOrders, comparePositions, EXTERNAL, MARK, ownerOf, readLedger, statusView, table, type LedgerSide } from '../broker-view.js';
import { cliWall } from '../cli-clock.js';

interface BrokerOptions {
  readonly config?: string;
  readonly json?: boolean;
  readonly since?: string;
}

interface Context {
  readonly config: Config;
  readonly source: BrokerSource;
  readonly zone: string;
  readonly wall: SchedulerLike;
}

/** What every answer starts with: whose account, which ledger. */
function envelope(ctx: Context, ledger: LedgerSide) {
  return {
    broker: { type: ctx.config.broker.type, paper: ctx.config.broker.paper, base_url: ctx.source.baseUrl },
    ledger: { state_dir: ledger.stateDir, available: ledger.view !== undefined, ...(ledger.note ? { note: ledger.note } : {}) },
  };
}

const print = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};
const mark = (differs: boolean) => (differs ? MARK : '');
const orDash = (v: string | number | null | undefined) => (v === null || v === undefined ? '-' : String(v));

function header(ctx: Context, ledger: LedgerSide): string {
  const lines = [`broker  ${ctx.source.label} at ${ctx.source.baseUrl}`, `ledger  ${ledger.view ? ledger.stateDir : `not shown: ${ledger.note}`}`];
  return `${lines.join('\n')}\n`;
}

const footer = (n: number) => (n === 0 ? 'no differences' : `${n} difference${n === 1 ? '' : 's'} (marked ${MARK})`);

async function withBroker(opts: BrokerOptions, run: (ctx: Context) => Promise<void>): Promise<void> {
  const config = await loadConfig(resolveConfigPath(opts.config));
  const env = process.env;
  const wall = cliWall(env);
  const source = config.broker.type === 'alpaca' ? alpacaSource(config, env, wall) : await venueSource(config, env, wall);
  if (!source) {
    throw new InputError(`broker.type is ${config.broker.type}: the broker command reads a real broker's account (alpaca), or a venue's (futu, bridge, eastmoney)`, ['set broker.type to the broker the account is at (alpaca, futu, bridge or eastmoney) with its settings']);
  }
  try {
    await run({ config, source, zone: MARKETS[config.market].zone, wall });
  } finally {
    source.close();
  }
}

async function positionsOf(ctx: Context, ledger: LedgerSide) {
  return comparePositions(await ctx.source.positions(), ledger.view);
}

async function ordersOf(ctx: Context, ledger: LedgerSide) {
  const owner = ownerOf(ctx.config.models.map((m) => m.signature));
  return compareBrokerOrders(await ctx.source.openOrders(ledger.view), ledger.view, owner);
}

async function status(ctx: Context, opts: BrokerOptions): Promise<void> {
  const ledger = await readLedger(ctx.config.state_dir);
  const account = await ctx.source.account();
  // One after the other: a venue's session answers one request at a time.
  const positions = await positionsOf(ctx, ledger);
  const orders = await ordersOf(ctx, ledger);
  const view = statusView(account, positions, orders, ledger.view);
  const differences = (view.cash.differs ? 1 : 0) + view.positions.differing + view.open_orders.differing;
  if (opts.json) return print(JSON.stringify({ ...envelope(ctx, ledger), ...view, differences }, null, 2));
  const ccy = view.account.currency ?? '';
  const lines = [
    header(ctx, ledger),
    `account ${view.account.account_number ?? view.account.id ?? '-'}: ${view.account.status ?? '-'}, cash ${view.account.cash} ${ccy}, buying power ${orDash(view.account.buying_power)}, equity ${orDash(view.account.equity)}`,
    '',
    table(
      ['', 'what', 'broker', 'ledger', 'difference'],
      [
        [mark(view.cash.differs), 'cash', view.cash.broker, orDash(view.cash.ledger), orDash(view.cash.difference)],
        [mark(view.positions.differing > 0), 'positions (symbols)', String(view.positions.broker), orDash(view.positions.ledger), `${view.positions.differing} differ`],
        [mark(view.open_orders.differing > 0), 'open orders', String(view.open_orders.broker), orDash(view.open_orders.ledger), `${view.open_orders.differing} differ`],
      ],
    ),
  ];
  if (view.signatures) {
    const rows = view.signatures.map((s) => [s.signature, s.cash, String(s.positions), String(s.open_orders)]);
    // What the account holds beyond the agents, booked by the live run (never an agent's).
    if (view.external) rows.push([EXTERNAL, view.external.cash, String(Object.keys(view.external.positions).length), '-']);
    lines.push('', table(['signature', 'cash', 'positions', 'open orders'], rows));
  }
  lines.push('', footer(differences));
  print(lines.join('\n'));
}

async function positions(ctx: Context, opts: BrokerOptions): Promise<void> {
  const ledger = await readLedger(ctx.config.state_dir);
  const rows = await positionsOf(ctx, ledger);
  const differences = rows.filter((r) => r.differs).length;
  if (opts.json) return print(JSON.stringify({ ...envelope(ctx, ledger), positions: rows, differences }, null, 2));
  const sigs = (r: (typeof rows)[number]) => Object.entries(r.signatures).map(([s, q]) => `${s} ${q}`).join(', ');
  print(
    [
      header(ctx, ledger),
      table(['', 'symbol', 'broker', 'ledger', 'difference', 'by signature'], rows.map((r) => [mark(r.differs), r.symbol, String(r.broker), orDash(r.ledger), orDash(r.difference), sigs(r)])),
      '',
      footer(differences),
    ].join('\n'),
  );
}

async function orders(ctx: Context, opts: BrokerOptions): Promise<void> {
  const ledger = await readLedger(ctx.config.state_dir);
  const rows = await ordersOf(ctx, ledger);
  const differences = rows.filter((r) => r.differs).length;
  if (opts.json) return print(JSON.stringify({ ...envelope(ctx, ledger), orders: rows, differences }, null, 2));
  print(
    [
      header(ctx, ledger),
      table(
        ['', 'client order id', 'symbol', 'side', 'qty', 'broker', 'ledger', 'note'],
        rows.map((r) => [
          mark(r.differs),
          orDash(r.client_order_id),
          r.symbol,
          r.side,
          String(r.quantity),
          r.broker ? `${r.broker.status} ${r.broker.filled_quantity}` : '-',
          r.ledger ? `${r.ledger.state} ${r.ledger.filled_quantity}` : '-',
          r.note ?? '',
        ]),
      ),
      '',
      footer(differences),
    ].join('\n'),
  );
}

/** `--since YYYY-MM-DD` (default today), the start of that day in the exchange's zone. */
function sinceOf(ctx: Context, since: string | undefined): DateTime {
  const today = DateTime.fromMillis(ctx.wall.now(), { zone: ctx.zone }).startOf('day');
  const day = since === undefined ? today : DateTime.fromISO(since, { zone: ctx.zone });
  if (!day.isValid || (since !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(since))) throw new InputError(`--since: expected a date YYYY-MM-DD, got ${JSON.stringify(since)}`);
  // A venue lists today's fills only: another day would compare the ledger's fills with none.
  if (ctx.source.todayOnly && !day.hasSame(today, 'day')) {
    throw new InputError(`--since ${since}: ${ctx.source.name} lists today's fills only (${today.toISODate()}, ${ctx.zone}); leave --since out to compare today's`);
  }
  return day.startOf('day');
}

async function fills(ctx: Context, opts: BrokerOptions): Promise<void> {
  const since = sinceOf(ctx, opts.since);
  const fromMs = since.toMillis();
  const ledger = await readLedger(ctx.config.state_dir, fromMs);
  const reported = await ctx.source.fills(fromMs, ledger.view);
  const rows = compareBrokerFills(reported, ledger.view, ownerOf(ctx.config.models.map((m) => m.signature)), ctx.zone);
  const differences = rows.filter((r) => r.differs).length;
  if (opts.json) return print(JSON.stringify({ ...envelope(ctx, ledger), since: since.toISODate(), fills: rows, differences }, null, 2));
  print(
    [
      header(ctx, ledger),
      `fills since ${since.toISODate()} (${ctx.zone})`,
      table(
        ['', 'time', 'client order id', 'symbol', 'side', 'qty', 'price', 'broker', 'ledger', 'note'],
        rows.map((r) => [mark(r.differs), r.time, orDash(r.client_order_id), r.symbol, r.side, String(r.quantity), r.price, r.broker ? 'yes' : 'no', r.ledger === null ? '-' : r.ledger ? 'yes' : 'no', r.note ?? '']),
      ),
      '',
      footer(differences),
    ].join('\n'),
  );
}

export function registerBrokerCommand(program: Command): void {
  const cmd = program.command('broker').description("the broker's own view of the account (Alpaca, Futu OpenD, the terminal bridge, EastMoney) next to the ledger's, differences marked");
  const sub = (name: string, what: string) =>
    cmd
      .command(name)
      .description(what)
      .option('--config <file>', 'config file naming the broker and state_dir (default: config/default.json)')
      .option('--json', 'print JSON');
  sub('status', 'the account (cash, buying power, equity) and how positions, open orders and cash compare').action((opts: BrokerOptions) => withBroker(opts, (ctx) => status(ctx, opts)));
  sub('positions', "positions by symbol: the broker's shares against the signatures' in the ledger").action((opts: BrokerOptions) => withBroker(opts, (ctx) => positions(ctx, opts)));
  sub('orders', 'open orders by client order id: at the broker, in the ledger, or both').action((opts: BrokerOptions) => withBroker(opts, (ctx) => orders(ctx, opts)));
  sub('fills', 'fills since a day (default today, exchange time): reported by the broker, in the ledger, or both')
    .option('--since <date>', 'first day (YYYY-MM-DD, exchange time); default today (Futu, the bridge, EastMoney list today only)')
    .action((opts: BrokerOptions) => withBroker(opts, (ctx) => fills(ctx, opts)));
}

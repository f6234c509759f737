/**
 * Steering a running paper/live process from the shell: `status`, `positions`, `orders`,
 * `pause SIGNATURE`, `resume SIGNATURE`, `flatten SIGNATURE [SYMBOL]`, `reload`. Each asks the
 * process's control API over HTTP (src/server/control-routes.ts): at `--url`, or at the config's
 * `server.host:server.port`, with the token of `server.token_env` (or `--token-env`) when the
 * environment has it, sent as `Authorization: Bearer` (never printed).
 *
 * `--json` prints the process's answer as it is (its fields are a contract: README, "Control
 * API"). Exit 0 done; 2 when nothing answers there (no process running), the process refuses
 * (the reason printed: an unknown signature, a reload it cannot take, a flatten that sold
 * nothing), or the token is missing or wrong.
 */
import type { Command } from 'commander';
import { loadConfig, resolveConfigPath } from '../../config/load.js';
import { InputError } from '../../domain/errors.js';

interface ControlOptions {
  readonly config?: string;
  readonly url?: string;
  readonly tokenEnv?: string;
  readonly json?: boolean;
}

type Answer = Record<string, unknown>;

/** Where the process listens and which variable holds its token. */
async function target(opts: ControlOptions): Promise<{ url: string; tokenEnv: string | undefined }> {
  if (opts.url !== undefined) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new InputError(`--url: expected an http URL like http://127.0.0.1:8765, got ${JSON.stringify(opts.url)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError(`--url: expected an http URL like http://127.0.0.1:8765, got ${JSON.stringify(opts.url)}`);
    const config = opts.config !== undefined ? await loadConfig(resolveConfigPath(opts.config)) : undefined;
    return { url: opts.url.replace(/\/+$/, ''), tokenEnv: opts.tokenEnv ?? config?.server.token_env };
  }
  const path = resolveConfigPath(opts.config);
  const config = await loadConfig(path);
  const { host, port } = config.server;
  if (port === 0) throw new InputError(`server.port is 0 in ${path} (any free port): pass --url with the address \`run\` printed`);
  // A process listening on every interface answers on loopback too.
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return { url: `http://${h.includes(':') ? `[${h}]` : h}:${port}`, tokenEnv: opts.tokenEnv ?? config.server.token_env };
}

async function ask(opts: ControlOptions, command: string, body?: Answer): Promise<Answer> {
  const { url, tokenEnv } = await target(opts);
  const token = tokenEnv ? process.env[tokenEnv] : undefined;
  const headers: Record<string, string> = { 'X-Agent-Trader-Client': 'cli', ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  let res: Response;
  try {
    res = await fetch(`${url}/api/control/${command}`, body === undefined ? { headers } : { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code;
    const why = code === 'ECONNREFUSED' ? 'connection refused' : code ?? (e as Error).message;
    throw new InputError(`no agent-trader process is answering at ${url} (${why}): start one with \`agent-trader run --config FILE\`, or pass --url`);
  }
  const answer = (await res.json().catch(() => ({}))) as Answer;
  if (res.status === 401) {
    throw new InputError(`${url} wants its token: ${tokenEnv ? `set ${tokenEnv}` : 'name the variable holding it with --token-env (or server.token_env in the config)'}${token ? ' (the one given was refused)' : ''}`);
  }
  if (opts.json && res.status < 500) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
  if (!res.ok || answer['ok'] !== true) {
    const refused = Array.isArray(answer['refused']) ? (answer['refused'] as { field: string; reason: string }[]).map((r) => `${r.field}: ${r.reason}`) : [];
    throw new InputError(typeof answer['error'] === 'string' ? (answer['error'] as string) : `${url} answered HTTP ${res.status}`, refused);
  }
  return answer;
}

const signed = (amount: string) => (amount.startsWith('-') ? amount : `+${amount}`);

function formatStatus(a: Answer): string {
  const next = a['next_session'] as { at: string } | null;
  const ks = a['kill_switch'] as { active: boolean; signatures: string[] | 'all'; reason: string | null };
  const lines = [
    `${String(a['mode'])} ${String(a['market'])} at ${String(a['time'])} (${String(a['zone'])}); next session ${next ? next.at : 'none'}; kill switch ${ks.active ? `ON for ${ks.signatures === 'all' ? 'all' : ks.signatures.join(', ')}` : 'off'}`,
  ];
  for (const g of a['agents'] as Answer[]) {
    const session = g['session'] as { state: string; at?: string };
    const pnl = g['pnl_today'] as { amount: string; ratio: string | null } | null;
    const positions = g['positions'] as unknown[];
    const open = g['open_orders'] as unknown[];
    const err = g['last_error'] as { at: string; reason: string | null; message: string | null } | null;
    const flags = [g['enabled'] ? '' : 'disabled', g['paused'] ? `paused${g['paused_by'] ? ` by ${String(g['paused_by'])} at ${String(g['paused_at'])}` : ''}` : '', g['halted'] ? 'halted (kill switch)' : '']
      .filter(Boolean)
      .join(', ');
    lines.push(
      [
        `${String(g['signature'])}:`,
        session.state === 'idle' ? 'idle' : `session ${session.state} (${session.at ?? ''})`,
        g['next_session'] ? `next ${(g['next_session'] as { at: string }).at}` : '',
        g['equity'] !== null ? `equity ${String(g['equity'])} ${String(a['currency'])}` : '',
        g['cash'] !== null ? `cash ${String(g['cash'])}` : '',
        pnl ? `today ${signed(pnl.amount)}${pnl.ratio !== null ? ` (${signed((Number(pnl.ratio) * 100).toFixed(2))}%)` : ''}` : '',
        `${positions.length} position${positions.length === 1 ? '' : 's'}`,
        `${open.length} open order${open.length === 1 ? '' : 's'}`,
        flags ? `[${flags}]` : '',
      ]
        .filter(Boolean)
        .join('  '),
    );
    if (err) lines.push(`  last error ${err.at}: ${err.reason ?? ''} ${err.message ?? ''}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')}\n`;
}

function formatPositions(a: Answer): string {
  const rows = [['signature', 'symbol', 'quantity', 'sellable', 'cost_basis', 'last_price', 'market_value']];
  for (const g of a['agents'] as Answer[]) {
    for (const p of g['positions'] as Answer[]) rows.push([String(g['signature']), String(p['symbol']), String(p['quantity']), String(p['sellable']), String(p['cost_basis']), String(p['last_price'] ?? '-'), String(p['market_value'] ?? '-')]);
  }
  return rows.length === 1 ? 'no positions\n' : table(rows);
}

function formatOrders(a: Answer): string {
  const open = a['open'] as Answer[];
  const today = a['today'] as Answer[];
  const out = [`open orders: ${open.length}`];
  if (open.length) out.push(table([['client_order_id', 'side', 'quantity', 'symbol', 'filled', 'state'], ...open.map((o) => [String(o['client_order_id']), String(o['side']), String(o['quantity']), String(o['symbol']), String(o['filled_quantity']), String(o['state'])])]).trimEnd());
  out.push(`today's orders (${String(a['date'])}): ${today.length}`);
  if (today.length) out.push(table([['client_order_id', 'side', 'quantity', 'symbol', 'status', 'filled', 'avg_price', 'reason'], ...today.map((o) => [String(o['client_order_id']), String(o['side']), String(o['quantity']), String(o['symbol']), String(o['status']), String(o['filled_quantity']), String(o['average_price'] ?? '-'), String(o['reason'] ?? '')])]).trimEnd());
  return `${out.join('\n')}\n`;
}

function withCommon(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'the running process\'s config: its server.host:port and server.token_env (default: config/default.json)')
    .option('--url <url>', 'the process\'s HTTP address instead, e.g. http://127.0.0.1:8765')
    .option('--token-env <name>', 'environment variable holding the server token (default: the config\'s server.token_env)')
    .option('--json', 'print the JSON answer');
}

export function registerControlCommands(program: Command): void {
  const print = (opts: ControlOptions, text: () => string) => {
    if (!opts.json) process.stdout.write(text());
  };
  withCommon(program.command('status').description('a running process: per agent its session state, next session, equity, PnL today, positions, open orders, last error')).action(async (opts: ControlOptions) => {
    const a = await ask(opts, 'status');
    print(opts, () => formatStatus(a));
  });
  withCommon(program.command('positions').description('a running process: every agent\'s positions (shares, sellable today, cost, last price)')).action(async (opts: ControlOptions) => {
    const a = await ask(opts, 'positions');
    print(opts, () => formatPositions(a));
  });
  withCommon(program.command('orders').description('a running process: open orders and today\'s orders')).action(async (opts: ControlOptions) => {
    const a = await ask(opts, 'orders');
    print(opts, () => formatOrders(a));
  });
  withCommon(program.command('pause').description('a running process: no new session for this agent until resumed (open orders stay; survives a restart)').argument('<signature>')).action(async (signature: string, opts: ControlOptions) => {
    const a = await ask(opts, 'pause', { signature });
    print(opts, () => `${signature} ${a['changed'] ? 'paused' : 'was already paused'}: no new session until \`resume ${signature}\`; open orders stay\n`);
  });
  withCommon(program.command('resume').description('a running process: this agent runs its sessions again').argument('<signature>')).action(async (signature: string, opts: ControlOptions) => {
    const a = await ask(opts, 'resume', { signature });
    const next = a['next_session'] as { at: string } | null;
    print(opts, () => `${signature} ${a['changed'] ? 'resumed' : 'was not paused'}; next session ${next ? next.at : 'none'}\n`);
  });
  withCommon(
    program
      .command('flatten')
      .description('a running process: sell this agent\'s sellable shares (one symbol, or all) through risk and the order machine; T+1 shares stay')
      .argument('<signature>')
      .argument('[symbol]'),
  ).action(async (signature: string, symbol: string | undefined, opts: ControlOptions) => {
    const a = await ask(opts, 'flatten', { signature, ...(symbol !== undefined ? { symbol } : {}) });
    const lines = a['orders'] as Answer[];
    const text = lines.map((l) => (l['action'] === 'sell' ? `sell ${String(l['quantity'])} ${String(l['symbol'])}: ${String(l['client_order_id'])}${l['note'] ? ` (${String(l['note'])})` : ''}` : `not sold ${String(l['symbol'])}: ${String(l['message'])}`));
    print(opts, () => `${lines.length === 0 ? `${signature} holds nothing\n` : `${text.join('\n')}\n`}`);
    const refused = lines.filter((l) => l['action'] === 'refused');
    if (refused.length > 0 && refused.length === lines.length) {
      throw new InputError(`flatten ${signature}: nothing sold`, refused.map((l) => `${String(l['symbol'])}: ${String(l['message'])}`));
    }
  });
  withCommon(program.command('reload').description('a running process: read its config file again; alert channels now, risk limits and agents at the next session; refused (nothing applied) when a change needs a restart')).action(async (opts: ControlOptions) => {
    const a = await ask(opts, 'reload', {});
    const changes = a['changes'] as string[];
    print(opts, () => (a['applied'] ? `reload accepted: ${changes.join(', ')}; ${String(a['effective'])}\n` : `reload: ${String(a['note'])}\n`));
  });
}

/**
 * A stopped run's dashboard (`report --serve DIR`): the state the process last wrote
 * (`dashboard.json`: orders, charts, statecharts, alerts, its last health) with the final
 * figures of `report.json` over it (equity, cash, PnL and positions as the report marks
 * them at the last session), so the page and the report say the same. A backtest's dir
 * (report.json only) shows its accounts; a run killed before any report shows its last
 * session end.
 *
 * Past runs are the run directories beside the one served (the other folders of its
 * parent holding a report.json or a dashboard.json: `state_dir/runs/*` for the demo).
 * DIR may also be such a parent: then its newest run is served. `?run=NAME` picks
 * another one, by name among those listed only (never a path).
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../domain/errors.js';
import type { DashboardAccount, DashboardState, PastRun } from '../domain/dashboard-state.js';
import { dec } from '../domain/money.js';
import { readReport, REPORT_JSON } from '../report/io.js';
import type { Report } from '../report/types.js';
import { DASHBOARD_JSON, readDashboardFile } from '../runtime/dashboard-file.js';

const exists = async (file: string) => stat(file).then(() => true, () => false);

/** When the run last wrote its files (ms), or undefined when the folder is not a run. */
async function runStamp(dir: string): Promise<number | undefined> {
  const times = await Promise.all([REPORT_JSON, DASHBOARD_JSON].map((f) => stat(join(dir, f)).then((s) => s.mtimeMs, () => undefined)));
  const known = times.filter((t): t is number => t !== undefined);
  return known.length ? Math.max(...known) : undefined;
}

async function runsIn(parent: string): Promise<{ name: string; dir: string; stamp: number }[]> {
  let names: string[];
  try {
    names = (await readdir(parent, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
  const runs = await Promise.all(names.map(async (name) => ({ name, dir: join(parent, name), stamp: await runStamp(join(parent, name)) })));
  return runs.filter((r): r is { name: string; dir: string; stamp: number } => r.stamp !== undefined).sort((a, b) => b.stamp - a.stamp || b.name.localeCompare(a.name));
}

export interface StoppedRuns {
  /** The folder the runs are listed from. */
  readonly parent: string;
  /** The run served without `?run=`. */
  readonly current: string;
  /** Newest first. */
  readonly runs: readonly { readonly name: string; readonly dir: string }[];
}

/** DIR as a run (listing its siblings), or as a folder of runs (serving the newest). */
export async function findRuns(dir: string): Promise<StoppedRuns> {
  if (!(await exists(dir))) throw new InputError(`no run at ${dir}: no such directory`);
  if ((await runStamp(dir)) !== undefined) {
    const parent = dirname(dir);
    const siblings = await runsIn(parent);
    return { parent, current: basename(dir), runs: siblings.some((r) => r.name === basename(dir)) ? siblings : [{ name: basename(dir), dir }, ...siblings] };
  }
  const inside = await runsIn(dir);
  if (inside.length === 0) throw new InputError(`no run at ${dir}: neither ${REPORT_JSON} nor ${DASHBOARD_JSON} in it or in a folder of it; give a run's directory (a paper run's state_dir, a demo's state_dir/runs/<run>, a backtest's --out)`);
  return { parent: dir, current: inside[0]!.name, runs: inside };
}

async function pastRun(name: string, dir: string, current: boolean): Promise<PastRun> {
  const report = await readReport(dir).catch(() => undefined);
  if (!report) return { name, current };
  return {
    name,
    current,
    mode: report.run.mode ?? 'backtest',
    from: report.run.from,
    to: report.run.to,
    finalValues: Object.fromEntries(Object.entries(report.signatures).map(([sig, s]) => [sig, s.final_value])),
  };
}

/** The account as report.json has it at the end, keeping what only the dashboard knew (curve, session, costs). */
function finalAccount(signature: string, s: Report['signatures'][string], saved: DashboardAccount | undefined, currency: string | undefined): DashboardAccount {
  const total = dec(s.final_value).minus(s.initial_value);
  const unrealised = s.trades?.unrealised_pnl ?? (saved?.pnl ? dec(saved.pnl.unrealised).toFixed() : undefined);
  const realised = unrealised !== undefined ? total.minus(unrealised) : undefined;
  const cost = new Map((saved?.positions ?? []).map((p) => [p.symbol, p]));
  const positions = s.symbols
    ? Object.entries(s.symbols)
        .filter(([, y]) => y.open_quantity > 0)
        .map(([symbol, y]) => {
          const before = cost.get(symbol);
          return {
            symbol,
            quantity: y.open_quantity,
            ...(before?.cost && before.quantity === y.open_quantity ? { cost: before.cost } : {}),
            ...(y.last_price ? { lastPrice: y.last_price, marketValue: dec(y.last_price).times(y.open_quantity).toFixed() } : {}),
          };
        })
    : (saved?.positions ?? []);
  return {
    ...(saved ?? { signature, positions: [], equityCurve: [] }),
    signature,
    ...(currency && !saved?.currency ? { currency } : {}),
    cash: s.final_cash,
    equity: s.final_value,
    ...(s.marked_at ? { markedAt: s.marked_at } : {}),
    initialCash: s.initial_value,
    positions,
    ...(realised !== undefined && unrealised !== undefined ? { pnl: { realised: realised.toFixed(), unrealised: dec(unrealised).toFixed(), total: total.toFixed() } } : {}),
  };
}

const CURRENCY: Record<string, string> = { us: 'USD', cn: 'CNY' };

/** The dashboard state of one stopped run: dashboard.json under report.json's final figures. */
export async function stoppedState(dir: string, runs: readonly PastRun[]): Promise<DashboardState> {
  const saved = await readDashboardFile(dir);
  const report = (await exists(join(dir, REPORT_JSON))) ? await readReport(dir) : undefined;
  if (!saved && !report) throw new InputError(`no run at ${dir}`);
  const base: DashboardState = saved ?? { time: report!.run.generated_at, mode: report!.run.mode ?? 'backtest', accounts: [], orders: [] };
  const { nextSessionAt: _next, quotes: _quotes, server: _server, ...rest } = base;
  const accounts = report
    ? Object.entries(report.signatures).map(([sig, s]) => finalAccount(sig, s, base.accounts.find((a) => a.signature === sig), CURRENCY[report.run.market]))
    : base.accounts;
  return {
    ...rest,
    accounts,
    ...(rest.clock ? { clock: { marketTime: rest.clock.marketTime, zone: rest.clock.zone, marketOpen: rest.clock.marketOpen, ...(rest.clock.lastTickAt ? { lastTickAt: rest.clock.lastTickAt } : {}) } } : {}),
    run: { status: 'stopped', dir, runs: [...runs] },
  };
}

/** What `report --serve` answers for `/api/state?run=NAME`: the run named (one of those listed), else the current one. */
export function stoppedRunState(found: StoppedRuns): (query: URLSearchParams) => Promise<DashboardState> {
  return async (query) => {
    const asked = query.get('run');
    const name = asked && found.runs.some((r) => r.name === asked) ? asked : found.current;
    const dir = found.runs.find((r) => r.name === name)?.dir ?? join(found.parent, name);
    const runs = await Promise.all(found.runs.map((r) => pastRun(r.name, r.dir, r.name === name)));
    return stoppedState(dir, runs);
  };
}

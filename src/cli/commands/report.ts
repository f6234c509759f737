/**
 * `report DIR`: print the summary of a finished backtest again (DIR/report.json).
 * `report --serve DIR`: serve the dashboard of a stopped run, read-only (no feed, no kill
 * switch), from DIR's dashboard.json and report.json, with the runs beside it to pick from
 * (src/server/stopped-run.ts). Runs until SIGINT/SIGTERM.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { NEVER } from 'rxjs';
import { InputError } from '../../domain/errors.js';
import type { HealthReport } from '../../domain/health.js';
import { readReport } from '../../report/io.js';
import { formatReportTable } from '../../report/table.js';
import { startHttpServer } from '../../server/http-server.js';
import { findRuns, stoppedRunState } from '../../server/stopped-run.js';

interface ReportOptions {
  json?: boolean;
  serve?: boolean;
  port: string;
  host: string;
}

/** Not the run's 8765 nor the replay server's 8766: a stopped run may be looked at while another runs. */
export const DEFAULT_REPORT_PORT = 8767;

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > 65_535) throw new InputError(`--port must be an integer from 0 to 65535 (0 = any free port), got ${JSON.stringify(text)}`);
  return n;
}

async function serve(dir: string, opts: ReportOptions): Promise<void> {
  const found = await findRuns(resolve(dir));
  const state = stoppedRunState(found);
  const current = await state(new URLSearchParams()); // a broken dashboard.json / report.json fails here, not in the page
  const saved = current.health?.report as HealthReport | undefined;
  // The process is gone: its last health, with the clock said stopped (503 to a probe).
  const health = (): HealthReport => ({ ...(saved ?? { quotes: { fresh: false, source: 'none' }, broker: { connected: false }, sessions: {} }), clock: { ...(saved?.clock ?? {}), running: false } });
  const server = await startHttpServer({ host: opts.host, port: parsePort(opts.port), events: NEVER, heartbeatMs: 0, health, state });
  process.stdout.write(`stopped run, final state: ${server.url}/  (${current.run?.dir ?? dir}; ${found.runs.length} run(s) in ${found.parent}); Ctrl-C stops\n`);
  let stop: (() => void) | undefined;
  try {
    await new Promise<void>((done) => {
      stop = () => void server.close().then(done);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  } finally {
    if (stop) {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  }
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('print the summary table of a backtest (reads DIR/report.json, validated); --serve: the dashboard of a stopped run')
    .argument('<dir>', 'the --out DIR of a backtest, or a paper run\'s directory (with --serve, also a folder of runs)')
    .option('--json', 'print report.json (validated) instead of the table')
    .option('--serve', 'serve the dashboard of the stopped run in DIR, read-only, with the runs beside it')
    .option('--port <port>', 'with --serve: TCP port, 0 = any free port', String(DEFAULT_REPORT_PORT))
    .option('--host <host>', 'with --serve: address to listen on', '127.0.0.1')
    .action(async (dir: string, opts: ReportOptions) => {
      if (opts.serve) return serve(dir, opts);
      const report = await readReport(dir);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReportTable(report));
    });
}

/**
 * The report of a paper or live run so far (report.json / report.html under the run's
 * directory): the same report as a backtest's, over the sessions the run has recorded.
 */
import type { DateTime } from 'luxon';
import type { Config } from '../config/schema.js';
import type { Ledger } from '../actors/ledger/ledger.js';
import { buildReport, renderReportHtml, writeReport, type BenchmarkSeries, type Report } from '../report/index.js';
import type { Store } from '../actors/store/store.js';
import type { PointInTimeView } from '../domain/point-in-time.js';
import { detailedRuns } from './assemble.js';

export async function writePaperReport(
  config: Config,
  ledger: Ledger,
  store: Store,
  view: (at: DateTime) => PointInTimeView,
  outDir: string,
  today: string,
  generatedAt: DateTime,
  benchmark?: BenchmarkSeries,
): Promise<{ report: Report; files: { json: string; html: string } }> {
  const runs = await detailedRuns(config, ledger, store, view);
  const days = runs.flatMap((r) => r.curve.map((p) => p.at.slice(0, 10))).sort();
  const report = buildReport(
    runs,
    {
      market: config.market,
      frequency: config.frequency,
      from: days[0] ?? today,
      to: days.at(-1) ?? today,
      rules: config.broker.rules,
      generatedAt: generatedAt.toISO()!,
      sessions: Math.max(0, ...runs.map((r) => r.curve.length)),
      mode: config.mode === 'live' ? 'live' : 'paper',
    },
    benchmark,
  );
  const files = await writeReport(outDir, report, renderReportHtml(report, runs, benchmark));
  return { report, files };
}

/** `report DIR`: print the summary of a finished backtest again (DIR/report.json). */
import type { Command } from 'commander';
import { readReport } from '../../report/io.js';
import { formatReportTable } from '../../report/table.js';

interface ReportOptions {
  json?: boolean;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('print the summary table of a backtest (reads DIR/report.json, validated)')
    .argument('<dir>', 'the --out DIR of a backtest')
    .option('--json', 'print report.json (validated) instead of the table')
    .action(async (dir: string, opts: ReportOptions) => {
      const report = await readReport(dir);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReportTable(report));
    });
}

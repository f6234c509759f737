/**
 * `compliance report [--config F] [--out DIR] [--json]`: the program-trading report a broker asks
 * for before an account trades by program (src/report/compliance.ts): software and version, the
 * strategies on the account, the order types they send, the order + cancel rates configured and
 * observed (the run's committed tally in `state_dir`, read-only). Writes
 * `<out>/compliance-<date>.md` and `.json` (default out: `<state_dir>/reports`) and prints where;
 * `--json` prints the JSON report instead of the summary. A `state_dir` with no run, or held by a
 * running process, gives the report without the observed figures and says why.
 *
 * Exit 0 with the files written; 2 for a bad config or an unwritable --out.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { loadConfig, resolveConfigPath } from '../../config/load.js';
import { InputError } from '../../domain/errors.js';
import { MARKETS } from '../../domain/markets.js';
import { ActionTallySchema, type ActionTally } from '../../domain/risk/program-trading.js';
import { complianceMarkdown, complianceReport } from '../../report/compliance.js';
import { codeVersion } from '../../runtime/manifest.js';
import { PROGRAM_TRADING_KEY, programTradingOn } from '../../runtime/program-trading.js';
import { openRunStore } from '../run-dir.js';

interface ComplianceOptions {
  readonly config?: string;
  readonly out?: string;
  readonly json?: boolean;
}

async function readTally(stateDir: string): Promise<{ tally?: ActionTally; note?: string }> {
  let store;
  try {
    store = await openRunStore(stateDir);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { note: `observed rates not read: ${e.message}` };
  }
  try {
    const saved = await store.loadSnapshot(PROGRAM_TRADING_KEY);
    return saved === undefined ? { note: 'the run has sent no order or cancel under program-trading counting yet' } : { tally: ActionTallySchema.parse(saved) };
  } finally {
    await store.close();
  }
}

export function registerComplianceCommand(program: Command): void {
  const compliance = program.command('compliance').description("China's program-trading rules: the report a broker asks for");
  compliance
    .command('report')
    .description('write the program-trading report (software, strategies, order types, order and cancel rates configured and observed) for the broker')
    .option('--config <file>', 'config file (default: config/default.json)')
    .option('--out <dir>', 'where to write compliance-<date>.md and .json (default: <state_dir>/reports)')
    .option('--json', 'print the JSON report')
    .action(async (opts: ComplianceOptions) => {
      if (opts.out === '') throw new InputError('--out: expected a directory, got an empty string');
      const path = resolveConfigPath(opts.config);
      const config = await loadConfig(path);
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
      // The wall clock, read here at the edge: the report's date.
      const now = DateTime.now().setZone(MARKETS[config.market].zone);
      const { tally, note } = await readTally(config.state_dir);
      const report = complianceReport({
        config,
        software: { name: pkg.name, version: pkg.version, code: await codeVersion(), node: process.versions.node },
        generatedAt: now.toISO()!,
        tally,
        note,
        enforced: programTradingOn(config),
      });
      const dir = opts.out ?? join(config.state_dir, 'reports');
      const base = join(dir, `compliance-${now.toISODate()}`);
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
        await writeFile(`${base}.md`, complianceMarkdown(report));
      } catch (e) {
        throw new InputError(`--out ${dir}: cannot write the report there (${e instanceof Error ? e.message : String(e)})`);
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const r = report.rates;
      process.stdout.write(
        [
          `program-trading report for ${config.market} (${report.account.broker}, ${report.account.kind}): ${config.models.length} agent(s) on the account`,
          `  caps     ${r.configured.max_actions_per_second}/s, ${r.configured.max_actions_per_day}/day (${r.enforced ? 'enforced' : 'not enforced for this config'}); high-frequency at ${r.thresholds.per_second}/s or ${r.thresholds.per_day}/day`,
          `  observed max ${r.observed_max.per_second}/s, ${r.observed_max.per_day}/day over ${r.observed.length} day(s)${note ? ` (${note})` : ''}`,
          `wrote ${base}.md`,
          `      ${base}.json`,
          '',
        ].join('\n'),
      );
    });
}

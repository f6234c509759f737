/**
 * `config check [file]`: validate a config file; exit 0 with a one-line summary, or
 * exit 2 listing every problem as `path: expected ..., got ...` (ConfigError).
 * `config check --preflight [file]`: also what the run needs from this machine now
 * (src/config/preflight.ts: env variables, files of the right market/interval, the port,
 * the broker), every problem at once, exit 2. `run` does the same before it starts.
 * `config show [file]`: print the config with every default filled in, as JSON.
 * Without a file, both use the bundled default config.
 */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { calendarFromConfig } from '../../config/closures-file.js';
import { ConfigError, loadConfig, missingFiles, resolveConfigPath } from '../../config/load.js';
import { preflight, preflightError } from '../../config/preflight.js';
import type { Config } from '../../config/schema.js';

/** Paths shown relative to the working directory when they are inside it. */
function shortPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel === '' ? '.' : rel.startsWith('..') ? p : rel;
}

/** `backtest cn daily, 2 models (a, b), broker simulated/strict, state_dir state`. */
export function summarizeConfig(config: Config): string {
  const models = config.models.map((m) => (m.enabled ? m.signature : `${m.signature} [disabled]`));
  const parts = [
    `${config.mode} ${config.market} ${config.frequency}`,
    `${models.length} model${models.length === 1 ? '' : 's'} (${models.join(', ')})`,
    `broker ${config.broker.type}/${config.broker.rules}`,
    `state_dir ${shortPath(config.state_dir)}`,
  ];
  if (config.date_range) parts.push(`${config.date_range.from ?? 'start'}..${config.date_range.to ?? 'end'}`);
  return parts.join(', ');
}

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check or show a config file');

  config
    .command('check')
    .description('validate a config file: a one-line summary when valid, every problem otherwise (exit 2)')
    .argument('[file]', 'config file (default: the bundled config/default.json)')
    .option('--preflight', 'also check what a run needs here and now: env variables set, files readable and of the market/interval, server port free, broker reachable')
    .action(async (file: string | undefined, opts: { preflight?: boolean }) => {
      const path = file ?? resolveConfigPath();
      const shown = file ?? shortPath(path);
      const loaded = await loadConfig(path);
      if (opts.preflight) {
        const problems = await preflight(loaded);
        if (problems.length > 0) throw preflightError(shown, problems);
        process.stdout.write(`ok: ${shown} — ${summarizeConfig(loaded)}; preflight passed\n`);
        return;
      }
      const missing = await missingFiles(loaded);
      if (missing.length > 0) {
        const n = missing.length;
        throw new ConfigError(`invalid config ${shown}: ${n} problem${n === 1 ? '' : 's'}`, missing, path);
      }
      await calendarFromConfig(loaded); // a closures file that is invalid or disagrees with the built-in years
      process.stdout.write(`ok: ${shown} — ${summarizeConfig(loaded)}\n`);
    });

  config
    .command('show')
    .description('print a config file with every default filled in, as JSON (paths made absolute)')
    .argument('[file]', 'config file (default: the bundled config/default.json)')
    .action(async (file: string | undefined) => {
      const loaded = await loadConfig(resolveConfigPath(file));
      process.stdout.write(`${JSON.stringify(loaded, null, 2)}\n`);
    });
}

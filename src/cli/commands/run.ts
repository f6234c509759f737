/** `run`: the main job of a config (`npm start` runs it). */
import type { Command } from 'commander';
import { start } from '../../bootstrap.js';
import { loadConfig, resolveConfigPath } from '../../config/load.js';
import { preflight, preflightError } from '../../config/preflight.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the main job of a config (default: config/default.json): mode backtest runs the backtest and prints its report; mode paper/live runs the trading process on live quotes until Ctrl-C (or the end of the built-in replay)')
    .option('--config <file>', 'config file (default: config/default.json)')
    .option('--out <dir>', 'backtests: output directory (default: a new folder under state_dir/runs)')
    .action(async (opts: { config?: string; out?: string }) => {
      const path = resolveConfigPath(opts.config);
      const config = await loadConfig(path);
      // What `config check --preflight` checks, before anything is opened or written.
      const problems = await preflight(config);
      if (problems.length > 0) throw preflightError(opts.config ?? path, problems);
      await start(config, { ...(opts.out ? { outDir: opts.out } : {}), configPath: path });
    });
}

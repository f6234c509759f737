/**
 * The process entry for a config: what `npm start` / `run` does with it.
 *
 * - `backtest`: the engine over the config's bars in virtual time, into a fresh
 *   run directory under `state_dir/runs/`, then the report.
 * - `paper` / `live`: the long-running process with live quotes (paper-process.ts);
 *   with the built-in replay server it ends with the replayed day.
 */
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { backtestAndPrint } from './cli/commands/backtest.js';
import type { Config } from './config/schema.js';
import { runPaperProcess } from './paper-process.js';

export interface StartOptions {
  /** Where a backtest writes (default: a new folder under state_dir/runs). */
  readonly outDir?: string;
  /** The wall clock, read once at the edge to name the run folder. */
  readonly startedAt?: DateTime;
  /** The config file (paper/live: read again by the control API's reload). */
  readonly configPath?: string;
}

export async function start(config: Config, options: StartOptions = {}): Promise<void> {
  switch (config.mode) {
    case 'backtest': {
      const stamp = (options.startedAt ?? DateTime.now()).toFormat("yyyyLLdd'T'HHmmss");
      await backtestAndPrint(config, options.outDir ?? join(config.state_dir, 'runs', stamp));
      return;
    }
    case 'paper':
    case 'live':
      await runPaperProcess(config, { ...(options.outDir ? { outDir: options.outDir } : {}), ...(options.configPath ? { configPath: options.configPath } : {}) });
      return;
  }
}

/** `run`: the main job (`npm start` runs it). Today a dry run of the config's schedule over its price file. */
import type { Command } from 'commander';
import { dryRun } from '../../bootstrap.js';
import { loadConfig, resolveConfigPath } from '../../config/load.js';
import { summarizeConfig } from './config.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the main job of a config (default: config/default.json)')
    .option('--config <file>', 'config file (default: config/default.json)')
    .action(async (opts: { config?: string }) => {
      const path = resolveConfigPath(opts.config);
      const config = await loadConfig(path);
      const write = (line: string) => process.stdout.write(`${line}\n`);
      write(`agent-trader: ${summarizeConfig(config)}`);
      await dryRun(config, write);
    });
}

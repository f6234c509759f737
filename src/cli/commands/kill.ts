/**
 * `kill [--signature S] [--reason TEXT] [--reset] [--config F]`: throw (or reset) the kill
 * switch in `<state_dir>/kill-switch.json` (src/actors/risk/kill-switch.ts). A running engine
 * watches the file: it cancels the open orders (of S, or all) and refuses new orders until
 * the switch is reset; the file survives restarts. It works while another process holds the
 * LevelDB lock (the switch is not in LevelDB).
 *
 * The event-feed message doing the same for authenticated clients comes with the
 * paper-trading issue.
 *
 * Exit 0 with what it did; 2 for a bad config or a signature the config does not name (a typo
 * must not leave the real agent trading).
 */
import type { Command } from 'commander';
import { loadConfig, resolveConfigPath } from '../../config/load.js';
import { InputError } from '../../domain/errors.js';
import { KillSwitch, type KillSwitchState } from '../../actors/risk/kill-switch.js';

interface KillOptions {
  readonly signature?: string;
  readonly reason?: string;
  readonly reset?: boolean;
  readonly config?: string;
}

function describe(state: KillSwitchState): string {
  if (!state.active) return 'OFF: every signature may trade';
  const who = state.signatures === 'all' ? 'all signatures' : state.signatures.join(', ');
  return `ON for ${who} (${state.reason}${state.at ? `, since ${state.at}` : ''})`;
}

export function registerKillCommand(program: Command): void {
  program
    .command('kill')
    .description('kill switch: cancel open orders and refuse new ones (all agents or one) until reset; survives restarts')
    .option('--signature <name>', 'only this agent (default: all)')
    .option('--reason <text>', 'why (shown in alerts and rejections)')
    .option('--reset', 'release the switch (for --signature only, or everything)')
    .option('--config <file>', 'config file naming state_dir (default: config/default.json)')
    .action(async (opts: KillOptions) => {
      const path = resolveConfigPath(opts.config);
      const config = await loadConfig(path);
      if (opts.signature !== undefined && !config.models.some((m) => m.signature === opts.signature)) {
        throw new InputError(
          `no model with signature ${JSON.stringify(opts.signature)} in ${path}; signatures: ${config.models.map((m) => m.signature).join(', ')}`,
        );
      }
      // The wall clock is read here, at the edge, for the `at` stamp.
      const ks = new KillSwitch(config.state_dir, () => Date.now());
      const before = ks.state();
      const after = opts.reset
        ? await ks.reset({ signature: opts.signature, reason: opts.reason })
        : await ks.activate({ signature: opts.signature, reason: opts.reason ?? 'manual stop (cli kill)' });
      const changed = JSON.stringify(before) !== JSON.stringify(after);
      const who = opts.signature ? ` for ${opts.signature}` : '';
      const did = opts.reset
        ? changed
          ? `kill switch reset${who}`
          : `kill switch: nothing to reset${who}`
        : changed
          ? `kill switch thrown${who || ' for all signatures'}`
          : `kill switch already on${who}`;
      const lines = [`${did}; now ${describe(after)}`, `state: ${ks.file}`];
      if (after.active) lines.push('a running engine cancels the open orders and refuses new ones until `kill --reset`');
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

/**
 * `explain <client-order-id> [--dir DIR | --config F] [--json]`: why an order exists:
 * the session, the model, the model's words and the tool call that asked for it,
 * what risk decided and how the order ended (src/actors/agents/llm/explain.ts).
 * DIR is a run's directory (a backtest's --out, or a paper/live state_dir).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, resolveConfigPath } from '../../config/load.js';
import { InputError } from '../../domain/errors.js';
import { MarketSchema } from '../../domain/markets.js';
import { explainOrder, formatExplanation } from '../../actors/agents/llm/explain.js';
import { levelTranscripts } from '../../actors/agents/llm/transcript.js';
import { openStore } from '../../actors/store/store.js';

interface ExplainOptions {
  readonly dir?: string;
  readonly config?: string;
  readonly market?: string;
  readonly json?: boolean;
}

/** The run directory and market from --dir/--market or the config's state_dir. */
export async function runDirOf(opts: { dir?: string; config?: string; market?: string }) {
  const market = (m: string) => {
    const parsed = MarketSchema.safeParse(m);
    if (!parsed.success) throw new InputError(`--market: expected cn or us, got ${JSON.stringify(m)}`);
    return parsed.data;
  };
  if (opts.dir !== undefined) return { dir: opts.dir, market: market(opts.market ?? 'cn') };
  const config = await loadConfig(resolveConfigPath(opts.config));
  return { dir: config.state_dir, market: opts.market ? market(opts.market) : config.market };
}

export function registerExplainCommand(program: Command): void {
  program
    .command('explain')
    .description("why an order exists: the LLM session, the model's reasoning and the tool call behind a client order id")
    .argument('<client-order-id>', 'e.g. gpt-5.20251020T0935.1')
    .option('--dir <dir>', "a run's directory: a backtest's --out, or a paper/live state_dir")
    .option('--config <file>', 'read state_dir and market from this config (default: config/default.json)')
    .option('--market <cn|us>', 'market of the run (how the id stamps instants); with --dir, default cn')
    .option('--json', 'print JSON')
    .action(async (cid: string, opts: ExplainOptions) => {
      const { dir, market } = await runDirOf(opts);
      const store = await openStore(join(dir, 'state'));
      try {
        const x = await explainOrder(cid, levelTranscripts(store), market, store);
        process.stdout.write(opts.json ? `${JSON.stringify(x, null, 2)}\n` : formatExplanation(x));
      } finally {
        await store.close();
      }
    });
}

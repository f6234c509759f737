/**
 * `explain <client-order-id> [--dir DIR | --config F] [--json]`: why an order exists:
 * the session, the model, the model's words and the tool call that asked for it,
 * what risk decided and how the order ended (src/actors/agents/llm/explain.ts).
 * DIR is a run's directory (a backtest's --out, or a paper/live state_dir).
 */
import type { Command } from 'commander';
import { loadConfig, resolveConfigPath } from '../../config/load.js';
import { InputError } from '../../domain/errors.js';
import { MarketSchema } from '../../domain/markets.js';
import { explainOrder, formatExplanation, type Explanation } from '../../actors/agents/llm/explain.js';
import { levelTranscripts } from '../../actors/agents/llm/transcript.js';
import { openRunStore } from '../run-dir.js';

interface ExplainOptions {
  readonly dir?: string;
  readonly config?: string;
  readonly market?: string;
  readonly server?: string;
  readonly json?: boolean;
}

/**
 * Ask a running process (its LevelDB is locked to us): GET <server>/api/explain/<cid>, with the
 * token of `server.token_env` when the environment has it.
 */
async function explainFromServer(server: string, cid: string, tokenEnv: string | undefined): Promise<Explanation> {
  const token = tokenEnv ? process.env[tokenEnv] : undefined;
  let res: Response;
  try {
    res = await fetch(`${server.replace(/\/+$/, '')}/api/explain/${encodeURIComponent(cid)}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  } catch (e) {
    throw new InputError(`cannot reach the running process at ${server}: ${(e as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as Explanation & { error?: string };
  if (res.status === 401) throw new InputError(`${server} wants its token: set ${tokenEnv ?? 'the variable server.token_env names'}`);
  if (!res.ok) throw new InputError(body.error ?? `${server} answered HTTP ${res.status}`);
  return body;
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
    .option('--server <url>', 'ask a running process instead (e.g. http://127.0.0.1:8765); default when its state is locked')
    .option('--json', 'print JSON')
    .action(async (cid: string, opts: ExplainOptions) => {
      const print = (x: Explanation): void => {
        process.stdout.write(opts.json ? `${JSON.stringify(x, null, 2)}\n` : formatExplanation(x));
      };
      const config = opts.dir === undefined ? await loadConfig(resolveConfigPath(opts.config)) : undefined;
      const serverOf = () => opts.server ?? (config ? `http://${config.server.host}:${config.server.port}` : undefined);
      if (opts.server) return print(await explainFromServer(opts.server, cid, config?.server.token_env));
      const { dir, market } = await runDirOf(opts);
      let store;
      try {
        store = await openRunStore(dir);
      } catch (err) {
        // The process that owns the state is running: it answers for itself.
        const server = serverOf();
        if (err instanceof InputError && /already in use/.test(err.message)) {
          if (server) return print(await explainFromServer(server, cid, config?.server.token_env));
          throw new InputError(err.message, ['ask the running process instead: explain <client-order-id> --server http://<host>:<port>']);
        }
        throw err;
      }
      try {
        print(await explainOrder(cid, levelTranscripts(store), market, store));
      } finally {
        await store.close();
      }
    });
}

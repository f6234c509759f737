/**
 * `config check --preflight` (and `run`, before anything starts): what a valid config still
 * needs from the machine to run. Every check runs and every problem is listed at once, one
 * line each, naming the key:
 * - env: each variable the config names (`*_env`) and the run would read is set and not
 *   empty (the value is never shown);
 * - files: each input file is there and readable; the bars are of the config's market and
 *   bar interval, and a backtest's date_range lies inside them; the benchmark is of the market;
 * - port: the server's port is free (paper/live; port 0 always is);
 * - broker: a live broker is one we can connect, and its base_url answers; live on Alpaca: real
 *   money is acknowledged in the environment (live-gate.ts), and `/v2/account` answers to the
 *   configured keys with an account that may trade (the keys go in headers only, never in a
 *   message).
 */
import { access, constants } from 'node:fs/promises';
import { createServer } from 'node:net';
import { relative } from 'node:path';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { readBarsFacts } from '../actors/market-data/bars-file-facts.js';
import { AlpacaOperationalError, AlpacaTemporaryError, AlpacaError } from '../actors/brokers/alpaca/errors.js';
import { AlpacaRest } from '../actors/brokers/alpaca/rest.js';
import { alpacaBaseUrl } from '../actors/brokers/alpaca/settings.js';
import { WireAccountSchema } from '../actors/brokers/alpaca/wire.js';
import { InputError } from '../domain/errors.js';
import { checkBarsFacts } from './bars-check.js';
import { LIVE_BROKERS, liveGateProblems } from './live-gate.js';
import type { VenueAdapter } from '../actors/brokers/venue-adapter.js';
import { venueAdapter } from '../runtime/account-brokers.js';
import { inputFiles, missingFiles } from './load.js';
import type { Config } from './schema.js';

export interface PreflightOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** How long the broker's base_url may take to answer; default 5 s. */
  readonly timeoutMs?: number;
  /** Runs the Alpaca client's deadline (virtual time in tests); default the real one. */
  readonly scheduler?: SchedulerLike;
}

interface Context {
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly scheduler: SchedulerLike;
}

const live = (c: Config) => c.mode !== 'backtest';

/** Paths shown relative to the working directory when inside it (as the user wrote them, mostly). */
function shown(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel === '' || rel.startsWith('..') ? p : rel;
}

// --- env ------------------------------------------------------------------------------

/**
 * Which parts of the config are read in which run: a backtest reads no quote source, no
 * broker, no server and sends no alerts; a disabled model is not started.
 */
const ENV_SECTIONS: Readonly<Record<string, (c: Config) => boolean>> = {
  data_source: live,
  broker: (c) => live(c) && c.broker.type !== 'simulated',
  server: (c) => live(c) && c.server.enabled,
  alerts: live,
};

/** Every `*_env` key under `value` with the variable it names, as [path, name]. */
function envKeys(value: unknown, path: string): [string, string][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => envKeys(v, `${path}[${i}]`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]): [string, string][] => {
    const at = path ? `${path}.${k}` : k;
    return k.endsWith('_env') && typeof v === 'string' ? [[at, v]] : envKeys(v, at);
  });
}

async function checkEnv(config: Config, ctx: Context): Promise<string[]> {
  const keys = Object.entries(config).flatMap(([section, value]) => {
    if (section === 'models') return config.models.flatMap((m, i) => (m.enabled ? envKeys(m, `models[${i}]`) : []));
    const applies = ENV_SECTIONS[section];
    return applies === undefined || applies(config) ? envKeys(value, section) : [];
  });
  return keys.flatMap(([key, name]) => {
    const value = ctx.env[name];
    if (value === undefined) return [`${key}: environment variable ${name} is not set`];
    if (value.trim() === '') return [`${key}: environment variable ${name} is empty`];
    return [];
  });
}

// --- files ----------------------------------------------------------------------------

async function checkFiles(config: Config): Promise<string[]> {
  const missing = await missingFiles(config);
  const present = inputFiles(config).filter(([key]) => !missing.some((m) => m.startsWith(`${key}:`)));
  const unreadable = await Promise.all(
    present.map(([key, file]) => access(file, constants.R_OK).then(() => [], () => [`${key}: not readable (permission denied): ${file}`])),
  );
  const readable = new Set(present.filter((_, i) => unreadable[i]!.length === 0).map(([key]) => key));
  const bars = readable.has('data_source.bars_file') ? await checkBars(config) : [];
  const benchmark = readable.has('data_source.benchmark_file') ? await checkBenchmark(config) : [];
  return [...missing, ...unreadable.flat(), ...bars, ...benchmark];
}

/** The facts of a file, or the loader's own words for why it cannot be read. */
async function factsOf(key: string, file: string) {
  try {
    return { facts: await readBarsFacts(file) };
  } catch (e) {
    if (e instanceof InputError) return { problem: `${key}: ${e.message}` };
    throw e;
  }
}

async function checkBars(config: Config): Promise<string[]> {
  const file = config.data_source.bars_file!;
  const read = await factsOf('data_source.bars_file', file);
  if (!read.facts) return [read.problem];
  const range = config.mode === 'backtest' ? config.date_range : undefined;
  const { problems } = checkBarsFacts({
    file: shown(file),
    facts: read.facts,
    market: { value: config.market, said: `market "${config.market}"` },
    frequency: { value: config.frequency, said: `frequency "${config.frequency}"` },
    ...(range?.from ? { from: { value: range.from, said: `date_range.from ${range.from}` } } : {}),
    ...(range?.to ? { to: { value: range.to, said: `date_range.to ${range.to}` } } : {}),
    ask: { market: 'market', frequency: 'frequency' },
  });
  return problems.map((p) => `data_source.bars_file: ${p}`);
}

async function checkBenchmark(config: Config): Promise<string[]> {
  const file = config.data_source.benchmark_file!;
  const read = await factsOf('data_source.benchmark_file', file);
  if (!read.facts) return [read.problem];
  // Only the market must match: a daily index may well benchmark hourly sessions.
  const { problems } = checkBarsFacts({
    file: shown(file),
    facts: read.facts,
    market: { value: config.market, said: `market "${config.market}"` },
    withFrequency: false,
    ask: { market: 'market', frequency: 'frequency' },
  });
  return problems.map((p) => `data_source.benchmark_file: ${p}`);
}

// --- port -----------------------------------------------------------------------------

const PORT_PROBLEMS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'is in use (another agent-trader process?); stop it, or set server.port (0 = any free port)',
  EACCES: 'needs privileges to listen on; use a port above 1023',
  EADDRNOTAVAIL: 'is not an address of this machine; check server.host',
  ENOTFOUND: 'is not a host name that resolves; check server.host',
};

async function checkPort(config: Config): Promise<string[]> {
  const { host, port } = config.server;
  if (port === 0) return [];
  const code = await new Promise<string | undefined>((done) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => done(undefined)));
  });
  if (code === undefined) return [];
  return [`server.port: ${host}:${port} ${PORT_PROBLEMS[code] ?? `cannot be listened on (${code})`}`];
}

// --- broker ---------------------------------------------------------------------------

const NETWORK_CAUSES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (no DNS?)',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

function causeOf(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return `no answer within ${timeoutMs / 1000} s`;
  const code = (e as { cause?: { code?: string } }).cause?.code;
  return (code && NETWORK_CAUSES[code]) ?? code ?? (e instanceof Error ? e.message : String(e));
}

async function checkBroker(config: Config, ctx: Context): Promise<string[]> {
  const { type, base_url: url } = config.broker;
  if (config.mode === 'live' && type === 'alpaca') return [...liveGateProblems(config, ctx.env), ...(await checkAlpacaAccount(config, ctx))];
  if (config.mode === 'live' && LIVE_BROKERS.has(type)) {
    const gate = liveGateProblems(config, ctx.env);
    return gate.length > 0 ? gate : checkVenueAccount(config, ctx);
  }
  const problems: string[] = [];
  // As the paper/live process says when it starts (src/paper-process.ts).
  if (config.mode === 'live' && !LIVE_BROKERS.has(type)) problems.push(`broker.type: ${type} is not connected yet; live trading needs a real broker adapter (paper mode runs on the simulated broker)`);
  if (url !== undefined) {
    try {
      // Any HTTP answer, even 401 or 404, means the broker is there.
      await fetch(url, { signal: AbortSignal.timeout(ctx.timeoutMs) }).then((res) => res.body?.cancel());
    } catch (e) {
      problems.push(`broker.base_url: cannot reach ${url}: ${causeOf(e, ctx.timeoutMs)}`);
    }
  }
  return problems;
}

/**
 * Live on Futu, the bridge or EastMoney: connect (log in, unlock) and read the account once,
 * through the adapter the run uses; nothing that could place or cancel is sent.
 */
async function checkVenueAccount(config: Config, ctx: Context): Promise<string[]> {
  let adapter: VenueAdapter | undefined;
  try {
    adapter = venueAdapter(config, { wall: ctx.scheduler, env: ctx.env });
    if (!adapter) return [];
    const a = adapter;
    let timer: { unsubscribe(): void } | undefined;
    const deadline = new Promise<never>((_, reject) => (timer = ctx.scheduler.schedule(() => reject(new Error(`no answer within ${ctx.timeoutMs / 1000} s`)), ctx.timeoutMs)));
    try {
      await Promise.race([a.connect().then(() => a.account()), deadline]);
    } finally {
      timer?.unsubscribe();
    }
    return [];
  } catch (e) {
    if (e instanceof InputError) return [e.message, ...e.problems];
    return [`broker: ${adapter?.name ?? config.broker.type} did not answer the account: ${e instanceof Error ? e.message : String(e)}`];
  } finally {
    adapter?.close();
  }
}

/**
 * Live on Alpaca: GET /v2/account with the configured keys, once (no retries: a preflight says
 * what is wrong now), through the client the broker uses. Missing keys are checkEnv's to name.
 */
async function checkAlpacaAccount(config: Config, ctx: Context): Promise<string[]> {
  const { api_key_env: keyEnv, api_secret_env: secretEnv } = config.broker;
  const keyId = keyEnv ? ctx.env[keyEnv]?.trim() : undefined;
  const secretKey = secretEnv ? ctx.env[secretEnv]?.trim() : undefined;
  if (!keyId || !secretKey) return [];
  const baseUrl = alpacaBaseUrl(config.broker);
  const where = `${baseUrl}/v2/account`;
  const rest = new AlpacaRest({ baseUrl, keyId, secretKey, scheduler: ctx.scheduler, timeoutMs: ctx.timeoutMs, retry: { maxRetries: 0 } });
  try {
    const account = await rest.once('GET', '/v2/account', WireAccountSchema);
    const problems: string[] = [];
    const which = `the Alpaca account ${account.account_number ?? account.id}`;
    if (account.status !== 'ACTIVE') problems.push(`broker: ${which} is ${account.status}, not ACTIVE: it cannot trade`);
    if (account.trading_blocked || account.account_blocked) problems.push(`broker: ${which} is blocked from trading (see the Alpaca dashboard)`);
    return problems;
  } catch (e) {
    const account = config.broker.paper ? 'paper' : 'live (real-money)';
    if (e instanceof AlpacaOperationalError) return [`broker.api_key_env: Alpaca refused the keys in ${keyEnv} and ${secretEnv} at ${where} (401); they must be the ${account} account's keys`];
    // The client's words without its prefix and its note for orders (a GET has no outcome to doubt).
    const why = (err: AlpacaError) => err.message.replace(/^Alpaca GET \/v2\/account: /, '').replace(/; the outcome is unknown$/, '');
    if (e instanceof AlpacaTemporaryError && e.status === undefined) return [`broker.base_url: cannot reach ${where}: ${why(e)}`];
    if (e instanceof AlpacaError) return [`broker.base_url: ${where} did not give the account: ${why(e)}`];
    return [`broker.base_url: ${where}: ${e instanceof Error ? e.message : String(e)}`];
  }
}

// ---------------------------------------------------------------------------------------

const CHECKS: readonly { readonly applies: (c: Config) => boolean; readonly run: (c: Config, ctx: Context) => Promise<string[]> }[] = [
  { applies: () => true, run: checkEnv },
  { applies: () => true, run: checkFiles },
  { applies: (c) => live(c) && c.server.enabled, run: checkPort },
  { applies: (c) => live(c) && c.broker.type !== 'simulated', run: checkBroker },
];

/** Every problem that would stop (or cripple) a run of `config` on this machine now; [] when none. */
export async function preflight(config: Config, options: PreflightOptions = {}): Promise<string[]> {
  const ctx: Context = { env: options.env ?? process.env, timeoutMs: options.timeoutMs ?? 5000, scheduler: options.scheduler ?? asyncScheduler };
  const results = await Promise.all(CHECKS.filter((c) => c.applies(config)).map((c) => c.run(config, ctx)));
  return results.flat();
}

/** The problems as one InputError (exit 2), for `run` and `config check --preflight`. */
export function preflightError(source: string, problems: readonly string[]): InputError {
  const n = problems.length;
  return new InputError(`${source} cannot run here: ${n} problem${n === 1 ? '' : 's'} (preflight)`, problems);
}

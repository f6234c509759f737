/**
 * `replay-server --bars FILE [--date D] [--speed N] [--port P] [--symbols A,B] [--market us|cn] ...`:
 * serve one trading day of an AI-Trader price file as a live Alpaca v2 WebSocket feed, time
 * compressed N times, announcing the replayed market time (src/server/replay-server.ts).
 *
 * Prints one JSON line once listening, `{"url":"ws://127.0.0.1:P/v2/replay","day":...,"speed":...,
 * "symbols":N,"market":...}`, for scripts; progress goes to stderr. Runs until SIGINT/SIGTERM (or
 * the end of the day with --exit-at-end), then closes its clients and exits 0. Bad flags exit 2.
 * Credentials, when wanted, come from environment variables, never from the command line
 * (which every user of the machine can read).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadPriceStore } from '../../actors/market-data/alpha-vantage-file.js';
import { InputError } from '../../domain/errors.js';
import { MarketSchema, type Market } from '../../domain/markets.js';
import { startReplayServer } from '../../server/replay-server.js';

interface ReplayServerCliOptions {
  readonly bars: string;
  readonly date?: string;
  readonly speed: string;
  readonly port: string;
  readonly host: string;
  readonly symbols?: string;
  readonly market?: Market;
  readonly keyEnv?: string;
  readonly secretEnv?: string;
  readonly leadMinutes: string;
  readonly waitForSubscriber?: boolean;
  readonly exitAtEnd?: boolean;
}

/** Not the run server's 8765 (`server.port`): a replay server and the `run` reading it must both listen. */
export const DEFAULT_REPLAY_PORT = 8766;

function positive(flag: string, text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InputError(`${flag} must be a positive number (${what}), got ${JSON.stringify(text)}`);
  return n;
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > 65_535) throw new InputError(`--port must be an integer from 0 to 65535 (0 = any free port), got ${JSON.stringify(text)}`);
  return n;
}

function parseSymbols(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new InputError(`--symbols needs at least one symbol, e.g. AAPL,MSFT; got ${JSON.stringify(text)}`);
  return [...new Set(list)];
}

/** `.SH`/`.SZ` symbols are A-shares, anything else US; a mix is refused. */
export function marketOfSymbols(symbols: readonly string[]): Market {
  const cn = symbols.filter((s) => /\.(SH|SZ)$/i.test(s));
  if (cn.length === symbols.length) return 'cn';
  if (cn.length === 0) return 'us';
  throw new InputError(`--symbols mixes A-shares (${cn.join(', ')}) with other symbols; replay one market at a time`);
}

function fromEnv(flag: string, name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new InputError(`${flag} ${name}: the environment variable ${name} is not set`);
  return value;
}

export function registerReplayServerCommand(program: Command): void {
  program
    .command('replay-server')
    .description('serve a day of historical bars as a live Alpaca v2 WebSocket feed, time compressed N x, announcing the market time')
    .requiredOption('--bars <file>', 'price file in AI-Trader merged.jsonl layout (e.g. data/sample/us_hourly.jsonl)')
    .option('--date <date>', 'trading day to replay, YYYY-MM-DD (default: the last full day of the file)')
    .option('--speed <n>', 'market seconds per wall second (60: a market hour per minute)', '60')
    .option('--port <port>', 'TCP port to listen on, 0 = any free port', String(DEFAULT_REPLAY_PORT))
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--symbols <list>', 'comma-separated symbols to replay (default: all of the file)')
    .addOption(program.createOption('--market <market>', 'cn or us (default: from the symbols or the file)').choices(MarketSchema.options))
    .option('--key-env <var>', 'require this API key, read from environment variable <var> (default: any key is accepted)')
    .option('--secret-env <var>', 'the secret to require, from environment variable <var> (with --key-env)')
    .option('--lead-minutes <m>', 'market minutes the clock starts before the open, so clients can subscribe', '5')
    .option('--wait-for-subscriber', 'hold the market clock until the first client subscribes')
    .option('--exit-at-end', 'exit once the day has been replayed (default: stay up, state closed)')
    .action(async (opts: ReplayServerCliOptions) => {
      const speed = positive('--speed', opts.speed, 'market seconds per wall second');
      const port = parsePort(opts.port);
      const lead = Number(opts.leadMinutes);
      if (opts.leadMinutes.trim() === '' || !Number.isFinite(lead) || lead < 0) {
        throw new InputError(`--lead-minutes must be a number >= 0, got ${JSON.stringify(opts.leadMinutes)}`);
      }
      const symbols = parseSymbols(opts.symbols);
      if ((opts.keyEnv === undefined) !== (opts.secretEnv === undefined)) throw new InputError('--key-env and --secret-env go together');
      const key = opts.keyEnv !== undefined ? fromEnv('--key-env', opts.keyEnv) : undefined;
      const secret = opts.secretEnv !== undefined ? fromEnv('--secret-env', opts.secretEnv) : undefined;
      const market = opts.market ?? (symbols ? marketOfSymbols(symbols) : undefined);
      const log = (line: string) => process.stderr.write(`replay-server: ${line}\n`);

      const prices = await loadPriceStore(resolve(opts.bars), { ...(market ? { market } : {}), ...(symbols ? { symbols } : {}) });
      const server = await startReplayServer({
        prices,
        speed,
        port,
        host: opts.host,
        leadMs: lead * 60_000,
        log,
        ...(opts.date !== undefined ? { date: opts.date } : {}),
        ...(symbols ? { symbols } : {}),
        ...(key !== undefined && secret !== undefined ? { key, secret } : {}),
        ...(opts.waitForSubscriber ? { waitForSubscriber: true } : {}),
        ...(opts.exitAtEnd ? { exitAtEnd: true } : {}),
      });
      process.stdout.write(`${JSON.stringify({ url: server.url, day: server.day, speed: server.speed, symbols: server.symbols.length, market: server.market })}\n`);

      let stop: ((signal: NodeJS.Signals) => void) | undefined;
      try {
        await new Promise<void>((done) => {
          stop = (signal) => {
            log(`${signal}: closing`);
            void server.close().then(done);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          if (opts.exitAtEnd) void server.done.then(() => server.close()).then(done);
        });
      } finally {
        if (stop) {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      }
    });
}

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { Quote } from '../../src/domain/quotes.js';
import { AlpacaQuoteStream } from '../../src/streams/alpaca-quotes.js';
import type { MarketTimeReading } from '../../src/streams/replay-clock.js';
import { ROOT, cli } from '../support/cli.js';

const US = 'data/sample/us_hourly.jsonl';

/** The CLI as a long-running child process; resolves with it and its first stdout line. */
async function startCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli/main.ts`, 'replay-server', ...args], { cwd: ROOT, env });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const nl = stdout.indexOf('\n');
      if (nl >= 0) resolve(stdout.slice(0, nl));
    });
    void exited.then((code) => reject(new Error(`replay-server exited ${code} before listening: ${stderr}`)));
  });
  return { child, line, exited, stderr: () => stderr };
}

const children: ChildProcessWithoutNullStreams[] = [];
const streams: AlpacaQuoteStream[] = [];
afterEach(async () => {
  await Promise.all(streams.splice(0).map((s) => s.close()));
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('agent-trader replay-server', () => {
  it('serves the bars file as an Alpaca v2 feed: the real client gets trades and the replayed market time; SIGTERM closes it', async () => {
    const server = await startCli(['--bars', US, '--port', '0', '--speed', '3600', '--symbols', 'AAPL,MSFT', '--wait-for-subscriber']);
    const info = JSON.parse(server.line) as { url: string; day: string; speed: number; symbols: number; market: string };
    expect(info).toEqual({ url: expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+\/v2\/replay$/), day: '2025-11-07', speed: 3600, symbols: 2, market: 'us' });

    const stream = new AlpacaQuoteStream({ url: info.url, key: 'demo', secret: 'demo', trades: ['AAPL'], name: 'replay' });
    streams.push(stream);
    const firstQuote = new Promise<Quote>((resolve) => stream.quotes.subscribe({ next: resolve, error: () => undefined })); // SIGTERM ends it with DISCONNECTED
    const readings: MarketTimeReading[] = [];
    stream.marketTime.subscribe((r) => readings.push(r));
    await stream.connect();
    // 10:00 New York (35 market minutes after the clock starts at 09:25, ~0.6 s at 3600x): AAPL's open.
    expect(await firstQuote).toEqual({ symbol: 'AAPL', price: '269.6698', atMs: Date.UTC(2025, 10, 7, 15, 0), source: 'alpaca' });
    expect(readings[0]).toEqual({ atMs: Date.UTC(2025, 10, 7, 14, 25), speed: 3600, day: '2025-11-07', state: 'pre', held: true });
    expect(readings.some((r) => r.state === 'open' && !r.held)).toBe(true);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toContain('replay-server: replaying 2025-11-07 (us, 2 symbols, 12 bars, 60 events) at 3600x');
    expect(server.stderr()).toContain('replay-server: client 1 subscribed: trades=AAPL bars=-');
    expect(server.stderr()).toContain('replay-server: SIGTERM: closing');
    expect(server.stderr()).not.toMatch(/demo/);
  });

  it('requires the configured key when --key-env/--secret-env are given', async () => {
    const env = { ...process.env, REPLAY_KEY: 'PKREPLAY', REPLAY_SECRET: 'replay-secret' };
    const server = await startCli(['--bars', US, '--port', '0', '--key-env', 'REPLAY_KEY', '--secret-env', 'REPLAY_SECRET'], env);
    const { url } = JSON.parse(server.line) as { url: string };
    const wrong = new AlpacaQuoteStream({ url, key: 'PKREPLAY', secret: 'guess', trades: ['AAPL'] });
    streams.push(wrong);
    wrong.quotes.subscribe({ error: () => undefined });
    await expect(wrong.connect()).rejects.toMatchObject({ code: 402 });
    const right = new AlpacaQuoteStream({ url, key: 'PKREPLAY', secret: 'replay-secret', trades: ['AAPL'] });
    streams.push(right);
    await right.connect();
    server.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).not.toMatch(/replay-secret/);
  });

  it('with --exit-at-end replays the whole day and exits 0', () => {
    const r = cli(['replay-server', '--bars', 'data/sample/cn_hourly.jsonl', '--port', '0', '--speed', '200000', '--date', '2025-10-09', '--exit-at-end']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ day: '2025-10-09', speed: 200000, symbols: 6, market: 'cn' });
    expect(r.stderr).toContain('replay-server: replay of 2025-10-09 finished: 96 trades, 24 bars');
  });

  it('exits 2 with a precise message on bad flags', async () => {
    const cases: [string[], string][] = [
      [['--speed', 'fast'], 'error: --speed must be a positive number (market seconds per wall second), got "fast"'],
      [['--port', '70000'], 'error: --port must be an integer from 0 to 65535 (0 = any free port), got "70000"'],
      [['--date', '2025-02-30'], 'error: invalid date "2025-02-30": expected YYYY-MM-DD'],
      [['--date', '2025-10-04'], 'error: no bars on 2025-10-04 (America/New_York); the price file covers 2025-10-01 .. 2025-11-10'],
      [['--symbols', 'AAPL,600519.SH'], 'error: --symbols mixes A-shares (600519.SH) with other symbols; replay one market at a time'],
      [['--market', 'eu'], "error: option '--market <market>' argument 'eu' is invalid. Allowed choices are cn, us."],
      [['--key-env', 'REPLAY_KEY'], 'error: --key-env and --secret-env go together'],
      [['--bars', 'nope.jsonl'], 'error: price file not found'],
    ];
    // In parallel: each is a process start.
    const results = await Promise.all(cases.map(([args]) => cliAsync(['replay-server', '--bars', US, '--port', '0', ...args])));
    results.forEach((r, i) => {
      expect(r.stderr, cases[i]![0].join(' ')).toContain(cases[i]![1]);
      expect(r.code, cases[i]![0].join(' ')).toBe(2);
    });
    const noBars = cli(['replay-server', '--port', '0']);
    expect(noBars.code).toBe(2);
    expect(noBars.stderr).toContain("required option '--bars <file>' not specified");
  }, 60_000);
});

/** `cli()` without blocking, so several can run at once. */
function cliAsync(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli/main.ts`, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

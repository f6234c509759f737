/**
 * `run` in paper mode as a real process on quote sources other than the built-in replay: a
 * replay server of its own process (`replay-server`, at `data_source.replay_url`) that ends
 * its day, closes mid-day, or outlives a SIGTERM of the run; and an A-share run whose HTTP
 * source refuses every connection (no network). The processes run on
 * the wall clock; the tests wait for its output, its HTTP answers and its exit, never for a
 * length of time.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReportSchema } from '../../src/report/types.js';
import { ROOT, spawnCli } from '../support/cli.js';
import { HttpTestServer } from '../streams/cn-quotes/helpers.js';

const dirs: string[] = [];
/** Processes a failed test may leave running. */
const procs: ReturnType<typeof spawnCli>[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function writeConfig(config: Record<string, unknown>): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-run-sources-'));
  dirs.push(dir);
  const file = join(dir, 'paper.json');
  await writeFile(file, JSON.stringify({ server: { port: 0 }, state_dir: join(dir, 'state'), ...config }));
  return { dir, file };
}

describe('run: A-share paper with no network', () => {
  it('starts instead of dying, says quotes are missing on /health and the dashboard state, and stops on SIGTERM with its report', async () => {
    const probe = await HttpTestServer.start();
    const refused = probe.url;
    await probe.close(); // nothing listens there now: every connection is refused
    const { dir, file } = await writeConfig({
      mode: 'paper',
      market: 'cn',
      frequency: 'hourly',
      data_source: { type: 'sina', fallback: ['tencent'], symbols: ['600519.SH'], bars_file: join(ROOT, 'data/sample/cn_hourly.jsonl'), source_urls: { sina: refused, tencent: refused } },
      models: [{ name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }],
      monitor: { check_interval_seconds: 1 },
    });
    const p = spawnCli(['run', '--config', file]);
    procs.push(p);
    try {
      await p.until(/^quotes missing: no quote source answered the first poll: .*ECONNREFUSED.*; polling goes on with back-off \(next poll \S+\)$/m);
      const [, url] = await p.until(/ {2}health {5}(http:\/\/\S+)\/health/);
      await p.until(/^alert warning QUOTE_SOURCE_DOWN: quotes are missing: failover:sina has not answered for \d+ s/m);
      const health = await fetch(`${url}/health`);
      const body = (await health.json()) as { status: string; clock: Record<string, unknown>; quotes: Record<string, unknown> };
      expect(health.status).toBe(503);
      expect(body).toMatchObject({ status: 'degraded', clock: { running: true, nextSessionAt: expect.any(String) }, quotes: { missing: true, connected: false, lastError: expect.stringContaining('ECONNREFUSED'), nextPollAt: expect.any(String) } });
      const state = (await (await fetch(`${url}/api/state`)).json()) as Record<string, unknown>;
      expect(state).toMatchObject({ quotes: { source: 'failover:sina', missing: true }, nextSessionAt: body.clock['nextSessionAt'] });
    } finally {
      p.child.kill('SIGTERM');
    }
    expect(await p.exit, p.err()).toBe(0);
    expect(p.err()).not.toMatch(/\n\s+at /); // no stack trace
    expect(p.out()).toContain('stopping: SIGTERM');
    ReportSchema.parse(JSON.parse(await readFile(join(dir, 'state', 'report.json'), 'utf8')));
  }, 60_000);
});

describe('run: paper on an external replay server (data_source.replay_url)', () => {
  const SAMPLE = join(ROOT, 'data/sample/us_hourly.jsonl');
  /** A replay-server process and a run reading it. */
  async function startBoth(speed: number, serverFlags: string[] = []) {
    const server = spawnCli(['replay-server', '--bars', SAMPLE, '--speed', String(speed), '--port', '0', '--wait-for-subscriber', ...serverFlags]);
    const [line] = await server.until(/^\{.*\}$/m);
    const { url } = JSON.parse(line) as { url: string };
    const { dir, file } = await writeConfig({
      mode: 'paper',
      market: 'us',
      frequency: 'hourly',
      data_source: { type: 'replay', replay_url: url, bars_file: SAMPLE, stale_quote_seconds: 1800 },
      risk_control: { min_cash_reserve: 1000 },
      models: [{ name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }],
      agent_config: { initial_cash: 10000 },
    });
    const run = spawnCli(['run', '--config', file]);
    procs.push(server, run);
    return { server, run, dir };
  }
  const reportOf = async (dir: string) => ReportSchema.parse(JSON.parse(await readFile(join(dir, 'state', 'report.json'), 'utf8')));

  it('ends with the replayed day, as the built-in replay does: the day report and the run report', async () => {
    const { server, run, dir } = await startBoth(2_500, ['--exit-at-end']);
    try {
      expect(await run.exit, run.err()).toBe(0);
    } finally {
      server.child.kill('SIGTERM');
    }
    const out = run.out();
    expect(out).toContain('  the replayed day ends the run; Ctrl-C stops it early');
    expect(out.match(/^tick 2025-11-07 \d\d:05 EST/gm)).toHaveLength(6);
    expect(out).toContain('stopping: the replayed day is over');
    expect(out).toMatch(/^daily report written to .*reports\/us-2025-11-07\.txt$/m);
    expect(out).toMatch(/^paper us hourly 2025-11-07 \.\. 2025-11-07, rules strict, 6 sessions/m);
    expect((await reportOf(dir)).run).toMatchObject({ mode: 'paper', sessions: 6 });
    expect(await server.exit).toBe(0);
  }, 60_000);

  it('ends when the replay server closes its feed mid-day, with the report so far', async () => {
    const { server, run, dir } = await startBoth(600); // a market hour in 6 wall seconds
    try {
      await run.until(/^ {2}ew: completed/m); // the 10:05 session
      server.child.kill('SIGTERM'); // the replay server shuts down: it closes its clients (1001)
      expect(await run.exit, run.err()).toBe(0);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(run.out()).toContain('stopping: the replay server closed its feed');
    expect(run.out()).not.toContain('tick 2025-11-07 15:05'); // not the rest of the day on a clock of its own
    const report = await reportOf(dir);
    expect(report.run.sessions).toBeGreaterThan(0);
    expect(report.run.sessions).toBeLessThan(6);
    expect(report.signatures['ew']!.fills).toBeGreaterThan(0);
  }, 60_000);

  it('stops cleanly on SIGTERM while the replay goes on: exit 0 and the report', async () => {
    const { server, run, dir } = await startBoth(600);
    try {
      await run.until(/^ {2}ew: completed/m);
      run.child.kill('SIGTERM');
      expect(await run.exit, run.err()).toBe(0);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(run.out()).toContain('stopping: SIGTERM');
    expect(run.out()).toMatch(/^paper us hourly 2025-11-07 \.\. 2025-11-07, rules strict, [1-5] sessions?/m);
    expect((await reportOf(dir)).signatures['ew']!.fills).toBeGreaterThan(0);
  }, 60_000);
});

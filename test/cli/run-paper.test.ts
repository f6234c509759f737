/**
 * `run` (npm start) in paper mode as a real process: the built-in replay of a day at high
 * speed to its end and report; and a clean stop on SIGINT while it runs. The process runs
 * on the wall clock (it is the real thing); the tests wait for its output and its exit,
 * never for a length of time.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/actors/store/store.js';
import { ReportSchema } from '../../src/report/types.js';
import { ROOT, spawnCli } from '../support/cli.js';

const SAMPLE = join(ROOT, 'data/sample/us_hourly.jsonl');
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function paperConfig(speed: number, extra: Record<string, unknown> = {}): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-run-paper-'));
  dirs.push(dir);
  const file = join(dir, 'paper.json');
  await writeFile(
    file,
    JSON.stringify({
      mode: 'paper',
      market: 'us',
      frequency: 'hourly',
      schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'] },
      data_source: { type: 'replay', bars_file: SAMPLE, replay_speed: speed, stale_quote_seconds: 1800 },
      risk_control: { min_cash_reserve: 1000 },
      models: [
        { name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
        { name: 'Mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
      ],
      agent_config: { initial_cash: 10000 },
      server: { port: 0 },
      log: { file: join(dir, 'log.jsonl') },
      state_dir: join(dir, 'state'),
      ...extra,
    }),
  );
  return { dir, file };
}

describe('run: paper on the built-in replay', () => {
  it('trades the replayed day, prints where to watch, and ends with the day report', async () => {
    // A real webhook receiver for the alert channel.
    const received: { headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(body) as Record<string, unknown> });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    // 2,500x: the day in ~10 s, a market hour in 1.4 s of wall time, ample for a session on a busy
    // machine (at 50,000x a slow first session can still run when the next tick comes: PREVIOUS_SESSION_RUNNING).
    const { dir, file } = await paperConfig(2_500, { alerts: { channels: [{ type: 'webhook', url: hookUrl, min_level: 'info' }] } });
    const p = spawnCli(['run', '--config', file]);
    expect(await p.exit, p.err()).toBe(0);
    await new Promise<void>((r) => hook.close(() => r()));
    // The daily report reached the webhook before the process exited.
    const daily = received.find((r) => r.body['code'] === 'DAILY_REPORT');
    expect(daily?.body).toMatchObject({ level: 'info', message: expect.stringMatching(/^Daily report us 2025-11-07 \(equity marked at 2025-11-07 \d\d:\d\d EST\)\n- ew: equity /) });
    // Sent once.
    expect(received.filter((r) => r.body['code'] === 'DAILY_REPORT')).toHaveLength(1);
    expect(daily?.headers['content-type']).toMatch(/^application\/json/);
    const out = p.out();
    expect(out).toMatch(/^paper run \(paper, us hourly\): built-in replay of 2025-11-07 \(6 symbols\) at 2500x/m);
    expect(out).toMatch(/ {2}dashboard {2}http:\/\/127\.0\.0\.1:\d+\//);
    expect(out).toMatch(/ {2}feed {7}ws:\/\/127\.0\.0\.1:\d+\/feed/);
    expect(out, out).toContain('tick 2025-11-07 15:05 EST: 2 sessions');
    expect(out).toContain('stopping: the replayed day is over');
    expect(out).toMatch(/^daily report written to .*reports\/us-2025-11-07\.txt$/m);
    expect(out).toMatch(/^paper us hourly 2025-11-07 \.\. 2025-11-07, rules strict, 6 sessions/m);
    const [run] = await readdir(join(dir, 'state', 'runs'));
    expect(run).toMatch(/^paper-\d{8}T\d{6}$/);
    const report = ReportSchema.parse(JSON.parse(await readFile(join(dir, 'state', 'runs', run!, 'report.json'), 'utf8')));
    expect(report.run).toMatchObject({ mode: 'paper', from: '2025-11-07', to: '2025-11-07', sessions: 6 });
    expect(report.signatures['ew']!.fills).toBeGreaterThan(0);
    // Structured log: one JSON line per event, with its correlation ids.
    const lines = (await readFile(join(dir, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const fill = lines.find((l) => l['event'] === 'fill');
    expect(fill).toMatchObject({ level: 'info', mode: 'paper', signature: expect.any(String), clientOrderId: expect.stringMatching(/^(ew|mom)\.20251107T\d{4}\.\d+$/) });
    expect(lines.filter((l) => l['event'] === 'tick')).toHaveLength(6);
  });

  it('stops cleanly on SIGINT: exit 0, the report so far, the store closed', async () => {
    const { dir, file } = await paperConfig(1); // the day would take 6.5 hours
    const p = spawnCli(['run', '--config', file]);
    const [, url] = await p.until(/ {2}health {5}(http:\/\/\S+)\/health/);
    const health = await fetch(`${url}/health`);
    const body = (await health.json()) as { mode?: string; clock?: { running: boolean }; quotes?: { source: string } };
    expect(body).toMatchObject({ mode: 'paper', clock: { running: true }, quotes: { source: 'replay' } });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^agent_trader_up 1$/m);
    expect(metrics).toMatch(/^agent_trader_cash\{signature="ew",currency="USD"\} 10000$/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total /m);
    p.child.kill('SIGINT');
    expect(await p.exit, p.err()).toBe(0);
    expect(p.out()).toContain('stopping: SIGINT');
    expect(p.out()).toMatch(/^paper us hourly /m);
    const [run] = await readdir(join(dir, 'state', 'runs'));
    const store = await openStore(join(dir, 'state', 'runs', run!, 'state')); // the lock was released
    expect(await store.loadSnapshot('engine')).toBeDefined();
    await store.close();
  });
});

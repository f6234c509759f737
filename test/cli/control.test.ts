/**
 * The CLI's control commands against a REAL running process: `run` in paper mode on the built-in
 * replay (speed 1, so no session runs while the test talks to it: nothing moves under it), then
 * status / positions / orders / pause / resume / flatten / reload over HTTP, as a user's shell
 * would; and exit 2 once nothing runs there. Waits for the process's output and exit only.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/actors/store/store.js';
import { cliAsync, ROOT, spawnCli } from '../support/cli.js';

const SAMPLE = join(ROOT, 'data/sample/us_hourly.jsonl');
const dirs: string[] = [];
const children: ReturnType<typeof spawnCli>[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function configOf(dir: string, patch: Record<string, unknown> = {}) {
  return {
    mode: 'paper',
    market: 'us',
    frequency: 'hourly',
    schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'] },
    data_source: { type: 'replay', bars_file: SAMPLE, replay_speed: 1, stale_quote_seconds: 1800 },
    risk_control: { min_cash_reserve: 1000 },
    models: [
      { name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
      { name: 'Mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
    ],
    agent_config: { initial_cash: 10000 },
    server: { port: 0 },
    state_dir: join(dir, 'state'),
    ...patch,
  };
}

describe('status, pause, resume, flatten, reload: the CLI steering a running process', () => {
  it('talks to `run` over HTTP, every command journalled as cli/loopback; exit 2 once no process runs there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-cli-control-'));
    dirs.push(dir);
    const file = join(dir, 'paper.json');
    await writeFile(file, JSON.stringify(configOf(dir)));
    const p = spawnCli(['run', '--config', file]);
    children.push(p);
    const [, url] = await p.until(/ {2}health {5}(http:\/\/\S+)\/health/);
    const at = ['--url', url!];

    const [statusJson, statusText, positions, orders] = await Promise.all([
      cliAsync(['status', ...at, '--json']),
      cliAsync(['status', ...at]),
      cliAsync(['positions', ...at]),
      cliAsync(['orders', ...at, '--json']),
    ]);
    expect(statusJson.stderr).toBe('');
    expect(statusJson.code).toBe(0);
    const status = JSON.parse(statusJson.stdout) as { ok: boolean; by: string; zone: string; next_session: { at: string; zone: string }; agents: { signature: string; paused: boolean; session: { state: string }; cash: string }[] };
    expect(status).toMatchObject({ ok: true, by: 'cli/loopback', zone: 'America/New_York', next_session: { at: '2025-11-07T10:05:00.000-05:00', zone: 'America/New_York' } });
    expect(status.agents.map((a) => [a.signature, a.paused, a.session.state, a.cash])).toEqual([
      ['ew', false, 'idle', '10000.00'],
      ['mom', false, 'idle', '10000.00'],
    ]);
    expect(statusText.code).toBe(0);
    expect(statusText.stdout).toMatch(/^paper us at 2025-11-07T\S+ \(America\/New_York\); next session 2025-11-07T10:05:00\.000-05:00; kill switch off\n/);
    expect(statusText.stdout).toMatch(/^ew: {2}idle {2}next 2025-11-07T10:05:00\.000-05:00 {2}equity 10000\.00 USD {2}cash 10000\.00 {2}today \+0\.00 \(\+0\.00%\) {2}0 positions {2}0 open orders$/m);
    expect(positions).toMatchObject({ code: 0, stdout: 'no positions\n' });
    expect(JSON.parse(orders.stdout)).toMatchObject({ ok: true, date: '2025-11-07', open: [], today: [] });

    const pause = await cliAsync(['pause', 'ew', ...at]);
    expect(pause).toMatchObject({ code: 0, stdout: 'ew paused: no new session until `resume ew`; open orders stay\n' });
    expect(JSON.parse(await readFile(join(dir, 'state', 'paused.json'), 'utf8'))).toMatchObject({ paused: { ew: { by: 'cli/loopback' } } });
    const [pausedStatus, pauseAgain, unknown] = await Promise.all([cliAsync(['status', ...at, '--json']), cliAsync(['pause', 'ew', ...at]), cliAsync(['pause', 'nobody', ...at])]);
    expect((JSON.parse(pausedStatus.stdout) as typeof status).agents.map((a) => a.paused)).toEqual([true, false]);
    expect(pauseAgain.stdout).toContain('ew was already paused');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('error: no agent with signature "nobody"; signatures: ew, mom\n');
    const resume = await cliAsync(['resume', 'ew', ...at]);
    expect(resume).toMatchObject({ code: 0, stdout: 'ew resumed; next session 2025-11-07T10:05:00.000-05:00\n' });
    const flatten = await cliAsync(['flatten', 'ew', ...at]);
    expect(flatten).toMatchObject({ code: 0, stdout: 'ew holds nothing\n' });
    const flattenOne = await cliAsync(['flatten', 'ew', 'AAPL', ...at]);
    expect(flattenOne.code).toBe(2);
    expect(flattenOne.stdout).toBe('not sold AAPL: NOT_HELD: no AAPL is held\n');
    expect(flattenOne.stderr).toContain('error: flatten ew: nothing sold');

    // Reload: a risk limit is taken, a renamed signature is refused naming the field.
    await writeFile(file, JSON.stringify(configOf(dir, { risk_control: { min_cash_reserve: 2000 } })));
    const reload = await cliAsync(['reload', ...at]);
    expect(reload.stderr).toBe('');
    expect(reload).toMatchObject({ code: 0, stdout: 'reload accepted: risk_control.min_cash_reserve; alert channels now; risk limits and agents at the next session\n' });
    const renamed = configOf(dir);
    renamed.models = [renamed.models[0]!, { ...renamed.models[1]!, signature: 'momentum' }];
    await writeFile(file, JSON.stringify(renamed));
    const refused = await cliAsync(['reload', ...at]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: reload refused: models\[\]\.signature: the signatures are the accounts/);

    // A wrong token is said so, never shown.
    const wrong = await cliAsync(['status', ...at, '--token-env', 'CTL_TEST_TOKEN'], { env: { ...process.env, CTL_TEST_TOKEN: 's3cret-wrong' } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toBe(`error: ${url} wants its token: set CTL_TEST_TOKEN (the one given was refused)\n`);

    p.child.kill('SIGINT');
    expect(await p.exit, p.err()).toBe(0);
    const gone = await cliAsync(['status', ...at]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toBe(`error: no agent-trader process is answering at ${url} (connection refused): start one with \`agent-trader run --config FILE\`, or pass --url\n`);

    const [run] = await readdir(join(dir, 'state', 'runs'));
    const store = await openStore(join(dir, 'state', 'runs', run!, 'state'));
    const journal: Record<string, unknown>[] = [];
    for await (const { entry } of store.readJournal<Record<string, unknown>>()) if (entry['source'] === 'control') journal.push(entry);
    await store.close();
    const commands = journal.map((j) => `${String(j['command'])} ${String(j['ok'])}`);
    expect(commands.filter((c) => c.startsWith('pause')).sort()).toEqual(['pause false', 'pause true', 'pause true']); // two of them ran side by side
    expect(commands.filter((c) => !c.startsWith('status') && !c.startsWith('pause') && !c.startsWith('positions') && !c.startsWith('orders'))).toEqual(['resume true', 'flatten true', 'flatten true', 'reload true', 'reload false']);
    expect(new Set(journal.map((j) => j['by']))).toEqual(new Set(['cli/loopback']));
    // When: the run's clock (the replayed day), not the wall.
    expect(journal.every((j) => String(j['at']).startsWith('2025-11-07T'))).toBe(true);
  }, 120_000);

  it('exit 2 when nothing runs at the config\'s address', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-cli-control-'));
    dirs.push(dir);
    const file = join(dir, 'paper.json');
    // A port nothing listens on: a server just closed frees one.
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    await writeFile(file, JSON.stringify(configOf(dir, { server: { port } })));
    const r = await cliAsync(['pause', 'ew', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: no agent-trader process is answering at http://127.0.0.1:${port} (connection refused): start one with \`agent-trader run --config FILE\`, or pass --url\n`);
  });
});

/**
 * Drill: a backtest killed with SIGKILL at chosen moments (as each tenth of its sessions
 * is reported, the kill landing wherever the process then is: mid-session, mid-commit,
 * between a fill and its ledger write) and started again on the same --out, until it
 * finishes. Its report.json and every position.jsonl must be byte-identical to the
 * uninterrupted run of the same inputs: a backtest is a pure function of them.
 * Real processes of the CLI, as a user runs them; no timers: kills follow the output.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliAsync, ROOT } from '../support/cli.js';

// Fixed so that two runs stamp the same `generated_at`.
const ENV = { ...process.env, SOURCE_DATE_EPOCH: '1764633600' };
const SIGNATURES = ['rules-equal-weight', 'rules-momentum'];

async function drillConfig(dir: string): Promise<string> {
  const file = join(dir, 'config.json');
  await writeFile(
    file,
    JSON.stringify({
      mode: 'backtest',
      market: 'us',
      frequency: 'hourly',
      data_source: { type: 'file', bars_file: join(ROOT, 'data/sample/us_hourly.jsonl') },
      broker: { type: 'simulated', rules: 'strict', max_volume_share: 0.5 },
      // Stop-losses and queued orders make the kill land in more kinds of step.
      risk_control: { min_cash_reserve: 500, enable_stop_loss: true, stop_loss_ratio: 0.01 },
      models: [
        { name: 'Equal weight', signature: SIGNATURES[0], agent: { kind: 'rules', strategy: 'equal_weight', params: { rebalance_threshold: 0.01 } } },
        { name: 'Momentum', signature: SIGNATURES[1], agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 3, top_n: 4 } } },
      ],
      agent_config: { initial_cash: 10000 },
      state_dir: join(dir, 'state-dir'),
    }),
  );
  return file;
}

/** Start the backtest; SIGKILL it as soon as its stderr shows `stopAt` sessions done. Resolves to its exit. */
function runUntil(args: readonly string[], stopAt: number | undefined, env: NodeJS.ProcessEnv = ENV): Promise<{ killed: boolean; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli/main.ts`, ...args], { cwd: ROOT, env });
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const done = [...stderr.matchAll(/ (\d+)\/(\d+)/g)].map((m) => Number(m[1]));
      if (!killed && stopAt !== undefined && done.some((n) => n >= stopAt)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stdout.resume();
    child.on('close', (code, signal) => resolve({ killed, code, signal, stderr }));
  });
}

async function outputs(out: string): Promise<Record<string, string>> {
  const files: Record<string, string> = { 'report.json': await readFile(join(out, 'report.json'), 'utf8') };
  for (const s of SIGNATURES) files[`${s}/position.jsonl`] = await readFile(join(out, s, 'position.jsonl'), 'utf8');
  return files;
}

/**
 * Where the failpoint kills (src/runtime/failpoint.ts): while each kind of message is being
 * handled, before its changes are committed, and right after a commit, before its effects.
 * The n-th occurrence counts in the process that is killed (each restart counts anew).
 */
const FAILPOINTS = [
  'clock.tick:2', 'agent.decide:3', 'risk.check:5', 'risk.approved:4', 'broker.submit:6', 'broker.accepted:3', 'broker.fill:2',
  'ledger.applyFill:7', 'order.finished:5', 'ledger.recordSession:3', 'ledger.recorded:4', 'session.finished:2', 'commit:25', 'commit:3', 'broker.fill:9',
];

let straight: { dir: string; config: string; stderr: string; expected: Record<string, string> } | undefined;
/** The uninterrupted run, made once for the drills that compare with it. */
async function uninterrupted() {
  if (straight) return straight;
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-drill-'));
  const config = await drillConfig(dir);
  const whole = await cliAsync(['backtest', '--config', config, '--out', join(dir, 'straight')], { env: ENV });
  expect(whole.code, whole.stderr).toBe(0);
  straight = { dir, config, stderr: whole.stderr, expected: await outputs(join(dir, 'straight')) };
  return straight;
}

describe('drill: SIGKILL a backtest and start it again', () => {
  it('killed at each kind of message and after a commit, it ends byte-identical to the uninterrupted run', { timeout: 400_000 }, async () => {
    const { dir, config, expected } = await uninterrupted();
    const out = join(dir, 'failpoints');
    const args = ['backtest', '--config', config, '--out', out];
    let kills = 0;
    for (const fp of FAILPOINTS) {
      const r = await runUntil(args, undefined, { ...ENV, AGENT_TRADER_FAILPOINT: fp });
      if (r.signal === 'SIGKILL') kills++;
      else expect(r.code, `${fp}: ${r.stderr}`).toBe(0);
    }
    expect(kills).toBeGreaterThanOrEqual(FAILPOINTS.length - 2);
    const last = await runUntil(args, undefined);
    expect(last.code, last.stderr).toBe(0);
    expect(await outputs(out)).toEqual(expected);
  });

  it('killed at moments of its own choosing (as it reports progress), it ends byte-identical too', { timeout: 300_000 }, async () => {
    const { dir, config, stderr, expected } = await uninterrupted();
    const whole = { stderr };
    const report = JSON.parse(expected['report.json']!) as { signatures: Record<string, { orders?: number; fills?: number }> };
    // The run does trade (else the drill proves nothing).
    expect(expected[`${SIGNATURES[0]}/position.jsonl`]!.split('\n').length).toBeGreaterThan(20);
    // Each record is the positions after its action: none may show cash or shares below zero
    // (stop-loss sells written after the buys they paid for did, 17 and 56 records of this run).
    for (const s of SIGNATURES) {
      const records = expected[`${s}/position.jsonl`]!.trim().split('\n').map((l) => JSON.parse(l) as { id: number; positions: Record<string, number> });
      expect(records.filter((r) => Object.values(r.positions).some((v) => v < 0)).map((r) => r.id), s).toEqual([]);
    }
    expect(Object.keys(report.signatures)).toEqual(SIGNATURES);

    const killed = join(dir, 'killed');
    const args = ['backtest', '--config', config, '--out', killed];
    // Total sessions from the uninterrupted run's progress (e.g. "100% 174/174").
    const total = Number(/(\d+)\/(\d+)/.exec(whole.stderr)![2]);
    let kills = 0;
    for (const share of [0.2, 0.5, 0.8]) {
      const r = await runUntil(args, Math.ceil(total * share));
      if (r.killed) kills++;
      else expect(r.code, r.stderr).toBe(0);
    }
    const last = await runUntil(args, undefined);
    expect(last.code, last.stderr).toBe(0);
    expect(kills).toBeGreaterThanOrEqual(2);
    expect(await outputs(killed)).toEqual(expected);
  });

  it('extended with a later --to, killed during the first run and during the extension, it ends byte-identical too', { timeout: 300_000 }, async () => {
    const { dir, config, expected } = await uninterrupted();
    const out = join(dir, 'extended');
    const args = ['backtest', '--config', config, '--out', out];
    const steps: [string[], string | undefined][] = [
      [['--to', '2025-10-15'], 'commit:3'], // the first commit of a fresh run is done, its effects not
      [['--to', '2025-10-15'], undefined],
      [[], 'commit:1'], // the extension's first commit (its manifest's new end)
      [[], 'broker.fill:2'],
      [[], undefined],
    ];
    for (const [extra, fp] of steps) {
      const r = await runUntil([...args, ...extra], undefined, fp ? { ...ENV, AGENT_TRADER_FAILPOINT: fp } : ENV);
      if (fp) expect(r.signal, `${fp}: ${r.stderr}`).toBe('SIGKILL');
      else expect(r.code, r.stderr).toBe(0);
    }
    expect(await outputs(out)).toEqual(expected);
  });

  it('refuses to resume with other inputs (exit 2, says what differs), and --force-new starts over', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-drill-'));
    const config = await drillConfig(dir);
    const out = join(dir, 'out');
    const first = await cliAsync(['backtest', '--config', config, '--out', out, '--to', '2025-10-03'], { env: ENV });
    expect(first.code, first.stderr).toBe(0);
    const other = await cliAsync(['backtest', '--config', config, '--out', out, '--cash', '50000'], { env: ENV });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`cannot resume the run in ${out}: the config`);
    expect(other.stderr).toContain('--force-new');
    const earlier = await cliAsync(['backtest', '--config', config, '--out', out, '--to', '2025-10-02'], { env: ENV });
    expect(earlier.code).toBe(2);
    expect(earlier.stderr).toContain('stops earlier');
    const fresh = await cliAsync(['backtest', '--config', config, '--out', out, '--cash', '50000', '--force-new'], { env: ENV });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).not.toContain('resumed:');
    const log = (await readFile(join(out, SIGNATURES[0]!, 'position.jsonl'), 'utf8')).split('\n');
    expect(JSON.parse(log[0]!)).toMatchObject({ positions: { CASH: 50000 } });
  });
});

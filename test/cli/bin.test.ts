/**
 * The `agent-trader` bin, run the ways a user scripts it: through the symlink npm makes in
 * node_modules/.bin, through `npx`, in a shell pipe whose reader stops early, and the old
 * `npm run cli --` still working. The bin runs the compiled build (dist/), built here first
 * when it is missing or stale; its tsx fallback is tested in bin-dist.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/build.js';
import { ROOT } from '../support/cli.js';

const BIN = join(ROOT, 'bin', 'agent-trader.js');
let version: string;
/** A project that depends on agent-trader, laid out as npm lays it out: the bin is a symlink. */
let linkedBin: string;

beforeAll(async () => {
  ensureBuilt();
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
  version = pkg.version;
  expect(pkg.bin).toEqual({ 'agent-trader': 'bin/agent-trader.js' });
  const project = await mkdtemp(join(tmpdir(), 'agent-trader-bin-'));
  await mkdir(join(project, 'node_modules', '.bin'), { recursive: true });
  await symlink(ROOT, join(project, 'node_modules', 'agent-trader'), 'dir');
  linkedBin = join(project, 'node_modules', '.bin', 'agent-trader');
  await symlink('../agent-trader/bin/agent-trader.js', linkedBin);
});

const run = (file: string, args: readonly string[], cwd = ROOT) => spawnSync(file, args, { cwd, encoding: 'utf8' });

describe('the agent-trader bin', () => {
  it('runs the compiled build: help and a config check of the bundled config, nothing on stderr', () => {
    // The tsx fallback always says so on stderr: an empty stderr is the build answering.
    const help = run(BIN, ['--help']);
    expect(help.stderr).toBe('');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: agent-trader \[options\] \[command\]\n/);
    for (const command of ['run', 'backtest', 'config', 'calendar', 'report']) expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    const check = run(BIN, ['config', 'check', 'config/default.json']);
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(check.stdout).toBe('ok: config/default.json — paper us hourly, 2 models (rules-equal-weight, rules-momentum), broker simulated/strict, state_dir state\n');
  });

  it('runs through the node_modules/.bin symlink, from any directory', () => {
    const v = run(linkedBin, ['--version'], tmpdir());
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(v.stdout).toBe(`${version}\n`);
    const r = run(linkedBin, ['calendar', '--market', 'us', '--from', '2025-11-28', '--to', '2025-11-28', '--json'], tmpdir());
    expect(r.status, r.stderr).toBe(0);
    // Nothing but the JSON on stdout: a script can parse it as is.
    expect(JSON.parse(r.stdout)).toEqual([
      { date: '2025-11-28', open: '2025-11-28T09:30:00-05:00', close: '2025-11-28T13:00:00-05:00', early_close: true },
    ]);
  });

  it('runs as `npx agent-trader` in the project', () => {
    const r = spawnSync('npx', ['--offline', 'agent-trader', '--version'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });

  it('ends quietly with exit 0 when the reader of its pipe stops early', () => {
    // About 430 kB of JSON, far beyond a pipe's buffer: the writer is still writing when head exits.
    const script = 'set -o pipefail; "$0" calendar --market us --from 2015-01-01 --to 2026-12-31 --json | head -c 10';
    const r = spawnSync('bash', ['-c', script, BIN], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout).toBe('[\n  {\n    ');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('backtests a TypeScript strategy module from the compiled build (tsx loads the .ts file), as `npm run cli` does', async () => {
    const [a, b] = [await mkdtemp(join(tmpdir(), 'agent-trader-bin-mr-')), await mkdtemp(join(tmpdir(), 'agent-trader-bin-mr-'))];
    const env = { ...process.env, SOURCE_DATE_EPOCH: '1767225600' };
    const config = 'examples/strategies/mean-reversion.json';
    const built = spawnSync(BIN, ['backtest', '--config', config, '--out', a], { cwd: ROOT, encoding: 'utf8', env });
    expect(built.status, built.stderr).toBe(0);
    // No tsx fallback notice: the build ran, and loaded the .ts strategy itself.
    expect(built.stderr).not.toMatch(/running src\/ through tsx/);
    const viaTsx = spawnSync('npm', ['run', '--silent', 'cli', '--', 'backtest', '--config', config, '--out', b], { cwd: ROOT, encoding: 'utf8', env });
    expect(viaTsx.status, viaTsx.stderr).toBe(0);
    const report = await readFile(join(a, 'report.json'), 'utf8');
    expect(JSON.parse(report).signatures['mean-reversion'].orders).toBeGreaterThan(20);
    expect(await readFile(join(b, 'report.json'), 'utf8')).toBe(report);
  });

  it('keeps `npm run cli --` working', () => {
    const r = spawnSync('npm', ['run', '--silent', 'cli', '--', '--version'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });
});

// The code a run's manifest records is the package's src/, whichever way the CLI runs: from dist/
// (the bin, npm start) or through tsx (npm run cli). A backtest started one way and resumed the
// other is the same code, not refused as "the code differs". (Here, not in its own file:
// ensureBuilt runs from one test file only.)
describe('the run manifest from the build', () => {
  it('records the same code version from dist/ as from src/', async () => {
    ensureBuilt();
    const { codeVersion } = await import('../../src/runtime/manifest.js');
    const built = (await import(new URL('../../dist/runtime/manifest.js', import.meta.url).href)) as { codeVersion: () => Promise<string> };
    expect(await built.codeVersion()).toBe(await codeVersion());
    expect(await codeVersion()).toMatch(/^[0-9a-f]{64}$/);
  }, 300_000);
});

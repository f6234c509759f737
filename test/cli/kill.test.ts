import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { cli } from '../support/cli.js';

let dir: string;
let config: string;
const stateDir = () => join(dir, 'state');
const stateFile = () => join(stateDir(), 'kill-switch.json');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-trader-kill-cli-'));
  config = join(dir, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      models: [
        { name: 'A', signature: 'alpha', agent: { kind: 'rules' } },
        { name: 'B', signature: 'beta', agent: { kind: 'rules' } },
      ],
      state_dir: 'state',
    }),
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('agent-trader kill', () => {
  it('throws the switch for all signatures in state_dir, then a new process sees it, and --reset releases it', async () => {
    const on = cli(['kill', '--config', config, '--reason', 'market halt']);
    expect(on.stderr).toBe('');
    expect(on.code).toBe(0);
    expect(on.stdout).toMatch(/^kill switch thrown for all signatures; now ON for all signatures \(market halt, since \d{4}-\d\d-\d\dT[\d:.]+Z\)\n/);
    expect(on.stdout).toContain(`state: ${stateFile()}`);
    expect(on.stdout).toContain('refuses new ones until `kill --reset`');
    expect(JSON.parse(await readFile(stateFile(), 'utf8'))).toMatchObject({ active: true, signatures: 'all', reason: 'market halt' });
    expect(new KillSwitch(stateDir(), () => 0).isHalted('alpha')).toBe(true);

    const off = cli(['kill', '--config', config, '--reset']);
    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(/^kill switch reset; now OFF: every signature may trade\n/);
    expect(new KillSwitch(stateDir(), () => 0).isHalted('alpha')).toBe(false);
  });

  it('halts one signature and releases it', () => {
    const on = cli(['kill', '--config', config, '--signature', 'beta']);
    expect(on.code).toBe(0);
    expect(on.stdout).toMatch(/^kill switch thrown for beta; now ON for beta \(manual stop \(cli kill\), since /);
    const ks = new KillSwitch(stateDir(), () => 0);
    expect([ks.isHalted('alpha'), ks.isHalted('beta')]).toEqual([false, true]);
    expect(cli(['kill', '--config', config, '--signature', 'beta']).stdout).toMatch(/^kill switch already on for beta;/);
    expect(cli(['kill', '--config', config, '--signature', 'beta', '--reset']).stdout).toMatch(/^kill switch reset for beta; now OFF/);
    expect(cli(['kill', '--config', config, '--reset']).stdout).toMatch(/^kill switch: nothing to reset; now OFF/);
  });

  it('exits 2 for a signature the config does not name (a typo must not leave the agent trading)', () => {
    const r = cli(['kill', '--config', config, '--signature', 'alhpa']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no model with signature "alhpa"');
    expect(r.stderr).toContain('signatures: alpha, beta');
  });

  it('exits 2 naming state_dir, without a stack trace or a temp file left, when the switch cannot be written there', async () => {
    // A directory where the switch's file goes (found: EISDIR, a stack trace, exit 1, a temp file left).
    await mkdir(stateFile(), { recursive: true });
    for (const args of [[], ['--reset']]) {
      const r = cli(['kill', '--config', config, ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^error: state_dir: cannot write the kill switch .*kill-switch\.json: /);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    expect(await readdir(stateDir())).toEqual(['kill-switch.json']);
  });

  it('exits 2 for a bad config', async () => {
    await writeFile(config, JSON.stringify({ models: [], risk_control: { max_single_position_ratio: 2 } }));
    const r = cli(['kill', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid config');
    expect(cli(['kill', '--config', join(dir, 'missing.json')]).code).toBe(2);
  });
});

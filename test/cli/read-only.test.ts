/** Read-only commands never create state: a missing run directory (or one that holds no run) is exit 2, "no run at DIR". */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliAsync } from '../support/cli.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'agent-trader-read-only-'));
});

const COMMANDS: Record<string, (dir: string) => string[]> = {
  explain: (dir) => ['explain', 'gpt-5.20251020T0935.1', '--dir', dir],
  transcripts: (dir) => ['transcripts', '--dir', dir],
  report: (dir) => ['report', dir],
};

describe('read-only commands on a directory without a run', () => {
  for (const [name, args] of Object.entries(COMMANDS)) {
    it(`${name}: a missing directory is exit 2 "no run at DIR" and stays missing`, async () => {
      const dir = join(base, `${name}-missing`);
      const r = await cliAsync(args(dir));
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`error: no run at ${dir}: no such directory`);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(existsSync(dir)).toBe(false);
    });

    it(`${name}: an empty directory is exit 2 "no run at DIR" and stays empty`, async () => {
      const dir = await mkdtemp(join(base, `${name}-empty-`));
      const r = await cliAsync(args(dir));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`error: no run at ${dir}:`);
      expect(await readdir(dir)).toEqual([]);
    });
  }

  it("explain and transcripts with --config: a state_dir that does not exist stays absent", async () => {
    const stateDir = join(base, 'config-state');
    const config = join(base, 'c.json');
    await writeFile(config, JSON.stringify({ state_dir: stateDir, models: [{ name: 'x', signature: 'x', agent: { kind: 'rules' } }] }));
    const [explain, transcripts] = await Promise.all([
      cliAsync(['explain', 'x.20251020T0935.1', '--config', config]),
      cliAsync(['transcripts', '--config', config]),
    ]);
    for (const r of [explain, transcripts]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`error: no run at ${stateDir}: no such directory`);
    }
    expect(existsSync(stateDir)).toBe(false);
  });
});

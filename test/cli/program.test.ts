/** What every command shares: help texts that say what runs, unknown options named, each error said once. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliAsync } from '../support/cli.js';

describe('agent-trader (all commands)', () => {
  it('names an unknown option rather than a required one it hides', async () => {
    const [typo, missing] = await Promise.all([
      cliAsync(['calendar', '--markt', 'us', '--from', '2025-01-02', '--to', '2025-01-03']),
      cliAsync(['calendar', '--market', 'us', '--from', '2025-01-02']),
    ]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("error: unknown option '--markt'");
    expect(typo.stderr).not.toContain('required option');
    // A required option that is really missing is still reported, with commander's words.
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("error: required option '--to <date>' not specified");
  });

  it('run --help says what run does now', async () => {
    const r = await cliAsync(['run', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('later');
    expect(r.stdout).toMatch(/mode paper\/live runs the trading process/);
  });

  it('prints an error once, not again as its own problem line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-program-'));
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"Meta Data":{"2. Symbol":"600000.SH"},"Time Series (Daily)":{"2025-10-09":{"1. buy price":"x"}}}\n{\n');
    const [value, json] = await Promise.all([
      cliAsync(['replay-server', '--bars', bad]),
      cliAsync(['replay-server', '--bars', bad, '--symbols', 'none.SH']),
    ]);
    expect(value.code).toBe(2);
    const said = 'expected a non-negative decimal string like "271.0884"';
    expect(value.stderr.split(said)).toHaveLength(2);
    expect(json.code).toBe(2);
    expect(json.stderr.split('not valid JSON')).toHaveLength(2);
  });
});

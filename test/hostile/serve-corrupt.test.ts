/**
 * Hostile: `report --serve DIR` on a run whose dashboard.json is broken (a truncated file, a
 * file of another shape). A broken report.json is refused cleanly ("error: .../report.json:
 * not a valid report ...", exit 2); a broken dashboard.json should be too.
 *
 * FINDING (runtime/dashboard-file.ts readDashboardFile): `JSON.parse` is not guarded and the
 * shape error is a plain Error, so the CLI prints "unexpected error: SyntaxError: Unexpected
 * end of JSON input" with a stack trace and exits 1. When DIR is a folder of runs, one broken
 * newest run stops the whole serve although the others are fine (and a broken sibling picked
 * with ?run= answers 500 "state unavailable").
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliAsync } from '../support/cli.js';
import { tempDir } from '../support/paper-control-rig.js';

describe('report --serve on a broken dashboard.json', () => {
  it.each([
    ['truncated', '{"time":'],
    ['another shape', '{"time":"x","mode":"paper","accounts":[{"positions":[]}],"orders":[]}'],
  ])('%s: exit 2 with one line naming the file, no stack trace', async (_what, text) => {
    const dir = await tempDir();
    const run = join(dir, 'runs', 'paper-1');
    await mkdir(run, { recursive: true });
    await writeFile(join(run, 'dashboard.json'), text);
    const r = await cliAsync(['report', '--serve', run, '--port', '0']);
    expect(r.stderr).not.toContain('unexpected error');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toMatch(/^error: .*dashboard\.json/);
    expect(r.code).toBe(2);
  }, 60_000);
});

/**
 * When the bin runs the compiled build: bin/dist.js's freshness check on a made-up package
 * tree, and the bin's tsx fallback in a copy of the package without dist/.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { distIsCurrent, STAMP } from '../../bin/dist.js';
import { ROOT } from '../support/cli.js';

/** A package tree whose every file and folder has mtime `at` (seconds), dist/ built at `built`. */
async function tree(at: number, built: number | undefined): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'agent-trader-dist-'));
  const files = ['src/cli/main.ts', 'src/server/dashboard.html', 'tsconfig.json', 'tsconfig.build.json'];
  for (const f of files) {
    await mkdir(join(root, f, '..'), { recursive: true });
    await writeFile(join(root, f), '');
  }
  for (const p of [...files, 'src/cli', 'src/server', 'src']) await utimes(join(root, p), at, at);
  if (built !== undefined) {
    await mkdir(join(root, 'dist'));
    await writeFile(join(root, 'dist', STAMP), '');
    await utimes(join(root, 'dist', STAMP), built, built);
  }
  return root;
}

describe('distIsCurrent (bin/dist.js)', () => {
  it('is true for a build started after every source, or at the same time (npm packs one mtime)', async () => {
    expect(distIsCurrent(await tree(1000, 2000))).toBe(true);
    expect(distIsCurrent(await tree(1000, 1000))).toBe(true);
  });

  it('is false without a complete build (no stamp)', async () => {
    expect(distIsCurrent(await tree(1000, undefined))).toBe(false);
  });

  it('is false once a source, a tsconfig or a folder (a file added or removed) is newer than the build', async () => {
    for (const p of ['src/cli/main.ts', 'src/server/dashboard.html', 'tsconfig.json', 'tsconfig.build.json', 'src/cli', 'src']) {
      const root = await tree(1000, 2000);
      await utimes(join(root, p), 3000, 3000);
      expect(distIsCurrent(root), p).toBe(false);
    }
    const removed = await tree(1000, 2000);
    await rm(join(removed, 'src/server/dashboard.html'));
    expect(distIsCurrent(removed)).toBe(false);
  });
});

describe('the bin without a current build', () => {
  it('runs src/ through tsx and says so on stderr, its output unchanged', async () => {
    // The package as a fresh install with --ignore-scripts leaves it: the bin and its sources, no dist/.
    const root = await mkdtemp(join(tmpdir(), 'agent-trader-nodist-'));
    await mkdir(join(root, 'bin'));
    for (const f of ['bin/agent-trader.js', 'bin/dist.js', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) await copyFile(join(ROOT, f), join(root, f));
    await symlink(join(ROOT, 'src'), join(root, 'src'), 'dir');
    await symlink(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    const r = spawnSync(process.execPath, [join(root, 'bin', 'agent-trader.js'), '--version'], { cwd: root, encoding: 'utf8' });
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
    expect(r.stderr).toBe('agent-trader: dist/ is missing or older than src/, running src/ through tsx (slower start); `npm run build` updates it\n');
  });
});

/** The compiled build (dist/) for tests that run the bin as users do. */
import { spawnSync } from 'node:child_process';
import { distIsCurrent } from '../../bin/dist.js';
import { ROOT } from './cli.js';

/**
 * Builds dist/ (`npm run build`, ~20 s) when it is missing or older than src/, so the bin runs
 * the build and not its tsx fallback; a no-op after `npm ci` (prepare built it). Call it from
 * one test file only: two builds at once would delete each other's output.
 */
export function ensureBuilt(): void {
  if (distIsCurrent(ROOT)) return;
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0 || !distIsCurrent(ROOT)) throw new Error(`npm run build failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}

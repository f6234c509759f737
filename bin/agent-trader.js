#!/usr/bin/env node
// The `agent-trader` command (package.json "bin"): `npx agent-trader <command>` after `npm ci`.
// It runs the compiled build in dist/ (`npm run build`; `npm ci` makes it through `prepare`),
// which starts in a fraction of tsx's time. When dist/ is missing or older than src/ (an edited
// source, or an install with --ignore-scripts) it runs src/ through tsx (a runtime dependency)
// instead and says so on stderr, so it never runs stale code. Node resolves this file's symlink
// in node_modules/.bin to its real path, so the paths below find dist/ and src/ beside it.
import { fileURLToPath } from 'node:url';
import { distIsCurrent } from './dist.js';

if (distIsCurrent(fileURLToPath(new URL('..', import.meta.url)))) {
  await import('../dist/cli/main.js');
} else {
  process.stderr.write('agent-trader: dist/ is missing or older than src/, running src/ through tsx (slower start); `npm run build` updates it\n');
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}

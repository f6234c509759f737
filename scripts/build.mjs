// `npm run build` (and `prepare`, so `npm ci` leaves a build): src/ -> dist/ with tsc
// (tsconfig.build.json), then the non-TypeScript files src/ reads beside its own modules
// (src/server/dashboard.html), then the stamp bin/dist.js checks. Plain Node, no tsx: it runs
// right after `npm ci`.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STAMP } from '../bin/dist.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');
// Read before tsc reads src/: a file saved during the build is newer than the stamp, so it counts.
const started = new Date();
// From scratch: a module of a deleted source must not linger (nothing would rebuild it).
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
} catch (e) {
  console.error('build failed: tsc -p tsconfig.build.json (its errors above)');
  process.exit(typeof e.status === 'number' && e.status !== 0 ? e.status : 1);
}
cpSync(src, dist, { recursive: true, filter: (from) => !from.endsWith('.ts') });
const stamp = join(dist, STAMP);
writeFileSync(stamp, '');
utimesSync(stamp, started, started);

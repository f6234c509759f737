// Whether dist/ (the compiled build, scripts/build.mjs) can stand in for src/: the bin runs
// dist/ only when it is, and src/ through tsx otherwise, so an edited src/ is never run stale.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Written last by a complete build; its mtime is the time the build started reading src/. */
export const STAMP = '.built';

/**
 * True when `root`/dist holds a complete build and nothing it was built from (a file or folder
 * under src/, or a tsconfig) changed after that build started. A stat walk of src/ (~200
 * entries), a few ms. Equal mtimes count as current: npm packs every file with one fixed mtime.
 * @param {string} root the package root
 * @returns {boolean}
 */
export function distIsCurrent(root) {
  let built;
  try {
    built = statSync(join(root, 'dist', STAMP)).mtimeMs;
  } catch {
    return false;
  }
  const newer = (path) => statSync(path).mtimeMs > built;
  const walk = (dir) => {
    if (newer(dir)) return true; // a file added, removed or renamed in it
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() ? walk(p) : newer(p)) return true;
    }
    return false;
  };
  return !walk(join(root, 'src')) && !newer(join(root, 'tsconfig.json')) && !newer(join(root, 'tsconfig.build.json'));
}

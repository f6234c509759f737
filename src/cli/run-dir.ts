/**
 * The run directory of the read-only commands (`explain`, `transcripts`, `report`): a
 * backtest's --out or a paper/live state_dir. Reading one never creates anything: a
 * directory that is missing, or holds no run, is "no run at DIR" (exit 2), not a fresh
 * empty LevelDB.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../domain/errors.js';
import { openStore, type Store } from '../actors/store/store.js';

const HINT = "expected a backtest's --out DIR or a paper/live state_dir (both hold state/, the run's LevelDB)";

async function kind(path: string): Promise<'file' | 'dir' | 'missing' | 'other'> {
  try {
    const s = await stat(path);
    return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
    throw e;
  }
}

/** Why `dir` is not a run, or undefined when it is one. */
async function whyNoRun(dir: string): Promise<string | undefined> {
  const found = await kind(dir);
  if (found === 'missing') return 'no such directory';
  if (found !== 'dir') return 'not a directory';
  // LevelDB writes CURRENT when it creates a database: without it there is no run here.
  if ((await kind(join(dir, 'state', 'CURRENT'))) !== 'file') return 'it holds no state/ LevelDB';
  return undefined;
}

/** Open the LevelDB of the run at `dir` for reading, or an InputError "no run at DIR: why". */
export async function openRunStore(dir: string): Promise<Store> {
  const why = await whyNoRun(dir);
  if (why !== undefined) throw new InputError(`no run at ${dir}: ${why}`, [HINT]);
  return openStore(join(dir, 'state'), { mustExist: true });
}

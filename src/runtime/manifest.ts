/**
 * A backtest's manifest: what its results are a function of (the config, the bytes of every
 * input file, the code), stored with the run on its first start. A resume with other inputs
 * would mix two runs' numbers in one report, so it is refused (exit 2) with what differs;
 * `--force-new` starts over instead.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import { InputError } from '../domain/errors.js';
import type { Store } from '../actors/store/store.js';

export const MANIFEST_SUBLEVEL = 'run';
export const MANIFEST_KEY = 'manifest';

export interface RunManifest {
  readonly version: 1;
  /** sha256 of the config as the run sees it (flags applied), keys sorted. */
  readonly config: string;
  /** Input file -> sha256 of its bytes. */
  readonly files: Readonly<Record<string, string>>;
  /** sha256 of the source tree that computed it. */
  readonly code: string;
  /** When the run was first started (wall clock, read at the edge): the report's `generated_at`. */
  readonly createdAt: string;
  /**
   * The last date asked for. Not in the config hash: a later `--to` extends a finished run
   * (the sessions before it cannot depend on what comes after), an earlier one is refused.
   */
  readonly to: string;
}

/** JSON with object keys sorted, so the same config always hashes the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

let codeHash: Promise<string> | undefined;
/** sha256 over the paths and bytes of src/ (this build's code), computed once per process. */
export function codeVersion(): Promise<string> {
  codeHash ??= (async () => {
    // The package's src/, whether this module runs from src/ (tsx) or from the build in dist/: a run
    // started with one and resumed with the other is the same code. A package without src/ hashes its build.
    const own = dirname(dirname(fileURLToPath(import.meta.url)));
    const src = join(dirname(own), 'src');
    const root = existsSync(src) ? src : own;
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else files.push(p);
      }
    };
    await walk(root);
    const h = createHash('sha256');
    for (const f of files.sort()) h.update(relative(root, f)).update('\0').update(await readFile(f)).update('\0');
    return h.digest('hex');
  })();
  return codeHash;
}

/** The config without what only says where the run writes (state_dir) or how far it goes (date_range.to). */
const whatItComputes = (config: Config) => {
  const { to: _to, ...range } = config.date_range ?? {};
  return { ...config, state_dir: undefined, date_range: Object.keys(range).length ? range : undefined };
};

export async function buildManifest(config: Config, inputFiles: readonly string[], createdAt: string, to: string): Promise<RunManifest> {
  const files: Record<string, string> = {};
  for (const f of [...new Set(inputFiles)].sort()) files[f] = sha256(await readFile(f));
  return { version: 1, config: sha256(canonicalJson(whatItComputes(config))), files, code: await codeVersion(), createdAt, to };
}

/** What differs between the stored run and this one, in words; empty when nothing does. */
export function manifestDifferences(stored: RunManifest, now: RunManifest): string[] {
  const out: string[] = [];
  if (stored.config !== now.config) out.push('the config (or a flag such as --cash, --from, --rules) differs');
  const names = new Set([...Object.keys(stored.files), ...Object.keys(now.files)]);
  for (const f of [...names].sort()) {
    if (!(f in now.files)) out.push(`${f} was an input of the stored run and is not one now`);
    else if (!(f in stored.files)) out.push(`${f} is an input now and was not one of the stored run`);
    else if (stored.files[f] !== now.files[f]) out.push(`${f} has other bytes than when the run started`);
  }
  if (stored.code !== now.code) out.push('the code differs (another agent-trader version or a changed src/)');
  if (now.to < stored.to) out.push(`the stored run went to ${stored.to}, this one stops earlier, at ${now.to}`);
  return out;
}

export class ResumeMismatchError extends InputError {
  constructor(
    readonly dir: string,
    readonly differences: readonly string[],
  ) {
    super(`cannot resume the run in ${dir}: ${differences.join('; ')}. Use another --out, or --force-new to start this run over`);
  }
}

/**
 * The stored manifest when it agrees with this run (a resume), or this run's manifest staged
 * for the first commit (a new run). Throws {@link ResumeMismatchError} when they differ.
 */
export async function checkManifest(store: Store, dir: string, current: RunManifest, hasState: boolean): Promise<RunManifest> {
  const stored = await store.getRecord<RunManifest>(MANIFEST_SUBLEVEL, MANIFEST_KEY);
  if (stored) {
    const differences = manifestDifferences(stored, current);
    if (differences.length) throw new ResumeMismatchError(dir, differences);
    if (current.to === stored.to) return stored;
    const extended = { ...stored, to: current.to };
    await store.stage({ puts: [{ sublevel: MANIFEST_SUBLEVEL, key: MANIFEST_KEY, value: extended }] });
    return extended;
  }
  if (hasState) throw new ResumeMismatchError(dir, ['the stored run has no manifest (made by an older agent-trader)']);
  await store.stage({ puts: [{ sublevel: MANIFEST_SUBLEVEL, key: MANIFEST_KEY, value: current }] });
  return current;
}

/**
 * The kill switch: one small JSON file, `<state_dir>/kill-switch.json`,
 *
 *   { "active": true, "signatures": "all" | ["alpha", ...], "reason": "...", "at": "<ISO>" }
 *
 * so it survives a restart and can be thrown from another process (`npm run cli -- kill`)
 * while the engine holds the LevelDB lock. Writes are atomic (a temp file in the same
 * directory, fsynced, then renamed over the old one): a reader sees the old state or the new
 * one, never half of one. Readers read the file each time they ask (`state`, `isHalted`), so
 * a check never trusts a cached "not halted"; `watch` tells a running engine at once.
 *
 * FAIL SAFE: a file that exists but cannot be read or parsed halts everything (reason says
 * why) until it is reset, which rewrites it. No file = not halted.
 *
 * Read-modify-write is not locked across processes: two people throwing the switch in the
 * same millisecond may lose one signature. A reset of one signature while the switch holds
 * 'all' is refused (there is no "all but X"); reset everything instead.
 *
 * The event-feed message that throws the switch for authenticated clients arrives with the
 * paper-trading issue; it will call `activate` / `reset` here like the CLI does.
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, unwatchFile, watch, watchFile, writeSync, renameSync, mkdirSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../../domain/errors.js';

export const KILL_SWITCH_FILE = 'kill-switch.json';
const UNREADABLE = `${KILL_SWITCH_FILE} is unreadable, so everything is halted until it is reset`;

const StateSchema = z.strictObject({
  active: z.boolean(),
  signatures: z.union([z.literal('all'), z.array(z.string().min(1))]),
  reason: z.string(),
  at: z.string(),
});
export type KillSwitchState = z.infer<typeof StateSchema>;

export const KILL_SWITCH_OFF: KillSwitchState = Object.freeze({ active: false, signatures: [], reason: '', at: '' }) as KillSwitchState;

export interface KillSwitchOptions {
  /** Poll interval of the fallback watcher (also covers a state dir created later). Default 1000 ms. */
  readonly pollMs?: number;
}

let tempSeq = 0;

/** The fail-safe state of a file that exists but cannot be read. */
/** Whether the switch in `state` halts `signature` (new orders refused). */
export const haltsSignature = (state: KillSwitchState, signature: string): boolean =>
  state.active && (state.signatures === 'all' || state.signatures.includes(signature));

export const isUnreadable = (s: KillSwitchState): boolean => s.active && s.at === '' && s.reason.startsWith(UNREADABLE);

export class KillSwitch {
  readonly file: string;
  readonly #pollMs: number;

  constructor(
    readonly stateDir: string,
    private readonly now: () => number,
    options: KillSwitchOptions = {},
  ) {
    this.file = join(stateDir, KILL_SWITCH_FILE);
    this.#pollMs = options.pollMs ?? 1000;
  }

  /** The state as the file says now. */
  state(): KillSwitchState {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return KILL_SWITCH_OFF;
      return this.#unreadable(err);
    }
    try {
      return StateSchema.parse(JSON.parse(text));
    } catch (err) {
      return this.#unreadable(err);
    }
  }

  /** New orders of this signature are refused. */
  isHalted(signature: string): boolean {
    return haltsSignature(this.state(), signature);
  }

  /** Halt one signature, or all of them. Halting one while all are halted changes nothing. */
  async activate(options: { readonly signature?: string | undefined; readonly reason: string }): Promise<KillSwitchState> {
    const current = this.#current();
    const at = new Date(this.now()).toISOString();
    let next: KillSwitchState;
    if (options.signature === undefined) next = { active: true, signatures: 'all', reason: options.reason, at };
    else if (current.active && current.signatures === 'all') return current;
    else {
      const before = current.active ? (current.signatures as string[]) : [];
      if (before.includes(options.signature)) return current;
      next = { active: true, signatures: [...before, options.signature], reason: options.reason, at };
    }
    this.#write(next);
    return next;
  }

  /** Release one signature, or everything. */
  async reset(options: { readonly signature?: string | undefined; readonly reason?: string | undefined } = {}): Promise<KillSwitchState> {
    const raw = this.state();
    const broken = isUnreadable(raw);
    const current = broken ? KILL_SWITCH_OFF : raw;
    if (!current.active && !broken) return current;
    const at = new Date(this.now()).toISOString();
    const reason = options.reason ?? 'reset';
    let next: KillSwitchState;
    if (options.signature === undefined || !current.active) next = { active: false, signatures: [], reason, at };
    else if (current.signatures === 'all') {
      throw new InputError(
        `the kill switch halts all signatures; it cannot release only ${options.signature} (reset without --signature, then halt the others)`,
      );
    } else {
      const left = current.signatures.filter((s) => s !== options.signature);
      if (left.length === current.signatures.length) return current;
      next = left.length > 0 ? { ...current, signatures: left } : { active: false, signatures: [], reason, at };
    }
    this.#write(next);
    return next;
  }

  /**
   * Call `onChange` with the new state whenever it changes (another process threw or reset the
   * switch). fs.watch on the directory reacts at once; a stat poll backs it up (and covers a
   * state dir that does not exist yet). Returns the unsubscribe function.
   */
  watch(onChange: (state: KillSwitchState) => void): () => void {
    let last = JSON.stringify(this.state());
    let closed = false;
    const reread = () => {
      if (closed) return;
      const s = this.state();
      const text = JSON.stringify(s);
      if (text === last) return;
      last = text;
      onChange(s);
    };
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(this.stateDir, { persistent: false }, (_event, name) => {
        if (name === null || String(name) === KILL_SWITCH_FILE) reread();
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      // No directory yet (or no inotify): the poll below covers it.
    }
    const poll = () => reread();
    watchFile(this.file, { persistent: false, interval: this.#pollMs }, poll);
    return () => {
      closed = true;
      watcher?.close();
      unwatchFile(this.file, poll);
    };
  }

  /** For read-modify-write: an unreadable file counts as "off" so a reset or a new halt can replace it. */
  #current(): KillSwitchState {
    const s = this.state();
    return isUnreadable(s) ? KILL_SWITCH_OFF : s;
  }

  #unreadable(err: unknown): KillSwitchState {
    const why = err instanceof Error ? err.message : String(err);
    return { active: true, signatures: 'all', reason: `${UNREADABLE}: ${why}`, at: '' };
  }

  /** A switch that cannot be written is the operator's to fix (state_dir), said plainly: no temp file is left. */
  #write(state: KillSwitchState): void {
    const temp = join(this.stateDir, `.${KILL_SWITCH_FILE}.${process.pid}.${++tempSeq}.tmp`);
    try {
      mkdirSync(this.stateDir, { recursive: true });
      const fd = openSync(temp, 'w');
      try {
        writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.file);
    } catch (err) {
      rmSync(temp, { force: true });
      const why = err instanceof Error ? err.message : String(err);
      throw new InputError(`state_dir: cannot write the kill switch ${this.file}: ${why}`);
    }
  }
}


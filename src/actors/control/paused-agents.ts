/**
 * Paused agents: `<state_dir>/paused.json`,
 *
 *   { "paused": { "<signature>": { "at": "<ISO, exchange zone>", "by": "<who>" } } }
 *
 * A paused agent gets no new session (the engine skips it, AGENT_PAUSED); its open orders stay,
 * stop-loss still watches its positions. Kept in a file next to the kill switch, written
 * atomically (state-file.ts), so it survives a restart and is read on every tick, never cached.
 *
 * FAIL SAFE like the kill switch: a file that exists but cannot be read pauses every agent
 * (`unreadable` says why) until a resume rewrites it.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { readJson, writeJsonAtomic } from './state-file.js';

export const PAUSED_FILE = 'paused.json';

const PausedSchema = z.strictObject({
  paused: z.record(z.string().min(1), z.strictObject({ at: z.string(), by: z.string() })),
});
export type PausedState = z.infer<typeof PausedSchema>;

export interface PausedView {
  /** Signature -> when and by whom it was paused. */
  readonly paused: PausedState['paused'];
  /** Set when the file could not be read: every agent counts as paused. */
  readonly unreadable?: string;
}

export class PausedAgents {
  readonly file: string;

  constructor(readonly stateDir: string) {
    this.file = join(stateDir, PAUSED_FILE);
  }

  state(): PausedView {
    const r = readJson(this.file, PausedSchema);
    if (r.kind === 'missing') return { paused: {} };
    if (r.kind === 'unreadable') return { paused: {}, unreadable: `${PAUSED_FILE} is unreadable, so every agent is paused until one is resumed: ${r.why}` };
    return { paused: r.value.paused };
  }

  isPaused(signature: string): boolean {
    const s = this.state();
    return s.unreadable !== undefined || s.paused[signature] !== undefined;
  }

  /** Of `signatures`, those paused now. */
  pausedOf(signatures: readonly string[]): string[] {
    const s = this.state();
    return signatures.filter((sig) => s.unreadable !== undefined || s.paused[sig] !== undefined);
  }

  /** Pause; `changed` false when it already was. */
  pause(signature: string, at: string, by: string): { changed: boolean } {
    const s = this.state();
    if (s.unreadable === undefined && s.paused[signature]) return { changed: false };
    const base = s.unreadable === undefined ? s.paused : {};
    writeJsonAtomic(this.file, { paused: { ...base, [signature]: { at, by } } } satisfies PausedState);
    return { changed: true };
  }

  /**
   * Resume. An unreadable file is rewritten with every other signature of `known` still paused
   * (they were, by the fail-safe rule), stamped `at`.
   */
  resume(signature: string, known: readonly string[], at: string): { changed: boolean } {
    const s = this.state();
    if (s.unreadable === undefined && !s.paused[signature]) return { changed: false };
    const base = s.unreadable === undefined ? s.paused : Object.fromEntries(known.map((k) => [k, { at, by: `${PAUSED_FILE} was unreadable` }]));
    const { [signature]: _gone, ...rest } = base;
    writeJsonAtomic(this.file, { paused: rest } satisfies PausedState);
    return { changed: true };
  }
}

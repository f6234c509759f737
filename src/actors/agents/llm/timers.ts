/**
 * Wall-clock time for the LLM agent: a model call takes real time in every mode
 * (a backtest's virtual clock stands still while a model thinks), so deadlines,
 * retry back-off and latency are measured on this clock, injected like every
 * other clock. Tests pass a manual one; `realTimers` is the process's.
 *
 * A timer here always stands for work in progress (a back-off before the next
 * attempt, a deadline of a call in flight) and is cancelled when that work ends, so
 * it keeps the process alive like the socket of the call it belongs to: never
 * `unref()` it, or a backtest awaiting a decision exits (code 13) mid back-off.
 */
export interface WallTimers {
  /** Epoch ms. */
  now(): number;
  /** Call `fn` after `ms`; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export const realTimers: WallTimers = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Resolve after `ms` on `timers`, or reject with the signal's reason when it aborts first. */
export function sleep(timers: WallTimers, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal!.reason);
    };
    const cancel = timers.after(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A timer table driven by hand (tests): `advance(ms)` runs what is due, in order. */
export class ManualTimers implements WallTimers {
  #now: number;
  #seq = 0;
  readonly #due = new Map<number, { at: number; fn: () => void }>();
  constructor(startMs = 0) {
    this.#now = startMs;
  }
  now(): number {
    return this.#now;
  }
  after(ms: number, fn: () => void): () => void {
    const id = ++this.#seq;
    this.#due.set(id, { at: this.#now + Math.max(0, ms), fn });
    return () => this.#due.delete(id);
  }
  /** Timers waiting. */
  get pending(): number {
    return this.#due.size;
  }
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const next = [...this.#due.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!next) break;
      this.#due.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = until;
  }
}

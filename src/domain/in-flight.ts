/**
 * Work in flight: a count of the promises an actor system started and has not seen
 * settle. The backtest driver moves virtual time only when nothing is in flight, so a
 * slow disk or a busy CPU can delay a run but never change what it computes (no
 * "give up after N idle turns" heuristics).
 *
 * Track the whole chain, continuation included (`track(p.then(answer))`): the answer may
 * start new work synchronously, which is then counted before this one counts down, so
 * the count never reads 0 while something is still on its way.
 */
export class InFlight {
  #count = 0;
  #waiters: (() => void)[] = [];

  get count(): number {
    return this.#count;
  }

  track<T>(promise: Promise<T>): Promise<T> {
    this.#count++;
    const done = () => {
      if (--this.#count === 0) for (const w of this.#waiters.splice(0)) w();
    };
    promise.then(done, done);
    return promise;
  }

  /** Resolves once the count is 0 (at once when it already is). */
  idle(): Promise<void> {
    return this.#count === 0 ? Promise.resolve() : new Promise((r) => this.#waiters.push(r));
  }
}

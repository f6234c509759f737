/**
 * Wait until `check` stops throwing, re-checking on every turn of the event loop (real I/O
 * arriving), never on a timer; `timeoutMs` only bounds a test that would otherwise hang.
 */
export async function eventually(check: () => void, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await new Promise((r) => setImmediate(r));
    }
  }
}

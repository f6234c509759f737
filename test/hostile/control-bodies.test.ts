/**
 * Hostile: bad bodies on the control API. README: "every command (reads too, refusals too) is
 * written to the run's journal before it is answered"; "400 a bad body".
 *
 * FINDINGS (server/control-routes.ts):
 * - a body that is not JSON, or fails the schema, is answered 400 by the route before the
 *   control layer sees it: no journal entry, no journal_seq (a refused pause is journalled, a
 *   malformed one is not).
 * - a body over 16 KiB: the route calls `req.destroy()`, the client gets a connection reset,
 *   never the 400 (or 413) the README promises.
 */
import { describe, expect, it } from 'vitest';
import { controlJournal, drive, loadUs, rig, stopRig, tempDir, ticks, us } from '../support/paper-control-rig.js';

const raw = (base: string, command: string, body: string) => fetch(`${base}/api/control/${command}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });

describe('control API: bad bodies', () => {
  it('a malformed body is refused with 400 and journalled like any refusal', async () => {
    const dir = await tempDir();
    const r = await rig(dir, us, await loadUs());
    await drive(r, () => ticks(r).length === 1);
    const bad = await raw(r.http.url, 'pause', '{"signature":');
    expect(bad.status).toBe(400);
    const extra = await raw(r.http.url, 'flatten', '{"signature":"ew","all":true}');
    expect(extra.status).toBe(400);
    await stopRig(r);
    const journal = await controlJournal(dir);
    expect(journal.map((j) => [j['type'], j['ok']]), 'refused commands missing from the journal').toEqual([
      ['control.pause', false],
      ['control.flatten', false],
    ]);
  }, 120_000);

  it('a body over the limit gets an answer (400/413), not a connection reset', async () => {
    const dir = await tempDir();
    const r = await rig(dir, us, await loadUs());
    await drive(r, () => ticks(r).length === 1);
    const answer = await raw(r.http.url, 'pause', JSON.stringify({ signature: 'x'.repeat(100_000) })).then(
      (res) => res.status,
      (err: unknown) => `fetch failed: ${String((err as { cause?: unknown }).cause ?? err)}`,
    );
    expect([400, 413]).toContain(answer);
    await stopRig(r);
  }, 120_000);
});

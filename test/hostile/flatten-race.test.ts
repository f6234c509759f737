/**
 * Hostile: flatten twice, quickly. README ("flatten"): one market sell per symbol of every
 * sellable share *not already in an open sell* (`SELL_PENDING` otherwise): never more sold than
 * held. Two flattens answered one after the other must not both sell; flattens sent side by
 * side (the CLI and a Telegram chat at the same moment) neither.
 *
 * FINDING (control.ts flatten): the plan (held - open sells) is made before `await ask(risk)`
 * and the order is sent after it, so flattens that overlap all plan the full position. Here
 * (virtual clock: same instant) they also get the same client order ids (`FL<ssSSS><n>`), so
 * each answers "sell 5 AAPL" with one id, the feed says `new` three times, and the venue
 * happens to keep one. In a real process (`run`, replay at 120x, duplicate_window_seconds: 0,
 * three curl flattens at once) the ids differ and a second full set of sells reaches the
 * venue: the simulated one rejects them INSUFFICIENT_POSITION, a margin account would go
 * short. Only risk's DUPLICATE_ORDER window (default 60 s) hides it by default.
 */
import { describe, expect, it } from 'vitest';
import { drive, json, loadUs, post, rig, stopRig, tempDir, ticks, us, type Rig } from '../support/paper-control-rig.js';

type Line = { symbol: string; quantity: number; action: string; reason?: string; client_order_id?: string };
const sold = (lines: Line[][]) => {
  const out: Record<string, number> = {};
  for (const l of lines.flat()) if (l.action === 'sell') out[l.symbol] = (out[l.symbol] ?? 0) + l.quantity;
  return out;
};
const heldOf = (r: Rig) => Object.fromEntries(Object.entries(r.run.ledger.account('ew').positions).map(([s, p]) => [s, p.quantity]));

describe('flatten twice', () => {
  it('one after the other: the second finds the first one\'s sells open (SELL_PENDING), sells nothing more', async () => {
    const dir = await tempDir();
    const r = await rig(dir, us, await loadUs());
    await drive(r, () => ticks(r).length === 1);
    const held = heldOf(r);
    expect(Object.keys(held).length).toBeGreaterThan(0);
    const a = await json(await post(r.http.url, 'flatten', { signature: 'ew' }));
    const b = await json(await post(r.http.url, 'flatten', { signature: 'ew' }));
    const total = sold([a.body['orders'] as Line[], b.body['orders'] as Line[]]);
    for (const [s, q] of Object.entries(total)) expect(q, `${s}: sold ${q} of ${held[s]} held`).toBeLessThanOrEqual(held[s]!);
    await stopRig(r);
  }, 120_000);

  it('three at once: together they sell at most what is held, each sell its own client order id placed once', async () => {
    const dir = await tempDir();
    const r = await rig(dir, us, await loadUs());
    await drive(r, () => ticks(r).length === 1);
    const held = heldOf(r);
    expect(Object.keys(held).length).toBeGreaterThan(0);
    const results = await Promise.all([1, 2, 3].map(async () => json(await post(r.http.url, 'flatten', { signature: 'ew' }))));
    const lines = results.map((x) => x.body['orders'] as Line[]);
    await drive(r, () => ticks(r).length === 2);
    const news = r.events.filter((e) => e.type === 'order' && e.payload['status'] === 'new' && String(e.payload['clientOrderId']).includes('.FL')).map((e) => String(e.payload['clientOrderId']));
    const ids = lines.flat().filter((l) => l.action === 'sell').map((l) => l.client_order_id!);
    const total = sold(lines);
    // Expected: the answers add up to at most the position (the others SELL_PENDING) ...
    expect(Object.entries(total).filter(([s, q]) => q > held[s]!), `answers sold ${JSON.stringify(total)} of ${JSON.stringify(held)} held`).toEqual([]);
    // ... and no id is answered (or placed) twice.
    expect(new Set(ids).size, `ids answered: ${ids.join(' ')}`).toBe(ids.length);
    expect(new Set(news).size, `orders placed: ${news.join(' ')}`).toBe(news.length);
    await stopRig(r);
  }, 120_000);
});

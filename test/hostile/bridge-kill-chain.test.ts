/**
 * Hostile: a chain of SIGKILLs on a live run through the terminal bridge (fake in its own process).
 * Killed as the first order's submit is handled (`broker.submit:1`: committed as submitting, never
 * sent), then killed again early in the restart (`commit:5`, before the start-up reconciliation is
 * done): the third start must trade the rest of the day. Found: it reconciles ("2 open order(s)
 * resumed"), then the two resumed orders never end, their sessions stay "still running" all day
 * (PREVIOUS_SESSION_RUNNING at every later session), nothing reaches the bridge, and the run exits 0
 * as if all were well (plus a "Daily report cn 2025-10-16" marked at 2025-10-15 23:59).
 * A single kill at either point on its own recovers.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dec } from '../../src/domain/money.js';
import { FakeBridgeProcess } from '../support/fake-bridge/process.js';
import { ALLOCATION, books, DAY, openingPrices, OWN_CASH, plan, runCli, writeConfig } from './cli-rig.js';

let fake: FakeBridgeProcess | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

export async function bridgeDrill(steps: readonly string[]): Promise<{ lastStdout: string; log: string[] }> {
  fake = await FakeBridgeProcess.start({ cash: String(2 * ALLOCATION + OWN_CASH), startMs: Date.parse(`${DAY}T01:30:00Z`) });
  await fake.mode({ fill: 'auto' });
  for (const [s, p] of Object.entries(await openingPrices())) await fake.price(s, p);
  // The grace is wall time: at 2,500x a minute of it is 41 market hours.
  const { dir, file } = await writeConfig({ type: 'bridge', paper: false, unknown_outcome_grace_seconds: 1, bridge: { url: fake.url } });
  const env = { AGENT_TRADER_LIVE: 'I_UNDERSTAND' };
  const out = join(dir, 'out');
  const log: string[] = [];
  for (const fp of steps) {
    const r = await runCli(fake, ['run', '--config', file, '--out', out], { ...env, AGENT_TRADER_FAILPOINT: fp });
    log.push(`${fp}: ${r.signal ?? r.code}`);
    if (r.signal !== 'SIGKILL') expect(r.code, `${log.join(' | ')}\n${r.stderr}`).toBe(0);
  }
  const last = await runCli(fake, ['run', '--config', file, '--out', out], env);
  expect(last.code, `${log.join(' | ')}\n${last.stderr}`).toBe(0);

  const s = await fake.state();
  const { booked, fillIds, last: records } = await books(join(out, 'state'), out);
  const owner = new Map<string, string>();
  for (const [cid, ids] of Object.entries(fillIds)) {
    expect({ cid, dup: ids.filter((x, i) => ids.indexOf(x) !== i) }).toEqual({ cid, dup: [] });
    const entrusts = new Set(ids.map((id) => id.split('.')[1] ?? id));
    expect({ cid, entrusts: entrusts.size }).toEqual({ cid, entrusts: 1 });
    for (const e of entrusts) {
      expect(owner.get(e), `entrust ${e} booked to ${owner.get(e)} and ${cid}`).toBeUndefined();
      owner.set(e, cid);
    }
  }
  for (const e of s.entrusts.filter((x) => x.filled > 0)) expect({ e: e.entrust_no, booked: booked[owner.get(e.entrust_no) ?? ''] ?? 0 }).toEqual({ e: e.entrust_no, booked: e.filled });
  const held: Record<string, number> = {};
  let cash = dec(OWN_CASH);
  for (const { CASH, ...positions } of Object.values(records)) {
    cash = cash.plus(CASH ?? 0);
    for (const [sym, n] of Object.entries(positions)) if (n !== 0) held[sym.slice(0, 6)] = (held[sym.slice(0, 6)] ?? 0) + n;
  }
  expect(held).toEqual(Object.fromEntries(Object.entries(s.holdings).filter(([, h]) => h.qty !== 0).map(([c, h]) => [c, h.qty])));
  expect(dec(s.cash).minus(cash).toFixed()).toBe('0');
  // The day was traded after the kills: the agents placed orders (a clean day makes 5 at 10:35 alone).
  expect(s.entrusts.length, log.join(' | ')).toBeGreaterThan(3);
  return { lastStdout: last.stdout, log };
}

describe('hostile: SIGKILL chains on a live bridge run', () => {
  it('killed at the first submit, then again early in the restart: the third start trades the day, no session stuck', { timeout: 600_000 }, async () => {
    const { lastStdout } = await bridgeDrill(plan('broker.submit:1,commit:5'));
    expect(lastStdout).not.toContain('PREVIOUS_SESSION_RUNNING');
    expect(lastStdout).not.toMatch(/Daily report cn 2025-10-16/);
  });
});

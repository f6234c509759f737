/**
 * Hostile drill: a live run on EastMoney's web session (trading on; the fake in its own process),
 * SIGKILLed at many moments, restarted on the same --out until the day is done. EastMoney cannot
 * carry our client order id: entrust numbers (Wtbh) are mapped to ours. Afterwards: every entrust
 * one order of ours, every filled share booked once, the account = the books + the external cash,
 * the last run exits 0.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dec } from '../../src/domain/money.js';
import { FakeEastMoneyProcess } from '../support/fake-eastmoney/process.js';
import { ALLOCATION, books, DAY, openingPrices, OWN_CASH, plan, runCli, writeConfig } from './cli-rig.js';

let fake: FakeEastMoneyProcess | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

export async function eastmoneyWorld(): Promise<{ fake: FakeEastMoneyProcess; file: string; dir: string; env: NodeJS.ProcessEnv }> {
  const f = await FakeEastMoneyProcess.start({ cash: String(2 * ALLOCATION + OWN_CASH), startMs: Date.parse(`${DAY}T01:30:00Z`) });
  await f.mode({ fill: 'auto' });
  for (const [s, p] of Object.entries(await openingPrices())) await f.price(s, p);
  const { dir, file } = await writeConfig({
    type: 'eastmoney',
    paper: false,
    // The grace is wall time: at 2,500x a minute of it is 41 market hours.
    unknown_outcome_grace_seconds: 1,
    eastmoney: { acknowledge_unofficial: true, base_url: f.baseUrl, trading: true, max_order_shares: 100_000, max_order_value: 10_000_000, cookie_env: 'H_EM_COOKIE', validatekey_env: 'H_EM_VK', request_timeout_seconds: 2 },
  });
  const env = { H_EM_COOKIE: f.cookie, H_EM_VK: f.validatekey, AGENT_TRADER_LIVE: 'I_UNDERSTAND', AGENT_TRADER_EASTMONEY: 'I_ACCEPT_UNOFFICIAL_API' };
  return { fake: f, file, dir, env };
}

describe('hostile: SIGKILL chains on a live EastMoney run (trading on)', () => {
  it('every entrust one order of ours, every fill booked once, the account equal to the books', { timeout: 600_000 }, async () => {
    const w = await eastmoneyWorld();
    fake = w.fake;
    const out = join(w.dir, 'out');
    const log: string[] = [];
    for (const fp of plan('commit:5,broker.accepted:2,broker.fill:1,commit:12,ledger.applyFill:2,commit:30,broker.submit:3')) {
      const r = await runCli(fake, ['run', '--config', w.file, '--out', out], { ...w.env, AGENT_TRADER_FAILPOINT: fp });
      log.push(`${fp}: ${r.signal ?? r.code}`);
      if (r.signal !== 'SIGKILL') expect(r.code, `${log.join(' | ')}\n${r.stderr}`).toBe(0);
    }
    console.log(`drill: ${log.join(" | ")}`);
  expect(log.filter((l) => l.endsWith("SIGKILL")).length, log.join(" | ")).toBeGreaterThanOrEqual(3);
  const last = await runCli(fake, ['run', '--config', w.file, '--out', out], w.env);
    expect(last.code, `${log.join(' | ')}\n${last.stderr}`).toBe(0);

    const s = await fake.state();
    const ours = s.orders.filter((o) => !o.external);
    expect(ours.length, log.join(' | ')).toBeGreaterThan(3);
    const { booked, fillIds, last: records } = await books(join(out, 'state'), out);
    // fill id `<date>_<Wtbh>_<Cjbh>`: the entrust of each booked fill.
    const owner = new Map<string, string>();
    for (const [cid, ids] of Object.entries(fillIds)) {
      expect({ cid, dup: ids.filter((x, i) => ids.indexOf(x) !== i) }).toEqual({ cid, dup: [] });
      const entrusts = new Set(ids.map((id) => id.split(/[_:]/)[1] ?? id));
      expect({ cid, entrusts: entrusts.size }).toEqual({ cid, entrusts: 1 });
      for (const e of entrusts) {
        expect(owner.get(e), `entrust ${e} booked to ${owner.get(e)} and ${cid}`).toBeUndefined();
        owner.set(e, cid);
      }
    }
    for (const o of ours.filter((x) => x.filled > 0)) expect({ wtbh: o.wtbh, booked: booked[owner.get(o.wtbh) ?? ''] ?? 0 }).toEqual({ wtbh: o.wtbh, booked: o.filled });
    const held: Record<string, number> = {};
    let cash = dec(OWN_CASH);
    for (const { CASH, ...positions } of Object.values(records)) {
      cash = cash.plus(CASH ?? 0);
      for (const [sym, n] of Object.entries(positions)) if (n !== 0) held[sym.slice(0, 6)] = (held[sym.slice(0, 6)] ?? 0) + n;
    }
    expect(held).toEqual(Object.fromEntries(s.positions.filter((p) => p.qty !== 0).map((p) => [p.code, p.qty])));
    expect(dec(s.cash).minus(cash).toFixed()).toBe('0');
  });
});

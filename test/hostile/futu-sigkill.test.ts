/**
 * Hostile drill: a live run on Futu OpenD (the fake in its own process), SIGKILLed at many moments
 * (chains of failpoints), restarted on the same --out until the day is done; simulate (polled) and
 * real (unlocked, pushed, every push twice). Afterwards: one order per client order id at OpenD,
 * every filled share booked once to it, the account = the books + the external cash, the last run
 * exits 0.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dec } from '../../src/domain/money.js';
import { FakeFutuProcess } from '../support/fake-futu/process.js';
import { ALLOCATION, books, DAY, OWN_CASH, plan, runCli, writeConfig } from './cli-rig.js';

const SIM = '1001';
const REAL = '281756479845123456';

let fake: FakeFutuProcess | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function drill(real: boolean, steps: readonly string[]): Promise<void> {
  const cash = String(2 * ALLOCATION + OWN_CASH);
  fake = await FakeFutuProcess.start({
    startMs: Date.parse(`${DAY}T01:30:00Z`),
    accounts: [
      { accID: SIM, trdEnv: 0, markets: [3], simAccType: 1, cash },
      { accID: REAL, trdEnv: 1, markets: [1, 4], cash },
    ],
  });
  await fake.mode({ fill: 'immediate' });
  if (real) await fake.dupPushes(100_000);
  const accId = real ? REAL : SIM;
  const { dir, file } = await writeConfig({
    type: 'futu',
    paper: !real,
    account_id: accId,
    ...(real ? { password_env: 'H_FUTU_PWD' } : {}),
    futu: { host: '127.0.0.1', websocket_port: Number(new URL(fake.url).port), websocket_key_env: 'H_FUTU_KEY', trd_market: real ? 'HKCC' : 'CN', keep_alive_seconds: 0, request_timeout_seconds: 2 },
  });
  const env = { H_FUTU_KEY: fake.websocketKey!, H_FUTU_PWD: fake.tradePassword, AGENT_TRADER_LIVE: 'I_UNDERSTAND' };
  const out = join(dir, 'out');
  const log: string[] = [];
  for (const fp of steps) {
    const r = await runCli(fake, ['run', '--config', file, '--out', out], { ...env, AGENT_TRADER_FAILPOINT: fp });
    log.push(`${fp}: ${r.signal ?? r.code}`);
    if (r.signal !== 'SIGKILL') expect(r.code, `${log.join(' | ')}\n${r.stderr}`).toBe(0);
  }
  console.log(`drill: ${log.join(" | ")}`);
  expect(log.filter((l) => l.endsWith("SIGKILL")).length, log.join(" | ")).toBeGreaterThanOrEqual(3);
  const last = await runCli(fake, ['run', '--config', file, '--out', out], env);
  expect(last.code, `${log.join(' | ')}\n${last.stderr}`).toBe(0);

  const s = await fake.state();
  const ours = s.orders.filter((o) => o.acc_id === accId && /^(ew|mom)\./.test(o.remark ?? ''));
  expect(ours.length, log.join(' | ')).toBeGreaterThan(3);
  // One order at OpenD per client order id (never sent twice).
  const remarks = ours.map((o) => o.remark!);
  expect(remarks.filter((r, i) => remarks.indexOf(r) !== i), 'orders sent twice').toEqual([]);
  const { booked, fillIds, last: records } = await books(join(out, 'state'), out);
  // Every filled share booked once, to the order that filled; nothing booked that OpenD did not fill.
  for (const o of ours) expect({ cid: o.remark, booked: booked[o.remark!] ?? 0 }).toEqual({ cid: o.remark, booked: o.fill_qty });
  for (const cid of Object.keys(booked)) expect(remarks, `booked ${cid}, not at OpenD`).toContain(cid);
  for (const [cid, ids] of Object.entries(fillIds)) expect({ cid, dup: ids.filter((x, i) => ids.indexOf(x) !== i) }).toEqual({ cid, dup: [] });
  const account = s.accounts.find((a) => a.acc_id === accId)!;
  const held: Record<string, number> = {};
  let cashBooked = dec(OWN_CASH);
  for (const { CASH, ...positions } of Object.values(records)) {
    cashBooked = cashBooked.plus(CASH ?? 0);
    for (const [sym, n] of Object.entries(positions)) if (n !== 0) held[sym.slice(0, 6)] = (held[sym.slice(0, 6)] ?? 0) + n;
  }
  const atOpenD = Object.fromEntries(Object.entries(account.positions).filter(([, p]) => p.qty !== 0).map(([sym, p]) => [sym.replace(/^[A-Z]+\./, '').slice(0, 6), p.qty]));
  expect(held).toEqual(atOpenD);
  expect(dec(account.cash).minus(cashBooked).toFixed()).toBe('0');
}

describe('hostile: SIGKILL chains on a live Futu run', () => {
  it('simulate environment (polled)', { timeout: 600_000 }, async () => {
    await drill(false, plan('broker.submit:1,commit:5,broker.accepted:2,broker.fill:1,ledger.applyFill:2,commit:30,broker.submit:3'));
  });
  it('real environment (unlocked, every push twice)', { timeout: 600_000 }, async () => {
    await drill(true, plan('broker.submit:1,commit:5,broker.accepted:2,broker.fill:1,ledger.applyFill:2,commit:30,broker.submit:3'));
  });
});

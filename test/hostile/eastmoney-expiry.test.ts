/**
 * Hostile: EastMoney's session expires in the middle of a live run (trading on; the fake in its own
 * process). Trading must halt (BROKER_AUTH_FAILED), nothing is asked of the site again (never
 * retried blindly: the expiry is remembered), no order is placed after it, and the session's secrets
 * (cookie, validatekey) appear nowhere: the log file at trace level, stdout, stderr.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeEastMoneyProcess } from '../support/fake-eastmoney/process.js';
import type { ExpiredAs } from '../support/fake-eastmoney/server.js';
import { ALLOCATION, DAY, openingPrices, OWN_CASH, runCli, writeConfig } from './cli-rig.js';

let fake: FakeEastMoneyProcess | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function expireMidRun(how: ExpiredAs): Promise<void> {
  fake = await FakeEastMoneyProcess.start({ cash: String(2 * ALLOCATION + OWN_CASH), startMs: Date.parse(`${DAY}T01:30:00Z`) });
  await fake.mode({ fill: 'auto' });
  for (const [s, p] of Object.entries(await openingPrices())) await fake.price(s, p);
  const f = fake;
  const { dir, file } = await writeConfig(
    {
      type: 'eastmoney',
      paper: false,
      eastmoney: { acknowledge_unofficial: true, base_url: f.baseUrl, trading: true, max_order_shares: 100_000, max_order_value: 10_000_000, cookie_env: 'H_EM_COOKIE', validatekey_env: 'H_EM_VK', request_timeout_seconds: 2 },
    },
    { log: { level: 'trace', format: 'json', file: '' } },
  );
  // The log file next to the config (set after the dir is known).
  const cfg = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  const logFile = join(dir, 'run.log');
  (cfg['log'] as Record<string, unknown>)['file'] = logFile;
  await (await import('node:fs/promises')).writeFile(file, JSON.stringify(cfg));
  const env = { H_EM_COOKIE: f.cookie, H_EM_VK: f.validatekey, AGENT_TRADER_LIVE: 'I_UNDERSTAND', AGENT_TRADER_EASTMONEY: 'I_ACCEPT_UNOFFICIAL_API' };
  let expiredAt: Promise<number> | undefined;
  const r = await runCli(f, ['run', '--config', file, '--out', join(dir, 'out')], env, (stdout) => {
    // After the first session's orders went out (the 10:35 tick's report), the session dies.
    if (!expiredAt && /completed, \d+ orders/.test(stdout)) expiredAt = f.expire(how).then(async () => (await f.state()).requests.length);
  });
  expect(expiredAt, 'the run never reached a session').toBeDefined();
  const cut = await expiredAt!;
  const s = await f.state();
  const after = s.requests.slice(cut);
  expect(r.stdout + r.stderr).toContain('BROKER_AUTH_FAILED');
  // Never retried blindly: at most the one request that met the dead session, nothing after it.
  expect(after.length, JSON.stringify(after.map((q) => q.path))).toBeLessThanOrEqual(1);
  expect(r.code, r.stderr).toBe(0);
  // The secrets nowhere.
  const log = await readFile(logFile, 'utf8').catch(() => '');
  expect(log.length).toBeGreaterThan(0);
  const pieces = [f.validatekey, f.cookie, ...f.cookie.split(/;\s*/).map((c) => c.split('=')[1]!).filter((v) => v.length >= 8)];
  for (const secret of pieces) {
    expect(r.stdout.includes(secret), `stdout holds ${secret.slice(0, 4)}…`).toBe(false);
    expect(r.stderr.includes(secret), `stderr holds ${secret.slice(0, 4)}…`).toBe(false);
    expect(log.includes(secret), `the log file holds ${secret.slice(0, 4)}…`).toBe(false);
  }
}

describe('hostile: an EastMoney session that expires mid-run', () => {
  it('a redirect to the login page: halted, never asked again, no secret anywhere', { timeout: 300_000 }, async () => {
    await expireMidRun('redirect');
  });
  it('an HTML login page in a 200: halted, never asked again, no secret anywhere', { timeout: 300_000 }, async () => {
    await expireMidRun('html');
  });
});

/**
 * Drills on a live process trading the fake Alpaca's paper account (both real processes; the run on
 * the built-in replay of a day at high speed, the fake following that replay's trades): SIGKILL at
 * chosen moments (src/runtime/failpoint.ts: while a fill, an acceptance, a submit is handled, right
 * after a commit), restart on the same --out until the day is done. Then no order of ours exists
 * twice at the broker, every share Alpaca filled is in the ledger once (none lost, none invented),
 * and the account equals the agents' books plus the external book. The second drill kills right
 * after the first commits of a start (the start-up reconciliation's own, twice in a row), at several
 * commits in a row, and while the fake holds every stream update back (fills known by REST only).
 * The test waits for the processes' exits and output, never for a length of time.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { dec } from '../../src/domain/money.js';
import { FakeAlpacaProcess } from '../support/fake-alpaca/process.js';
import { ROOT } from '../support/cli.js';
import { books, runFollowing } from '../support/live-drill.js';

const SAMPLE = join(ROOT, 'data/sample/us_hourly.jsonl');
const DAY = '2025-11-07';
const ENV = { DRILL_ALPACA_KEY: 'PKFAKEKEY0001', DRILL_ALPACA_SECRET: 'fake-secret-0001' };

async function liveConfig(f: FakeAlpacaProcess): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-live-drill-'));
  const file = join(dir, 'live.json');
  await writeFile(
    file,
    JSON.stringify({
      mode: 'live',
      market: 'us',
      frequency: 'hourly',
      schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'] },
      data_source: { type: 'replay', bars_file: SAMPLE, replay_date: DAY, replay_speed: 2_500, stale_quote_seconds: 1800 },
      broker: { type: 'alpaca', paper: true, base_url: f.baseUrl, api_key_env: 'DRILL_ALPACA_KEY', api_secret_env: 'DRILL_ALPACA_SECRET', alpaca: { stream_url: f.streamUrl } },
      risk_control: { min_cash_reserve: 1000 },
      models: [
        { name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
        { name: 'Mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
      ],
      agent_config: { initial_cash: 10000 },
      server: { port: 0 },
      log: { file: join(dir, 'log.jsonl') },
      state_dir: join(dir, 'state'),
    }),
  );
  return { dir, file };
}

const run = (f: FakeAlpacaProcess, args: readonly string[], env: NodeJS.ProcessEnv = {}) => runFollowing(f, args, { ...ENV, ...env });

/** The fake primed with the day's opening prices (before the replay's first trade reaches it). */
async function startFake(): Promise<FakeAlpacaProcess> {
  const f = await FakeAlpacaProcess.start({ startMs: Date.UTC(2025, 10, 7, 14, 0) });
  const history = await loadPriceStore(SAMPLE, { market: 'us' });
  const open = DateTime.fromISO(`${DAY}T09:30`, { zone: 'America/New_York' });
  for (const s of history.symbols()) {
    const p = history.priceAsOf(s, open);
    if (p) await f.price(s, p.price.toFixed());
  }
  return f;
}

/**
 * Each failpoint in turn (the fake's stream holding its updates back where asked), then a run to the
 * end of the day; then: one order per client order id at the broker (a submit sent again after a kill
 * is answered 422 "must be unique"), every share Alpaca filled in the ledger once, the account = the
 * agents' last records + the external book (cash only: 100,000 - 2 x 10,000), to the cent.
 */
async function drill(f: FakeAlpacaProcess, plan: readonly { fp: string; hold?: boolean }[]): Promise<{ kills: number; dir: string; last: Awaited<ReturnType<typeof run>> }> {
  const { dir, file } = await liveConfig(f);
  const out = join(dir, 'killed');
  let kills = 0;
  for (const { fp, hold } of plan) {
    await f.stream({ hold: hold ?? false });
    const r = await run(f, ['run', '--config', file, '--out', out], { AGENT_TRADER_FAILPOINT: fp });
    if (r.signal === 'SIGKILL') kills++;
    else expect(r.code, `${fp}: ${r.stderr}`).toBe(0);
  }
  // What the stream held is sent now, to nobody: Alpaca does not replay it.
  await f.release();
  await f.stream({ hold: false });
  const last = await run(f, ['run', '--config', file, '--out', out]);
  expect(last.code, last.stderr).toBe(0);
  expect(last.stdout).toContain('BROKER_RECONCILED');

  const state = await f.state();
  const ours = state.orders.filter((o) => /^(ew|mom)\./.test(o.client_order_id));
  expect(ours.length).toBeGreaterThan(3);
  expect(new Set(ours.map((o) => o.client_order_id)).size).toBe(ours.length);
  const accepted = state.requests.filter((q) => q.method === 'POST' && q.path === '/v2/orders' && q.status === 200).map((q) => q.clientOrderId);
  expect(new Set(accepted).size).toBe(accepted.length);
  const { booked, last: records } = await books(out);
  const filled = Object.fromEntries(ours.filter((o) => Number(o.filled_qty) > 0).map((o) => [o.client_order_id, Number(o.filled_qty)]));
  expect(booked).toEqual(filled);
  const held: Record<string, number> = {};
  let cash = dec(80_000);
  for (const { CASH, ...positions } of Object.values(records)) {
    cash = cash.plus(CASH ?? 0);
    for (const [s, n] of Object.entries(positions)) if (n !== 0) held[s] = (held[s] ?? 0) + n;
  }
  expect(held).toEqual(Object.fromEntries(Object.entries(state.positions).filter(([, n]) => n !== 0)));
  // Alpaca books cash to the cent, as the ledger does: equal.
  expect(dec(state.cash).minus(cash).toFixed()).toBe('0');
  return { kills, dir, last };
}

let fake: FakeAlpacaProcess | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

describe('drill: SIGKILL a live run on the fake Alpaca and start it again', () => {
  it('sends no order twice, loses no fill, invents none, and ends with the account equal to the books', { timeout: 400_000 }, async () => {
    fake = await startFake();
    const { kills } = await drill(fake, ['broker.accepted:2', 'broker.fill:1', 'commit:1', 'broker.submit:3', 'ledger.applyFill:4', 'commit:25', 'broker.fill:6'].map((fp) => ({ fp })));
    expect(kills).toBeGreaterThanOrEqual(4);
  });

  it('the same at its first commits, again and again, and with the stream silent; the keys never reach the log or the output', { timeout: 600_000 }, async () => {
    fake = await startFake();
    const { kills, dir, last } = await drill(fake, [
      // The stream says nothing: what fills is learned by REST (the submit's answer, the catch-up).
      { fp: 'broker.submit:2', hold: true },
      { fp: 'commit:1', hold: true },
      { fp: 'commit:1' },
      { fp: 'commit:2' },
      { fp: 'commit:3' },
      { fp: 'commit:4' },
      { fp: 'broker.fill:2' },
      { fp: 'broker.fill:2' },
      { fp: 'broker.accepted:1' },
      { fp: 'commit:9' },
    ]);
    expect(kills).toBeGreaterThanOrEqual(6);
    const log = await readFile(join(dir, 'log.jsonl'), 'utf8').catch(() => '');
    for (const text of [log, last.stdout, last.stderr]) expect(text).not.toContain(ENV.DRILL_ALPACA_SECRET);
  });
});

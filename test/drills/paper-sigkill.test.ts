/**
 * Drills on the paper process (`run` on the built-in replay of a day, a real process on the
 * wall clock at high speed): SIGKILL at chosen moments (src/runtime/failpoint.ts: while a
 * fill, a risk approval, a submit is handled, right after a commit), restart on the same
 * --out until the day is done. Then the venue, the ledger and position.jsonl agree fill for
 * fill, no client order id reached the venue twice, and the orders and share counts are the
 * uninterrupted run's. And the kill switch thrown while the process is down holds: no order
 * reaches the venue after the restart.
 * The tests wait for the processes' exits and output, never for a length of time.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadVenueState } from '../../src/runtime/assemble.js';
import { openStore } from '../../src/actors/store/store.js';
import { cli, ROOT } from '../support/cli.js';

const SAMPLE = join(ROOT, 'data/sample/us_hourly.jsonl');

async function paperConfig(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-paper-drill-'));
  const file = join(dir, 'paper.json');
  await writeFile(
    file,
    JSON.stringify({
      mode: 'paper',
      market: 'us',
      frequency: 'hourly',
      schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'] },
      data_source: { type: 'replay', bars_file: SAMPLE, replay_speed: 2_500, stale_quote_seconds: 1800 },
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

function run(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli/main.ts`, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

interface Books {
  /** client order id -> filled shares, of every order the venue has. */
  readonly orders: Record<string, number>;
  readonly venue: Record<string, Record<string, number>>;
  readonly ledgerFills: Set<string>;
  readonly venueFills: Set<string>;
  readonly lastRecord: Record<string, Record<string, number>>;
}

async function books(out: string): Promise<Books> {
  const store = await openStore(join(out, 'state'));
  try {
    // No venue snapshot yet: nothing ever reached the venue.
    const venue = (await loadVenueState(store)) ?? { accounts: {}, orders: [], liquidity: {} };
    const ledgerFills = new Set<string>();
    for await (const { key } of store.listRecords('ledger-fills')) ledgerFills.add(key);
    const venueFills = new Set<string>();
    const orders: Record<string, number> = {};
    for (const o of venue.orders) {
      expect(orders[o.order.clientOrderId], `${o.order.clientOrderId} reached the venue twice`).toBeUndefined();
      orders[o.order.clientOrderId] = o.filledQuantity;
      for (const f of o.fills) venueFills.add(JSON.stringify([o.order.signature, f.fillId]));
    }
    // A submit the venue already had is answered DUPLICATE_CLIENT_ORDER_ID: the journal of
    // every message must hold none (a restart asks for the status, it never sends again).
    for await (const { entry } of store.readJournal<{ event?: { type?: string; reason?: string } }>()) {
      expect(entry.event?.type === 'broker.rejected' && entry.event.reason === 'DUPLICATE_CLIENT_ORDER_ID', JSON.stringify(entry)).toBe(false);
    }
    const positions: Books['venue'] = {};
    for (const [sig, a] of Object.entries(venue.accounts)) {
      positions[sig] = Object.fromEntries(Object.entries(a.lots).map(([sym, lots]) => [sym, lots.reduce((n, l) => n + l.quantity, 0)]).filter(([, n]) => n !== 0));
    }
    const lastRecord: Books['lastRecord'] = {};
    for (const sig of Object.keys(venue.accounts)) {
      const text = await readFile(join(out, sig, 'position.jsonl'), 'utf8').catch(() => '');
      if (!text) continue; // no session recorded yet
      const lines = text.trim().split('\n');
      const { CASH: _cash, ...held } = (JSON.parse(lines.at(-1)!) as { positions: Record<string, number> }).positions;
      lastRecord[sig] = Object.fromEntries(Object.entries(held).filter(([, n]) => n !== 0));
    }
    return { orders, venue: positions, ledgerFills, venueFills, lastRecord };
  } finally {
    await store.close();
  }
}

describe('drill: SIGKILL a paper run and start it again', () => {
  it('loses no fill, invents none, sends no order twice, and ends with the uninterrupted run\'s orders', { timeout: 400_000 }, async () => {
    const { dir, file } = await paperConfig();
    const straight = join(dir, 'straight');
    const whole = await run(['run', '--config', file, '--out', straight]);
    expect(whole.code, whole.stderr).toBe(0);
    const expected = await books(straight);
    expect(Object.values(expected.orders).filter((n) => n > 0).length).toBeGreaterThan(3);

    const out = join(dir, 'killed');
    let kills = 0;
    // commit:1 twice after a kill: the restart's first commit (the resume, the re-asked requests) dies too, twice in a row.
    for (const fp of ['risk.approved:2', 'broker.fill:1', 'commit:1', 'commit:1', 'commit:15', 'broker.submit:3', 'ledger.applyFill:4', 'broker.fill:6']) {
      const r = await run(['run', '--config', file, '--out', out], { AGENT_TRADER_FAILPOINT: fp });
      if (r.signal === 'SIGKILL') kills++;
      else expect(r.code, `${fp}: ${r.stderr}`).toBe(0);
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    const last = await run(['run', '--config', file, '--out', out]);
    expect(last.code, last.stderr).toBe(0);
    const got = await books(out);
    // Venue, ledger and position.jsonl agree fill for fill and share for share.
    expect([...got.ledgerFills].sort()).toEqual([...got.venueFills].sort());
    expect(got.lastRecord).toEqual(got.venue);
    // And it is the run that was never interrupted.
    expect(got.orders).toEqual(expected.orders);
    expect(got.venue).toEqual(expected.venue);
  });

  it('a kill switch thrown while the process is down holds after the restart: no order reaches the venue', { timeout: 200_000 }, async () => {
    const { dir, file } = await paperConfig();
    const out = join(dir, 'run');
    // Killed while its third order is being submitted: two are at the venue, the third in flight.
    const first = await run(['run', '--config', file, '--out', out], { AGENT_TRADER_FAILPOINT: 'broker.submit:3' });
    expect(first.signal).toBe('SIGKILL');
    // The switch lives in the config's state_dir, as an operator throws it.
    const kill = cli(['kill', '--config', file, '--reason', 'drill']);
    expect(kill.code, kill.stderr).toBe(0);
    const before = await books(out);
    expect(Object.keys(before.orders).length).toBe(2);
    const again = await run(['run', '--config', file, '--out', out]);
    expect(again.code, again.stderr).toBe(0);
    const after = await books(out);
    expect(after.orders).toEqual(before.orders);
    expect(after.venueFills).toEqual(before.venueFills);
    expect(again.stdout).toContain('KILL_SWITCH');
  });
});

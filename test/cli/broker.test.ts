/**
 * `agent-trader broker status|positions|orders|fills`: real CLI processes against the fake Alpaca
 * (its own process), next to a run's state dir written by the real engine runtime and the real
 * ledger. The account and the ledger are made to agree on some things and differ on others:
 *
 *   at the fake (placed through AlpacaBroker)      in the ledger (state_dir)
 *   ew  AAPL 10 limit, resting                     the same order, accepted (engine)
 *   ew  MSFT 5, filled                             its fill (by execution id)
 *   mom AAPL 2, filled                             -                                 fill, position
 *   mom MSFT 1 limit, resting                      -                                 open order
 *   external NVDA 3 (the user's app), filled       -                                 fill, position
 *   -                                              mom NVDA 10 limit, accepted       open order
 *   -                                              ew AAPL 1 fill "ghost"            fill, position
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/actors/ledger/ledger.js';
import { openStore } from '../../src/actors/store/store.js';
import type { Fill } from '../../src/domain/orders.js';
import type { PointInTimeView } from '../../src/domain/point-in-time.js';
import { startEngine } from '../../src/runtime/engine-runtime.js';
import { cliAsync } from '../support/cli.js';
import { engineInput, tick } from '../support/engine-harness.js';
import { fillsOf, order, startWorld, T0, type BrokerWorld } from '../support/fake-alpaca/harness.js';
import { FakeAlpacaProcess } from '../support/fake-alpaca/process.js';
import { World } from '../support/world.js';

const ZONE = 'America/New_York';
const AT = DateTime.fromMillis(T0, { zone: ZONE }).set({ minute: 5 }); // 10:05 New York
const noPrices = (at: DateTime): PointInTimeView => ({ at, symbols: () => [], price: () => undefined, bars: () => [], previousClose: () => undefined, labelledBar: () => undefined });

let root: string;
let runDir: string;
let fake: FakeAlpacaProcess;
let world: BrokerWorld;
let env: NodeJS.ProcessEnv;
let configFile: string;
/** Client order ids the engine gave its two open orders. */
let engineAapl: string;
let engineNvda: string;

const config = (over: Record<string, unknown> = {}) => ({
  mode: 'paper',
  market: 'us',
  frequency: 'hourly',
  data_source: { type: 'replay', replay_url: 'ws://127.0.0.1:9/v2/replay' },
  broker: { type: 'alpaca', base_url: fake.baseUrl, api_key_env: 'BT_ALPACA_KEY', api_secret_env: 'BT_ALPACA_SECRET' },
  models: [
    { name: 'EW', signature: 'ew', agent: { kind: 'rules' } },
    { name: 'MOM', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum' } },
  ],
  state_dir: runDir,
  ...over,
});

async function writeConfig(name: string, over: Record<string, unknown> = {}): Promise<string> {
  const file = join(root, name);
  await writeFile(file, JSON.stringify(config(over)));
  return file;
}

/** The engine's open orders, written by the real runtime into `<runDir>/state`, and the ledger's fills. */
async function writeRun(fills: readonly { cid: string; signature: string; symbol: string; fill: Fill }[]): Promise<void> {
  const store = await openStore(join(runDir, 'state'));
  const w = new World(AT.toMillis(), {
    // One resting order per agent: a session waits for its order's end before its next intent.
    intents: { ew: [{ side: 'buy', symbol: 'AAPL', quantity: 10, type: 'limit', limitPrice: '260' }], mom: [{ side: 'buy', symbol: 'NVDA', quantity: 10, type: 'limit', limitPrice: '150' }] },
    venue: { AAPL: 'rest', NVDA: 'rest' },
  });
  const runtime = await startEngine({ store, input: engineInput({ market: 'us', frequency: 'hourly', agents: [{ signature: 'ew', enabled: true }, { signature: 'mom', enabled: true }] }), actors: w.actors(), now: () => w.now });
  runtime.send(tick({ market: 'us', frequency: 'hourly', at: AT.toISO()!, atMs: AT.toMillis(), nextOpenMs: AT.toMillis(), tsEvent: AT.toMillis() }));
  while (w.step()); // messages only: the limit orders rest (their timeouts never fire)
  await runtime.flush();
  await runtime.stop();
  const cids = [...w.venue.keys()];
  engineAapl = cids.find((c) => w.venue.get(c)!.request.symbol === 'AAPL')!;
  engineNvda = cids.find((c) => w.venue.get(c)!.request.symbol === 'NVDA')!;
  const ledger = new Ledger({ market: 'us', frequency: 'hourly', signatures: [{ signature: 'ew', initialCash: '10000' }, { signature: 'mom', initialCash: '10000' }], store, stateDir: runDir, view: noPrices, fsync: false });
  for (const f of fills) await ledger.applyFill({ signature: f.signature, clientOrderId: f.cid, intent: { side: 'buy', symbol: f.symbol, quantity: f.fill.quantity, type: 'market' }, fill: f.fill });
  await store.close();
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-trader-broker-cli-'));
  runDir = join(root, 'run');
  fake = await FakeAlpacaProcess.start({ startMs: T0 });
  await fake.price('AAPL', '270.25');
  await fake.price('MSFT', '500');
  await fake.price('NVDA', '190.5');
  world = await startWorld({}, fake);
  env = { ...process.env, BT_ALPACA_KEY: fake.key, BT_ALPACA_SECRET: fake.secret };

  // The ledger first (the engine's client order ids are needed at the fake).
  const msft = 'ew.20251107T1005.9';
  await world.broker.submit(order(msft, { symbol: 'MSFT', quantity: 5 }));
  await world.broker.settled();
  const [msftFill] = fillsOf(world.updates, msft);
  await writeRun([
    { cid: msft, signature: 'ew', symbol: 'MSFT', fill: msftFill! },
    { cid: 'ew.20251107T1005.8', signature: 'ew', symbol: 'AAPL', fill: { fillId: 'ghost', quantity: 1, price: '270.25', fee: '0', atMs: T0 + 60_000 } },
  ]);
  await world.broker.submit(order(engineAapl, { type: 'limit', limitPrice: '260', quantity: 10 }));
  await world.broker.submit(order('mom.20251107T1005.7', { quantity: 2 }));
  await world.broker.submit(order('mom.20251107T1005.8', { symbol: 'MSFT', type: 'limit', limitPrice: '400', quantity: 1 }));
  await fake.externalOrder({ symbol: 'NVDA', side: 'buy', qty: 3 });
  await world.broker.settled();
  configFile = await writeConfig('paper.json');
}, 60_000);

afterAll(async () => {
  await world?.stop();
  await fake?.stop();
  await rm(root, { recursive: true, force: true });
});

const json = async (args: string[], e = env) => {
  const r = await cliAsync(['broker', ...args, '--config', configFile, '--json'], { env: e });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout + r.stderr).not.toContain(fake.secret);
  return JSON.parse(r.stdout) as Record<string, unknown> & { differences: number };
};

describe('agent-trader broker', () => {
  it('positions, orders, fills, status: the broker next to the ledger, the differences marked (JSON)', async () => {
    // One after the other: each opens the run's LevelDB, which takes one process at a time.
    const positions = await json(['positions']);
    const orders = (await json(['orders'])) as unknown as { orders: Record<string, unknown>[]; differences: number };
    const fills = (await json(['fills', '--since', '2025-11-07'])) as unknown as { since: string; fills: Record<string, unknown>[]; differences: number };
    const status = await json(['status']);
    const head = { broker: { type: 'alpaca', paper: true, base_url: fake.baseUrl }, ledger: { state_dir: runDir, available: true } };

    expect(positions).toEqual({
      ...head,
      positions: [
        { symbol: 'AAPL', broker: 2, ledger: 1, signatures: { ew: 1 }, difference: 1, differs: true },
        { symbol: 'MSFT', broker: 5, ledger: 5, signatures: { ew: 5 }, difference: 0, differs: false },
        { symbol: 'NVDA', broker: 3, ledger: 0, signatures: {}, difference: 3, differs: true },
      ],
      differences: 2,
    });

    const rows = orders.orders;
    expect(rows.map((o) => [o['client_order_id'], o['signature'], o['differs'], o['note'] ?? null])).toEqual(
      [
        [engineAapl, 'ew', false, null],
        [engineNvda, 'mom', true, 'not open at the broker (the ledger has it accepted)'],
        ['mom.20251107T1005.8', 'mom', true, 'open at the broker, unknown to the ledger'],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    );
    expect(rows.find((o) => o['client_order_id'] === engineAapl)).toMatchObject({
      ours: true,
      symbol: 'AAPL',
      side: 'buy',
      quantity: 10,
      broker: { status: 'new', filled_quantity: 0 },
      ledger: { state: 'accepted', filled_quantity: 0 },
    });
    expect(orders.differences).toBe(2);

    const f = fills;
    expect(f.since).toBe('2025-11-07');
    expect(f.fills.map((x) => [x['client_order_id'], x['symbol'], x['quantity'], x['broker'], x['ledger'], x['differs'], x['note'] ?? null])).toEqual([
      ['ew.20251107T1005.9', 'MSFT', 5, true, true, false, null],
      ['mom.20251107T1005.7', 'AAPL', 2, true, false, true, 'at the broker, not in the ledger'],
      [expect.any(String), 'NVDA', 3, true, false, true, 'external: not placed by agent-trader'], // the other app's own client order id
      ['ew.20251107T1005.8', 'AAPL', 1, false, true, true, 'in the ledger, not reported by the broker'],
    ]);
    expect(f.fills[0]).toMatchObject({ fill_id: fillsOf(world.updates, 'ew.20251107T1005.9')[0]!.fillId, signature: 'ew', ours: true, side: 'buy', price: '500' });
    expect(String(f.fills[0]!['time'])).toMatch(/^2025-11-07T10:00:00(\.\d+)?-05:00$/);
    expect(fills.differences).toBe(3);

    // 100,000 - 2,500 (MSFT) - 540.50 (AAPL) - 571.50 (NVDA); the ledger: ew 10,000 - 2,500 - 270.25, mom 10,000.
    expect(status).toMatchObject({
      ...head,
      account: { status: 'ACTIVE', currency: 'USD', cash: '96388' },
      signatures: [
        { signature: 'ew', cash: '7229.75', positions: 2, open_orders: 1 },
        { signature: 'mom', cash: '10000', positions: 0, open_orders: 1 },
      ],
      cash: { broker: '96388', ledger: '17229.75', difference: '79158.25', differs: true },
      positions: { broker: 3, ledger: 2, differing: 2 },
      open_orders: { broker: 2, ledger: 2, differing: 2 },
      differences: 5,
    });
  }, 60_000);

  it('prints tables with the differing rows marked, and how many differ', async () => {
    const positions = await cliAsync(['broker', 'positions', '--config', configFile], { env });
    const orders = await cliAsync(['broker', 'orders', '--config', configFile], { env });
    expect(positions.code, positions.stderr).toBe(0);
    expect(positions.stdout).toContain(`broker  alpaca paper account at ${fake.baseUrl}`);
    expect(positions.stdout).toContain(`ledger  ${runDir}`);
    expect(positions.stdout).toMatch(/^!\s+AAPL\s+2\s+1\s+1\s+ew 1$/m);
    expect(positions.stdout).toMatch(/^\s+MSFT\s+5\s+5\s+0\s+ew 5$/m);
    expect(positions.stdout).toMatch(/^2 differences \(marked !\)$/m);
    expect(orders.code, orders.stderr).toBe(0);
    expect(orders.stdout).toMatch(new RegExp(`^!\\s+${engineNvda.replace(/\./g, '\\.')}\\s+NVDA\\s+buy\\s+10\\s+-\\s+accepted 0\\s+not open at the broker`, 'm'));
    expect(orders.stdout).not.toContain(fake.key);
  }, 60_000);

  it('without a run in state_dir, or while a process holds it, shows the broker side alone and says why', async () => {
    const missing = await writeConfig('no-run.json', { state_dir: join(root, 'nothing-here') });
    const lone = await cliAsync(['broker', 'positions', '--config', missing, '--json'], { env });
    expect(lone.code, lone.stderr).toBe(0);
    const out = JSON.parse(lone.stdout) as { ledger: { available: boolean; note: string }; positions: { symbol: string; ledger: null; differs: boolean }[]; differences: number };
    expect(out.ledger).toEqual({ state_dir: join(root, 'nothing-here'), available: false, note: `no run at ${join(root, 'nothing-here')}: no such directory; only the broker's side is shown` });
    expect(out.positions.map((p) => [p.symbol, p.ledger, p.differs])).toEqual([
      ['AAPL', null, false],
      ['MSFT', null, false],
      ['NVDA', null, false],
    ]);
    expect(out.differences).toBe(0);

    const held = await openStore(join(runDir, 'state'));
    try {
      const busy = await cliAsync(['broker', 'orders', '--config', configFile, '--json'], { env });
      expect(busy.code, busy.stderr).toBe(0);
      expect((JSON.parse(busy.stdout) as { ledger: { note: string } }).ledger.note).toMatch(/is already in use by another agent-trader process .*the running process shows its ledger at \/api\/state\); only the broker's side is shown$/);
    } finally {
      await held.close();
    }
  }, 60_000);

  it('refuses (exit 2) a config without a real broker, keys that are not set, and keys Alpaca refuses, never printing them', async () => {
    const simulated = await writeConfig('simulated.json', { broker: { type: 'simulated' } });
    const noKeys = { ...env };
    delete noKeys['BT_ALPACA_SECRET'];
    const [sim, unset, wrong] = await Promise.all([
      cliAsync(['broker', 'status', '--config', simulated], { env }),
      cliAsync(['broker', 'status', '--config', configFile], { env: noKeys }),
      cliAsync(['broker', 'status', '--config', configFile], { env: { ...env, BT_ALPACA_KEY: 'PKNOTTHEKEY', BT_ALPACA_SECRET: 'not-the-secret' } }),
    ]);
    expect(sim.code).toBe(2);
    expect(sim.stderr).toContain("error: broker.type is simulated: the broker command reads a real broker's account (alpaca)");
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('environment variable BT_ALPACA_SECRET is not set (named by broker.api_secret_env)');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('error: Alpaca refused the keys (401) asking for the account: check broker.api_key_env and broker.api_secret_env');
    expect(wrong.stdout + wrong.stderr).not.toMatch(/PKNOTTHEKEY|not-the-secret/);
  }, 60_000);
});

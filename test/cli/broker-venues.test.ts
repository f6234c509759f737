/**
 * `agent-trader broker status|positions|orders|fills` on the venues (real CLI processes): the fake
 * terminal bridge and the fake Futu OpenD, each in its own process, next to a run's state dir
 * written by the real engine runtime and the real ledger. The CLI's clock is the fakes' day
 * (AGENT_TRADER_NOW: the bridge's rows carry times of day only, read on "today").
 *
 * The bridge cannot carry our client order id: the run's committed state maps its entrust numbers
 * to ours (an open order's brokerOrderId in the engine, a booked fill's deal id in the ledger).
 *
 *   at the fake bridge (placed through BridgeAdapter)     in the ledger (state_dir)
 *   ew  600519.SH 100 limit 1500, resting                   the same order, accepted, its entrust no. (engine)
 *   ew  000001.SZ 200, filled                               its fill (by deal id)
 *   external 600036.SH 100 limit 30, resting                -                                 open order
 *   external 600036.SH 100, filled                          -                                 fill, position
 *   -                                                       mom 601318.SH 100 limit, accepted open order
 *   hand position 601318.SH 300                             -                                 position
 *
 * Futu (simulate, CN) carries our id in the remark and lists no fills: each order's totals are one
 * fill, against the ledger's fills of that order (one per increase the run saw).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { fromCallback, type AnyActorRef } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeAdapter } from '../../src/actors/brokers/bridge/adapter.js';
import { FUTU_CMDS } from '../../src/actors/brokers/futu/protos.js';
import { Ledger } from '../../src/actors/ledger/ledger.js';
import { openStore } from '../../src/actors/store/store.js';
import type { AnyMessage } from '../../src/domain/messages.js';
import type { Fill, OrderIntent } from '../../src/domain/orders.js';
import type { PointInTimeView } from '../../src/domain/point-in-time.js';
import { startEngine } from '../../src/runtime/engine-runtime.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { cliAsync } from '../support/cli.js';
import { engineInput, tick } from '../support/engine-harness.js';
import { FakeBridgeProcess } from '../support/fake-bridge/process.js';
import { order as futuOrder, startWorld as startFutuWorld, until, type FutuWorld } from '../support/fake-futu/harness.js';
import { World } from '../support/world.js';

const ZONE = 'Asia/Shanghai';
/** 2025-11-07 10:00 Shanghai, a Friday: both fakes' clock. */
const T0 = Date.UTC(2025, 10, 7, 2, 0, 0);
const AT = DateTime.fromMillis(T0, { zone: ZONE });
const NOW = AT.toISO()!;
const noPrices = (at: DateTime): PointInTimeView => ({ at, symbols: () => [], price: () => undefined, bars: () => [], previousClose: () => undefined, labelledBar: () => undefined });
const READ_ROUTES = new Set(['/prepare', '/balance', '/position', '/today_entrusts', '/today_trades']);

let root: string;

/** The engine's open orders (the broker's numbers as it answered them) and the ledger's fills, into `<dir>/state`. */
async function writeRun(dir: string, o: { intents: Record<string, readonly OrderIntent[]>; numbers: Record<string, string>; fills: readonly { cid: string; signature: string; symbol: string; fill: Fill }[] }): Promise<string[]> {
  const store = await openStore(join(dir, 'state'));
  const cids: string[] = [];
  const signatures = Object.keys(o.intents);
  if (Object.values(o.intents).some((i) => i.length > 0)) {
    const w = new World(T0, { intents: o.intents });
    // The broker takes every order and answers with the number the fake gave it (by symbol).
    const broker = fromCallback<AnyMessage>(({ receive, system }) =>
      receive((m) => {
        if (m.type !== 'broker.submit') return;
        cids.push(m.order.clientOrderId);
        (system.get(m.replyTo) as AnyActorRef | undefined)?.send({ type: 'broker.accepted', clientOrderId: m.order.clientOrderId, brokerOrderId: o.numbers[m.order.symbol]!, tsEvent: T0 });
      }),
    );
    const runtime = await startEngine({ store, input: engineInput({ market: 'cn', frequency: 'hourly', agents: signatures.map((signature) => ({ signature, enabled: true })) }), actors: { ...w.actors(), broker }, now: () => w.now });
    runtime.send(tick({ market: 'cn', frequency: 'hourly', at: NOW, atMs: T0, nextOpenMs: T0, tsEvent: T0 }));
    while (w.step());
    await runtime.flush();
    await runtime.stop();
  }
  const ledger = new Ledger({ market: 'cn', frequency: 'hourly', signatures: signatures.map((signature) => ({ signature, initialCash: '100000' })), store, stateDir: dir, view: noPrices, fsync: false });
  for (const f of o.fills) await ledger.applyFill({ signature: f.signature, clientOrderId: f.cid, intent: { side: 'buy', symbol: f.symbol, quantity: f.fill.quantity, type: 'market' }, fill: f.fill });
  await store.close();
  return cids;
}

const models = [
  { name: 'EW', signature: 'ew', agent: { kind: 'rules' } },
  { name: 'MOM', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum' } },
];

async function writeConfig(name: string, broker: Record<string, unknown>, stateDir: string): Promise<string> {
  const file = join(root, name);
  await writeFile(file, JSON.stringify({ mode: 'live', market: 'cn', frequency: 'hourly', data_source: { type: 'replay', replay_url: 'ws://127.0.0.1:9/v2/replay' }, broker, models, state_dir: stateDir, risk_control: { live_ramp: { start_cap: 1_000_000, growth_per_trading_day: 0, max: 1_000_000 } } }));
  return file;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-trader-broker-venues-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

type Json = Record<string, unknown> & { differences: number };

describe('agent-trader broker on the terminal bridge', () => {
  let fake: FakeBridgeProcess;
  let refusing: FakeBridgeProcess;
  let runDir: string;
  let configFile: string;
  let engineMoutai: string;
  let engineMom: string;
  let pinganFill: Fill;
  const env = { ...process.env, AGENT_TRADER_NOW: NOW };

  beforeAll(async () => {
    runDir = join(root, 'bridge-run');
    [fake, refusing] = await Promise.all([FakeBridgeProcess.start({ startMs: T0 }), FakeBridgeProcess.start({ startMs: T0, token: 'tok-right-0001' })]);
    await fake.price('600519.SH', '1500');
    await fake.price('000001.SZ', '11.25');
    await fake.price('600036.SH', '30');
    const adapter = new BridgeAdapter({ baseUrl: fake.url, client: 'universal_client', login: {}, scheduler: new EpochVirtualScheduler(T0) });
    await adapter.connect();
    const moutai = await adapter.place({ clientOrderId: 'x.1', signature: 'ew', side: 'buy', symbol: '600519.SH', quantity: 100, type: 'limit', limitPrice: '1500' });
    const pingan = await adapter.place({ clientOrderId: 'x.2', signature: 'ew', side: 'buy', symbol: '000001.SZ', quantity: 200, type: 'limit', limitPrice: '11.25' });
    await fake.fill(pingan.brokerOrderId);
    await fake.externalOrder({ security: '600036', side: 'buy', price: '30', amount: 100 });
    const sold = await fake.externalOrder({ security: '600036', side: 'buy', price: '30', amount: 100 });
    await fake.fill(sold.entrust_no);
    await fake.position('601318', 300);
    const deal = (await adapter.fills()).find((f) => f.brokerOrderId === pingan.brokerOrderId)!;
    pinganFill = { fillId: deal.fillId, quantity: deal.quantity, price: deal.price, fee: '0', atMs: deal.atMs };
    adapter.close();
    const cids = await writeRun(runDir, {
      intents: { ew: [{ side: 'buy', symbol: '600519.SH', quantity: 100, type: 'limit', limitPrice: '1500' }], mom: [{ side: 'buy', symbol: '601318.SH', quantity: 100, type: 'limit', limitPrice: '40' }] },
      numbers: { '600519.SH': moutai.brokerOrderId, '601318.SH': '999999' },
      fills: [{ cid: 'ew.20251107T1000.7', signature: 'ew', symbol: '000001.SZ', fill: pinganFill }],
    });
    engineMoutai = cids.find((c) => c.startsWith('ew.'))!;
    engineMom = cids.find((c) => c.startsWith('mom.'))!;
    configFile = await writeConfig('bridge.json', { type: 'bridge', paper: false, bridge: { url: fake.url, prepare: true } }, runDir);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([fake?.stop(), refusing?.stop()]);
  });

  const json = async (args: string[]) => {
    const r = await cliAsync(['broker', ...args, '--config', configFile, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Json;
  };

  it('positions, orders, fills, status: entrust numbers mapped to our client order ids, differences marked (JSON), read-only', async () => {
    const before = (await fake.state()).requests.length;
    const positions = await json(['positions']);
    const orders = (await json(['orders'])) as unknown as { orders: Record<string, unknown>[]; differences: number };
    const fills = (await json(['fills'])) as unknown as { since: string; fills: Record<string, unknown>[]; differences: number };
    const status = await json(['status']);
    const head = { broker: { type: 'bridge', paper: false, base_url: fake.url }, ledger: { state_dir: runDir, available: true } };

    expect(positions).toEqual({
      ...head,
      positions: [
        { symbol: '000001.SZ', broker: 200, ledger: 200, signatures: { ew: 200 }, difference: 0, differs: false },
        { symbol: '600036.SH', broker: 100, ledger: 0, signatures: {}, difference: 100, differs: true },
        { symbol: '601318.SH', broker: 300, ledger: 0, signatures: {}, difference: 300, differs: true },
      ],
      differences: 2,
    });

    expect(orders.orders.map((o) => [o['client_order_id'], o['signature'], o['symbol'], o['differs'], o['note'] ?? null])).toEqual([
      [engineMoutai, 'ew', '600519.SH', false, null],
      [engineMom, 'mom', '601318.SH', true, 'not open at the broker (the ledger has it accepted)'],
      [null, null, '600036.SH', true, 'external: not placed by agent-trader'],
    ]);
    expect(orders.orders[0]).toMatchObject({ ours: true, side: 'buy', quantity: 100, broker: { status: '已报', filled_quantity: 0 }, ledger: { state: 'accepted', filled_quantity: 0 } });
    expect(orders.differences).toBe(2);

    expect(fills.since).toBe('2025-11-07');
    expect(fills.fills.map((f) => [f['client_order_id'], f['signature'], f['symbol'], f['quantity'], f['broker'], f['ledger'], f['differs'], f['note'] ?? null])).toEqual([
      ['ew.20251107T1000.7', 'ew', '000001.SZ', 200, true, true, false, null],
      [null, null, '600036.SH', 100, true, false, true, 'external: not placed by agent-trader'],
    ]);
    expect(fills.fills[0]).toMatchObject({ fill_id: pinganFill.fillId, ours: true, side: 'buy', price: '11.25', time: '2025-11-07T10:00:00+08:00' });
    expect(fills.differences).toBe(1);

    // 1,000,000 - 2,250 (000001) - 3,000 (600036); the ledger: ew 100,000 - 2,250, mom 100,000.
    expect(status).toMatchObject({
      ...head,
      account: { id: null, account_number: null, status: null, currency: 'CNY', cash: '994750', equity: null },
      signatures: [
        { signature: 'ew', cash: '97750', positions: 1, open_orders: 1 },
        { signature: 'mom', cash: '100000', positions: 0, open_orders: 1 },
      ],
      cash: { broker: '994750', ledger: '197750', difference: '797000', differs: true },
      positions: { broker: 3, ledger: 1, differing: 2 },
      open_orders: { broker: 2, ledger: 2, differing: 2 },
      differences: 5,
    });
    expect(typeof (status['account'] as Record<string, unknown>)['buying_power']).toBe('string');

    // Nothing but the login and the lists reached the bridge.
    const asked = (await fake.state()).requests.slice(before).map((q) => q.path);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.filter((p) => !READ_ROUTES.has(p))).toEqual([]);
  }, 90_000);

  it('prints the tables with the differing rows marked; without a run the ledger side is not shown', async () => {
    const orders = await cliAsync(['broker', 'orders', '--config', configFile], { env });
    expect(orders.code, orders.stderr).toBe(0);
    expect(orders.stdout).toContain(`broker  bridge REAL-MONEY account at ${fake.url}`);
    expect(orders.stdout).toMatch(new RegExp(`^\\s+${engineMoutai.replace(/\./g, '\\.')}\\s+600519\\.SH\\s+buy\\s+100\\s+已报 0\\s+accepted 0$`, 'm'));
    expect(orders.stdout).toMatch(/^!\s+-\s+600036\.SH\s+buy\s+100\s+已报 0\s+-\s+external: not placed by agent-trader$/m);
    expect(orders.stdout).toMatch(/^2 differences \(marked !\)$/m);

    const lone = await writeConfig('bridge-no-run.json', { type: 'bridge', paper: false, bridge: { url: fake.url, prepare: true } }, join(root, 'nothing-here'));
    const r = await cliAsync(['broker', 'positions', '--config', lone], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`ledger  not shown: no run at ${join(root, 'nothing-here')}: no such directory; only the broker's side is shown`);
    expect(r.stdout).toMatch(/^\s+601318\.SH\s+300\s+-\s+-$/m);
    expect(r.stdout).toMatch(/^no differences$/m);
  }, 60_000);

  it('fills --since another day: exit 2, the bridge lists today only', async () => {
    const r = await cliAsync(['broker', 'fills', '--since', '2025-11-06', '--config', configFile], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: --since 2025-11-06: the terminal bridge lists today's fills only (2025-11-07, Asia/Shanghai); leave --since out to compare today's");
  }, 30_000);

  it('a token the bridge refuses: exit 2, "refused the session/credentials", the token never printed', async () => {
    const file = await writeConfig('bridge-token.json', { type: 'bridge', paper: false, bridge: { url: refusing.url, prepare: true, token_env: 'BT_BRIDGE_TOKEN' } }, runDir);
    const r = await cliAsync(['broker', 'status', '--config', file], { env: { ...env, BT_BRIDGE_TOKEN: 'tok-wrong-0002' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: the terminal bridge refused the session\/credentials asking for a session: the terminal bridge POST \/prepare: 401 /m);
    expect(r.stdout + r.stderr).not.toMatch(/tok-wrong-0002|tok-right-0001/);
  }, 30_000);
});

describe('agent-trader broker on Futu OpenD (simulate)', () => {
  let w: FutuWorld;
  let runDir: string;
  let configFile: string;
  let moutaiId: string;
  let pinganId: string;
  const env = () => ({ ...process.env, AGENT_TRADER_NOW: NOW, BT_FUTU_KEY: w.fake.websocketKey! });

  beforeAll(async () => {
    runDir = join(root, 'futu-run');
    w = await startFutuWorld({});
    await w.fake.mode({ fill: 'manual' });
    moutaiId = (await w.adapter.place(futuOrder('ew.20251107T1000.1', { quantity: 300, type: 'limit', limitPrice: '1500.5' }))).brokerOrderId;
    pinganId = (await w.adapter.place(futuOrder('mom.20251107T1000.2', { symbol: '000001.SZ', quantity: 200, type: 'limit', limitPrice: '11.25' }))).brokerOrderId;
    await w.fake.fill('ew.20251107T1000.1', 100, '1500');
    await w.fake.fill('ew.20251107T1000.1', 200, '1501');
    await w.fake.fill('mom.20251107T1000.2', 100, '11.25');
    await w.fake.externalOrder({ acc_id: '1001', symbol: '600519.SH', side: 'buy', qty: 100, price: '1500', remark: 'app-7' });
    await until(async () => (await w.fake.state()).orders.filter((o) => o.fill_qty > 0).length === 3, 'the fills');
    // The run saw the Moutai order fill in two steps: two fills made from its totals.
    await writeRun(runDir, {
      intents: { ew: [], mom: [] },
      numbers: {},
      fills: [
        { cid: 'ew.20251107T1000.1', signature: 'ew', symbol: '600519.SH', fill: { fillId: `${moutaiId}:cum:100`, quantity: 100, price: '1500', fee: '0', atMs: T0 } },
        { cid: 'ew.20251107T1000.1', signature: 'ew', symbol: '600519.SH', fill: { fillId: `${moutaiId}:cum:300`, quantity: 200, price: '1501', fee: '0', atMs: T0 } },
      ],
    });
    configFile = await writeConfig('futu.json', { type: 'futu', paper: true, futu: { host: '127.0.0.1', websocket_port: Number(new URL(w.fake.url).port), websocket_key_env: 'BT_FUTU_KEY', trd_market: 'CN' } }, runDir);
  }, 60_000);

  afterAll(async () => {
    await w?.stop();
  });

  it('orders and fills: our client order id from the remark, fills from the totals against the ledger\'s, differences marked, read-only', async () => {
    const before = (await w.fake.state()).requests.length;
    const orders = await cliAsync(['broker', 'orders', '--config', configFile, '--json'], { env: env() });
    expect(orders.code, orders.stderr).toBe(0);
    const o = JSON.parse(orders.stdout) as { broker: Record<string, unknown>; orders: Record<string, unknown>[]; differences: number };
    expect(o.broker).toEqual({ type: 'futu', paper: true, base_url: w.fake.url });
    // The Moutai order and the other app's are filled: only the Ping An one is open.
    expect(o.orders.map((r) => [r['client_order_id'], r['signature'], r['differs'], r['note'] ?? null])).toEqual([['mom.20251107T1000.2', 'mom', true, 'open at the broker, unknown to the ledger']]);
    expect(o.orders[0]).toMatchObject({ broker: { order_id: pinganId, filled_quantity: 100 }, ledger: null });

    const fills = await cliAsync(['broker', 'fills', '--config', configFile, '--json'], { env: env() });
    expect(fills.code, fills.stderr).toBe(0);
    const f = JSON.parse(fills.stdout) as { fills: Record<string, unknown>[]; differences: number };
    const byId = Object.fromEntries(f.fills.map((r) => [r['fill_id'], r]));
    expect(byId[`${moutaiId}:cum:300`]).toMatchObject({ client_order_id: 'ew.20251107T1000.1', signature: 'ew', quantity: 300, broker: true, ledger: true, differs: false, note: `in the ledger as ${moutaiId}:cum:100, ${moutaiId}:cum:300` });
    expect(byId[`${pinganId}:cum:100`]).toMatchObject({ client_order_id: 'mom.20251107T1000.2', signature: 'mom', quantity: 100, broker: true, ledger: false, differs: true, note: 'at the broker, not in the ledger' });
    expect(f.fills.find((r) => r['client_order_id'] === 'app-7')).toMatchObject({ signature: null, ours: false, differs: true, note: 'external: not placed by agent-trader' });
    expect(f.differences).toBe(2);
    expect(orders.stdout + fills.stdout + orders.stderr + fills.stderr).not.toContain(w.fake.websocketKey!);
    // Nothing that places or cancels reached OpenD.
    const sent = (await w.fake.state()).requests.slice(before).map((q) => q.cmd);
    expect(sent).toContain(FUTU_CMDS.Trd_GetOrderList);
    expect(sent.filter((c) => c === FUTU_CMDS.Trd_PlaceOrder || c === FUTU_CMDS.Trd_ModifyOrder)).toEqual([]);
  }, 60_000);

  it('a websocket key OpenD refuses: exit 2, "refused the session/credentials", the key never printed', async () => {
    const r = await cliAsync(['broker', 'status', '--config', configFile], { env: { ...env(), BT_FUTU_KEY: 'not-the-ws-key-9' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: Futu OpenD refused the session\/credentials asking for a session: /m);
    expect(r.stdout + r.stderr).not.toMatch(/not-the-ws-key-9/);
    expect(r.stdout + r.stderr).not.toContain(w.fake.websocketKey!);
  }, 30_000);
});

/**
 * Alpaca order round trip and start-up reconciliation (issue 16), against the fake Alpaca
 * (test/support/fake-alpaca: REST + the trade_updates stream) in its own child process, on
 * 127.0.0.1, with the real client (src/actors/brokers/alpaca/alpaca-broker.ts) on wall time
 * (rxjs asyncScheduler, the scheduler a live run gives it).
 *
 * 1. Round trip: market orders (1 AAPL, the fake fills them at once), one after another, then
 *    `inflight` at a time; each timed with performance.now() from the `submit()` call to its
 *    `broker.accepted` and to its `broker.fill` on `updates$` (and to `submit()` resolving). A
 *    warm-up of 50 orders is not reported. The fake's request log gives the REST calls per order,
 *    /proc gives the CPU time of both processes; the floor is plain fetch GET /v2/clock one after
 *    another (loopback HTTP to the fake's process, nothing of ours).
 * 2. Reconciliation: a fresh fake holds `resting` open limit orders of ours, submitted by a first
 *    broker; that broker is closed ("we are down"), then `filledWhileDown` of them are filled. A
 *    fresh broker is given every order with `resumeOrder` (the Alpaca id each had, no fills) and
 *    `start()`ed: the time to the stream listening, to `start()` resolving (the catch-up ran), and
 *    to `settled()`; the fills it emitted must be exactly the filled orders', each once (else the
 *    script exits 1). Then `liveAccount(...).sync('bench')` on a real Ledger on a temporary LevelDB
 *    store, twice: with the fills booked (the normal restart) and with an empty ledger (every
 *    filled order adopted: the state directory was replaced).
 *
 *   npx tsx bench/alpaca.ts [orders=500] [inflight=10] [resting=1000] [filledWhileDown=300]
 *
 * The last line is `result <json>` (for taking medians over runs).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DateTime } from 'luxon';
import { asyncScheduler } from 'rxjs';
import { AlpacaBroker, ownedBy } from '../src/actors/brokers/alpaca/alpaca-broker.js';
import type { BrokerUpdate } from '../src/actors/brokers/broker.js';
import { Ledger } from '../src/actors/ledger/ledger.js';
import { openStore } from '../src/actors/store/store.js';
import type { Fill, OrderRequest } from '../src/domain/orders.js';
import type { PointInTimeView } from '../src/domain/point-in-time.js';
import { liveAccount } from '../src/runtime/live-account.js';
import { FakeAlpacaProcess, type FakeState } from '../test/support/fake-alpaca/process.js';

const [ORDERS = 500, INFLIGHT = 10, RESTING = 1000, FILLED = 300] = process.argv.slice(2).map(Number);
const WARMUP = 50;
const T0 = Date.UTC(2025, 10, 7, 15, 0, 0); // 2025-11-07 10:00 New York: the market is open
const CASH = '100000000';
const PRICE = '10';
/** No order waits longer than this (a lost update would otherwise hang the bench). */
const ORDER_LIMIT_MS = 30_000;

// -------------------------------------------------------------------------------------------
// machine and figures

async function machine(): Promise<string> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${os.availableParallelism()} vCPU ${model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Nearest-rank percentile of sorted values. */
function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Dist {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

function dist(values: readonly number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  return { p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.at(-1) ?? NaN };
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
const fmt = (d: Dist) => `${ms(d.p50)} / ${ms(d.p90)} / ${ms(d.p99)} / ${ms(d.max)} ms`;

/** CPU time (user + sys, ms) of this process and of the fake's. */
interface Cpu {
  readonly client: number;
  readonly fake: number;
}

async function cpu(fake: FakeAlpacaProcess): Promise<Cpu> {
  const u = process.cpuUsage();
  // /proc/<pid>/stat: utime and stime are fields 14 and 15, in clock ticks (100 a second on Linux).
  const stat = await readFile(`/proc/${fake.pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { client: (u.user + u.system) / 1000, fake: Number.isFinite(ticks) ? ticks * 10 : NaN };
}

const cpuSince = (a: Cpu, b: Cpu): Cpu => ({ client: b.client - a.client, fake: b.fake - a.fake });
const fmtCpu = (c: Cpu) => `client ${c.client.toFixed(0)} ms, fake ${c.fake.toFixed(0)} ms`;

/** Requests the fake received after the first `from` of its log, by `METHOD path`. */
function requestsSince(s: FakeState, from: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of s.requests.slice(from)) {
    const k = `${r.method} ${r.path}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

const describeRequests = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

// -------------------------------------------------------------------------------------------
// the broker under test

function broker(fake: FakeAlpacaProcess): AlpacaBroker {
  // As live-broker.ts builds it, on the wall clock; default timeouts, retries, reconnect, heartbeat.
  return new AlpacaBroker({ baseUrl: fake.baseUrl, streamUrl: fake.streamUrl, keyId: fake.key, secretKey: fake.secret, scheduler: asyncScheduler, isOurs: ownedBy(['ew']) });
}

const cid = (stamp: string, i: number) => `ew.20251107T${stamp}.${i}`;
const market = (clientOrderId: string): OrderRequest => ({ clientOrderId, signature: 'ew', side: 'buy', symbol: 'AAPL', quantity: 1, type: 'market' });
const limit = (clientOrderId: string): OrderRequest => ({ ...market(clientOrderId), type: 'limit', limitPrice: PRICE });

async function startFake(): Promise<FakeAlpacaProcess> {
  const fake = await FakeAlpacaProcess.start({ startMs: T0, cash: CASH });
  await fake.price('AAPL', PRICE);
  return fake;
}

/** Run `work(i)` for i in [0, n) with at most `width` running at once. */
async function pool(n: number, width: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + ORDER_LIMIT_MS;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// -------------------------------------------------------------------------------------------
// 1. order round trip

interface Timing {
  t0: number;
  accepted?: number;
  filled?: number;
  returned?: number;
  acceptedCount: number;
  fillCount: number;
  done?: () => void;
}

interface SeriesResult {
  readonly label: string;
  readonly orders: number;
  readonly inflight: number;
  readonly seconds: number;
  readonly accepted: Dist;
  readonly filled: Dist;
  readonly returned: Dist;
  readonly requests: Record<string, number>;
  readonly cpu: Cpu;
}

/** The floor: one authenticated GET /v2/clock after another, plain fetch (loopback HTTP to the fake's process). */
async function httpFloor(fake: FakeAlpacaProcess, n: number): Promise<{ dist: Dist; cpu: Cpu }> {
  const headers = { 'APCA-API-KEY-ID': fake.key, 'APCA-API-SECRET-KEY': fake.secret };
  const times: number[] = [];
  let c0 = await cpu(fake);
  for (let i = 0; i < WARMUP + n; i++) {
    if (i === WARMUP) c0 = await cpu(fake);
    const t0 = performance.now();
    const res = await fetch(`${fake.baseUrl}/v2/clock`, { headers });
    await res.text();
    if (!res.ok) throw new Error(`GET /v2/clock: ${res.status}`);
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  return { dist: dist(times), cpu: cpuSince(c0, await cpu(fake)) };
}

async function roundTrip(): Promise<{ series: SeriesResult[]; floor: { dist: Dist; cpu: Cpu } }> {
  const fake = await startFake();
  const b = broker(fake);
  const timings = new Map<string, Timing>();
  b.updates$.subscribe((u: BrokerUpdate) => {
    const t = timings.get(u.clientOrderId);
    if (!t) return;
    const now = performance.now();
    if (u.type === 'broker.accepted') {
      t.acceptedCount++;
      t.accepted ??= now;
    } else if (u.type === 'broker.fill') {
      t.fillCount++;
      t.filled ??= now;
      t.done?.();
    } else throw new Error(`unexpected ${u.type} for ${u.clientOrderId}`);
  });
  try {
    await b.start();
    const one = async (id: string): Promise<void> => {
      const t: Timing = { t0: 0, acceptedCount: 0, fillCount: 0 };
      const filled = new Promise<void>((resolve) => (t.done = resolve));
      timings.set(id, t);
      let timer: NodeJS.Timeout | undefined;
      const limitHit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${id}: no fill within ${ORDER_LIMIT_MS} ms`)), ORDER_LIMIT_MS)));
      t.t0 = performance.now();
      await b.submit(market(id));
      t.returned = performance.now();
      await Promise.race([filled, limitHit]).finally(() => clearTimeout(timer));
    };
    const series = async (label: string, stamp: string, n: number, width: number): Promise<SeriesResult> => {
      const from = (await fake.state()).requests.length;
      const ids = Array.from({ length: n }, (_, i) => cid(stamp, i));
      const c0 = await cpu(fake);
      const start = performance.now();
      await pool(n, width, (i) => one(ids[i]!));
      const seconds = (performance.now() - start) / 1000;
      const used = cpuSince(c0, await cpu(fake));
      await b.settled();
      const ts = ids.map((id) => timings.get(id)!);
      const bad = ts.filter((t) => t.acceptedCount !== 1 || t.fillCount !== 1 || t.accepted! > t.filled!);
      if (bad.length > 0) throw new Error(`${label}: ${bad.length} order(s) did not get exactly one accepted then one fill`);
      return {
        label,
        orders: n,
        inflight: width,
        seconds,
        accepted: dist(ts.map((t) => t.accepted! - t.t0)),
        filled: dist(ts.map((t) => t.filled! - t.t0)),
        returned: dist(ts.map((t) => t.returned! - t.t0)),
        requests: requestsSince(await fake.state(), from),
        cpu: used,
      };
    };
    const floor = await httpFloor(fake, ORDERS);
    await series('warm-up', '0959', WARMUP, 1);
    return { floor, series: [await series('one at a time', '1000', ORDERS, 1), await series(`${INFLIGHT} in flight`, '1001', ORDERS, INFLIGHT)] };
  } finally {
    b.close();
    await fake.stop();
  }
}

// -------------------------------------------------------------------------------------------
// 2. reconciliation

interface ReconcileResult {
  readonly resting: number;
  readonly filledWhileDown: number;
  readonly placeSeconds: number;
  readonly listeningMs: number;
  readonly startMs: number;
  readonly settledMs: number;
  readonly fills: number;
  readonly ordersWithFills: number;
  readonly otherUpdates: number;
  readonly requests: Record<string, number>;
  readonly catchUpCpu: Cpu;
  readonly minimalMs: number;
  readonly minimalRequests: Record<string, number>;
  readonly syncBookedMs?: number;
  readonly syncBookedRequests?: Record<string, number>;
  readonly syncAdoptMs?: number;
  readonly syncAdopted?: number;
  readonly syncAdoptRequests?: Record<string, number>;
  readonly ledgerApplyMs?: number;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

const emptyView = (at: DateTime): PointInTimeView => ({ at, symbols: () => [], price: () => undefined, bars: () => [], previousClose: () => undefined, labelledBar: () => undefined });

async function reconcile(): Promise<ReconcileResult> {
  const fake = await startFake();
  const problems: string[] = [];
  const tmp = await mkdtemp(join(os.tmpdir(), 'agent-trader-bench-alpaca-'));
  try {
    await fake.mode('manual');
    // The first process: places the resting orders, then goes down.
    const first = broker(fake);
    const orderIds = new Map<string, string>();
    first.updates$.subscribe((u) => {
      if (u.type === 'broker.accepted') orderIds.set(u.clientOrderId, u.brokerOrderId);
    });
    await first.start();
    const ids = Array.from({ length: RESTING }, (_, i) => cid('1005', i));
    const placing = performance.now();
    await pool(RESTING, INFLIGHT, (i) => first.submit(limit(ids[i]!)));
    const placeSeconds = (performance.now() - placing) / 1000;
    await first.settled();
    if (orderIds.size !== RESTING) throw new Error(`only ${orderIds.size} of ${RESTING} limit orders were accepted`);
    first.close();
    await until(async () => (await fake.state()).stream.open === 0, 'the first broker to disconnect');

    // While we are down: every (RESTING / FILLED)-th order fills.
    const step = RESTING / FILLED;
    const filled = new Set(Array.from({ length: FILLED }, (_, k) => ids[Math.floor(k * step)]!));
    for (const id of filled) await fake.fill(id);
    const before = await fake.state();
    if (before.activities !== FILLED) problems.push(`the fake has ${before.activities} FILL activities, expected ${FILLED}`);

    // The restarted process.
    const second = broker(fake);
    const fills = new Map<string, Fill[]>();
    let otherUpdates = 0;
    let listeningAt = NaN;
    second.updates$.subscribe((u) => {
      if (u.type === 'broker.fill') fills.set(u.clientOrderId, [...(fills.get(u.clientOrderId) ?? []), u.fill]);
      else otherUpdates++;
    });
    second.connection$.subscribe((e) => {
      if (e.type === 'listening' && Number.isNaN(listeningAt)) listeningAt = performance.now();
    });
    for (const id of ids) second.resumeOrder(id, { brokerOrderId: orderIds.get(id), quantity: 1, fills: [] });
    const c0 = await cpu(fake);
    const t0 = performance.now();
    await second.start();
    const started = performance.now();
    await second.settled();
    const settled = performance.now();
    const catchUpCpu = cpuSince(c0, await cpu(fake));
    const after = await fake.state();
    const requests = requestsSince(after, before.requests.length);
    // What the catch-up needs at the least: every order since the first one in one listing (500 a
    // page) and every FILL activity since then once (100 a page), through the broker's own methods.
    const m0 = performance.now();
    const [listed, activities] = await Promise.all([second.ordersSince(T0 - 1_000), second.fillsSince(T0 - 1_000)]);
    const minimalMs = performance.now() - m0;
    const minimalRequests = requestsSince(await fake.state(), after.requests.length);
    if (listed.length !== RESTING || activities.length !== FILLED) problems.push(`the one-pass listing saw ${listed.length} orders and ${activities.length} fills`);

    const total = [...fills.values()].reduce((s, f) => s + f.length, 0);
    const twice = [...fills.entries()].filter(([, f]) => f.length !== 1).map(([id]) => id);
    const stranger = [...fills.keys()].filter((id) => !filled.has(id));
    const missing = [...filled].filter((id) => !fills.has(id));
    if (total !== FILLED) problems.push(`${total} fills emitted, expected ${FILLED}`);
    if (twice.length > 0) problems.push(`${twice.length} order(s) with more than one fill, e.g. ${twice[0]}`);
    if (stranger.length > 0) problems.push(`${stranger.length} fill(s) of orders that did not fill, e.g. ${stranger[0]}`);
    if (missing.length > 0) problems.push(`${missing.length} filled order(s) without their fill, e.g. ${missing[0]}`);

    // The account pass (live-account.ts) on a real Ledger.
    const fakeNow = after.now_ms;
    const pass = async (name: string, book: boolean) => {
      const store = await openStore(join(tmp, name, 'state'));
      try {
        const ledger = new Ledger({ market: 'us', frequency: 'hourly', signatures: [{ signature: 'ew', initialCash: CASH }], store, stateDir: join(tmp, name, 'out'), view: emptyView, universe: ['AAPL'] });
        let applyMs: number | undefined;
        if (book) {
          // What the ledger actor does with the catch-up's fills.
          const a = performance.now();
          for (const [id, fs] of fills) for (const fill of fs) await ledger.applyFill({ signature: 'ew', clientOrderId: id, intent: { side: 'buy', symbol: 'AAPL', quantity: 1, type: 'limit', limitPrice: PRICE }, fill });
          await ledger.idle();
          applyMs = performance.now() - a;
        }
        const alerts: string[] = [];
        const account = await liveAccount({ broker: second, ledger, store, engine: () => undefined, signatures: ['ew'], zone: 'America/New_York', now: () => fakeNow, alert: (a) => alerts.push(a.code) });
        const from = (await fake.state()).requests.length;
        const s0 = performance.now();
        const out = await account.sync('bench');
        const passMs = performance.now() - s0;
        const req = requestsSince(await fake.state(), from);
        let ledgerFills = 0;
        for (const id of filled) ledgerFills += await ledger.filledQuantity(id);
        if (ledgerFills !== FILLED) problems.push(`${name}: the ledger holds ${ledgerFills} filled shares after the pass, expected ${FILLED}`);
        if (out['external']) problems.push(`${name}: the pass booked differences to the external book: ${out['external'].join('; ')}`);
        return { passMs, req, adopted: out['adopted']?.length ?? 0, applyMs, alerts };
      } finally {
        await store.close();
      }
    };
    const booked = await pass('booked', true);
    if (booked.adopted !== 0) problems.push(`booked: ${booked.adopted} order(s) adopted, expected none`);
    const adopt = await pass('adopt', false);
    if (adopt.adopted !== FILLED) problems.push(`adopt: ${adopt.adopted} order(s) adopted, expected ${FILLED}`);
    second.close();

    return {
      resting: RESTING,
      filledWhileDown: FILLED,
      placeSeconds,
      listeningMs: listeningAt - t0,
      startMs: started - t0,
      settledMs: settled - t0,
      fills: total,
      ordersWithFills: fills.size,
      otherUpdates,
      requests,
      catchUpCpu,
      minimalMs,
      minimalRequests,
      syncBookedMs: booked.passMs,
      syncBookedRequests: booked.req,
      ledgerApplyMs: booked.applyMs!,
      syncAdoptMs: adopt.passMs,
      syncAdopted: adopt.adopted,
      syncAdoptRequests: adopt.req,
      ok: problems.length === 0,
      problems,
    };
  } finally {
    await fake.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------------------------------

const date = new Date().toISOString();
const box = await machine();
console.log(`Alpaca round trip and reconciliation bench, ${date}`);
console.log(`machine: ${box}; load average at start ${load()}`);
const loads = [load()];

const { series, floor } = await roundTrip();
loads.push(load());
console.log('\n## order round trip (market, 1 share, the fake fills at once)\n');
console.log(`floor, GET /v2/clock one after another (plain fetch, ${ORDERS}): p50 / p90 / p99 / max ${fmt(floor.dist)}; CPU per request: client ${(floor.cpu.client / ORDERS).toFixed(2)} ms, fake ${(floor.cpu.fake / ORDERS).toFixed(2)} ms\n`);
console.log('| series | orders | wall | orders/s | submit→accepted p50 / p90 / p99 / max | submit→filled p50 / p90 / p99 / max | submit() resolved p50 / p99 | REST requests per order | CPU per order |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const s of series) {
  const perOrder = Object.entries(s.requests)
    .map(([k, n]) => `${k} ${(n / s.orders).toFixed(2)}`)
    .join(', ');
  console.log(`| ${s.label} | ${s.orders} | ${s.seconds.toFixed(2)} s | ${(s.orders / s.seconds).toFixed(0)} | ${fmt(s.accepted)} | ${fmt(s.filled)} | ${ms(s.returned.p50)} / ${ms(s.returned.p99)} ms | ${perOrder} | client ${(s.cpu.client / s.orders).toFixed(2)} ms, fake ${(s.cpu.fake / s.orders).toFixed(2)} ms |`);
}

const r = await reconcile();
loads.push(load());
console.log(`\n## reconciliation: ${r.resting} resting limit orders, ${r.filledWhileDown} filled while down\n`);
console.log(`placing the ${r.resting} orders (first broker, ${INFLIGHT} in flight): ${r.placeSeconds.toFixed(2)} s`);
console.log(`start() → stream listening: ${r.listeningMs.toFixed(0)} ms`);
console.log(`start() → resolved (catch-up ran): ${r.startMs.toFixed(0)} ms`);
console.log(`start() → settled(): ${r.settledMs.toFixed(0)} ms`);
console.log(`CPU during the catch-up: ${fmtCpu(r.catchUpCpu)}`);
console.log(`fills emitted: ${r.fills} on ${r.ordersWithFills} orders (expected ${r.filledWhileDown}, each once); other updates: ${r.otherUpdates}`);
console.log(`REST requests of the catch-up: ${describeRequests(r.requests)} (total ${Object.values(r.requests).reduce((a, b) => a + b, 0)})`);
console.log(`for comparison, one listing of every order + every FILL activity once: ${r.minimalMs.toFixed(0)} ms; requests: ${describeRequests(r.minimalRequests)}`);
console.log(`ledger: applying the ${r.fills} fills: ${r.ledgerApplyMs?.toFixed(0)} ms`);
console.log(`liveAccount.sync, fills booked: ${r.syncBookedMs?.toFixed(0)} ms; requests: ${describeRequests(r.syncBookedRequests ?? {})}`);
console.log(`liveAccount.sync, empty ledger (${r.syncAdopted} orders adopted): ${r.syncAdoptMs?.toFixed(0)} ms; requests: ${describeRequests(r.syncAdoptRequests ?? {})}`);
console.log(`\nload average: ${loads.join(' → ')}`);
if (!r.ok) console.log(`\nFAILED: ${r.problems.join('; ')}`);
console.log(`result ${JSON.stringify({ date, machine: box, loads, series, reconcile: r })}`);
process.exitCode = r.ok ? 0 : 1;

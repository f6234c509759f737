/**
 * Event feed fan-out: how many events per second the real server (src/server/http-server.ts,
 * its /feed WebSocket) delivers to C clients at once, every client receiving every event.
 *
 * The server and the event source run in the main thread; the C `ws` clients run in one worker
 * thread (plain JS, eval'd) so their parsing does not share the server's core. Each client
 * counts the frames it got into a SharedArrayBuffer; the source keeps at most WINDOW events
 * ahead of the slowest client (the feed's slow-client limit is never what paces it: the bench
 * reports `dropped` to show it) and runs for a fixed time per client count, then waits for
 * every client to have every event. Events are fill-shaped (~250 bytes of JSON). Loopback only.
 *
 *   npx tsx bench/feed-fanout.ts              # 1, 10, 100 clients, 3 s each
 *   npx tsx bench/feed-fanout.ts 1:5 500:3    # clients:seconds pairs
 *   npx tsx bench/feed-fanout.ts --count-only # clients count frames without parsing them
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { Subject } from 'rxjs';
import type { FeedEvent } from '../src/domain/feed.js';
import { startHttpServer } from '../src/server/http-server.js';

const WINDOW = 256;

/** Node 20 has Atomics.waitAsync; the project's ES2023 lib does not declare it. */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync;
const BATCH = 32;

/** C clients as plain JS for an eval'd worker; `parse` makes each client JSON.parse every frame, as a real one would. */
const CLIENTS = `
const { parentPort, workerData } = require('node:worker_threads');
const { WebSocket } = require(workerData.wsPath);
const counts = new Int32Array(workerData.counts);
const progress = new Int32Array(workerData.progress);
let open = 0;
for (let i = 0; i < workerData.clients; i++) {
  const ws = new WebSocket(workerData.url);
  ws.on('message', (data) => {
    if (workerData.parse) JSON.parse(data.toString());
    Atomics.add(counts, i, 1);
    Atomics.add(progress, 0, 1);
    Atomics.notify(progress, 0);
    if (counts[i] === 1 && ++open === workerData.clients) parentPort.postMessage('ready');
  });
  ws.on('close', () => parentPort.postMessage('closed ' + i));
}
`;

interface Result {
  readonly clients: number;
  readonly events: number;
  readonly seconds: number;
  readonly bytesPerEvent: number;
  readonly dropped: number;
  readonly peakBufferedBytes: number;
  /** Event-loop utilisation of the server thread and of the clients' worker: which side was the limit. */
  readonly serverBusy: number;
  readonly clientsBusy: number;
}

const fill = (seq: number): FeedEvent => ({
  type: 'fill',
  time: '2026-01-05T14:30:00.123-05:00',
  signature: 'gpt-5',
  payload: {
    clientOrderId: `gpt-5-2026-01-05-${seq}`,
    seq,
    fill: { fillId: `f-${seq}`, quantity: 100, price: '224.1050', fee: '1.00', atMs: 1_767_641_400_123 + seq },
    order: { symbol: 'AAPL', side: 'buy', quantity: 100, type: 'limit', limitPrice: '224.11' },
  },
});

async function run(clients: number, seconds: number, parse: boolean): Promise<Result> {
  const events = new Subject<FeedEvent>();
  const server = await startHttpServer({ events, health: () => never(), state: () => never(), heartbeatMs: 0 });
  const counts = new Int32Array(new SharedArrayBuffer(4 * clients));
  // Bumped by the worker on every frame, so the source can sleep (not spin) while the window is full.
  const progress = new Int32Array(new SharedArrayBuffer(4));
  const require = createRequire(import.meta.url);
  const worker = new Worker(CLIENTS, {
    eval: true,
    workerData: { wsPath: require.resolve('ws'), url: `${server.url.replace('http', 'ws')}/feed`, clients, counts: counts.buffer, progress: progress.buffer, parse },
  });
  const closed: string[] = [];
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: string) => (m === 'ready' ? resolve() : closed.push(m)));
    worker.once('error', reject);
  });

  // Frames per client so far, minus the hello.
  const slowest = () => {
    let min = Infinity;
    for (let i = 0; i < clients; i++) min = Math.min(min, Atomics.load(counts, i) - 1);
    return min;
  };
  const yieldToIo = () => new Promise<void>((r) => setImmediate(r));
  const progressedSince = async (seen: number) => {
    const wait = waitAsync(progress, 0, seen);
    if (wait.async) await wait.value;
  };
  const serverElu = performance.eventLoopUtilization();
  const clientsElu = worker.performance.eventLoopUtilization();
  const t0 = process.hrtime.bigint();
  const endNs = t0 + BigInt(Math.round(seconds * 1e9));
  let sent = 0;
  while (process.hrtime.bigint() < endNs) {
    if (closed.length > 0) break;
    const seen = Atomics.load(progress, 0); // read before the check, or a wake-up between them is lost
    if (sent - slowest() < WINDOW) {
      for (let i = 0; i < BATCH; i++) events.next(fill(sent++));
      await yieldToIo();
    } else await progressedSince(seen);
  }
  for (;;) {
    const seen = Atomics.load(progress, 0);
    if (slowest() >= sent || closed.length > 0) break;
    await progressedSince(seen);
  }
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const serverBusy = performance.eventLoopUtilization(serverElu).utilization;
  const clientsBusy = worker.performance.eventLoopUtilization(clientsElu).utilization;
  const stats = server.feed.stats();
  await worker.terminate();
  await server.close();
  if (closed.length > 0 && stats.dropped === 0) throw new Error(`clients closed unexpectedly: ${closed.join(', ')}`);
  return {
    clients,
    events: sent,
    seconds: elapsed,
    bytesPerEvent: JSON.stringify(fill(sent)).length,
    dropped: stats.dropped,
    peakBufferedBytes: stats.peakBufferedBytes,
    serverBusy,
    clientsBusy,
  };
}

/** The bench never asks /health or /api/state. */
function never(): never {
  throw new Error('not used by the bench');
}

async function main(): Promise<void> {
  const parse = !process.argv.includes('--count-only');
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const plan = args.length
    ? args.map((a) => a.split(':').map(Number) as [number, number])
    : ([
        [1, 3],
        [10, 3],
        [100, 3],
      ] as [number, number][]);
  await run(10, 1, parse); // warm-up (JIT), not reported
  const results: Result[] = [];
  for (const [clients, seconds] of plan) results.push(await run(clients, seconds, parse));

  const cpu = os.cpus();
  const machine = `${cpu.length} vCPU ${cpu[0]?.model.trim() ?? 'unknown'}, Node ${process.versions.node}`;
  const date = new Date().toISOString().slice(0, 10);
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`feed fan-out bench, ${date}, ${machine}`);
  console.log(`fill events of ~${results[0]?.bytesPerEvent ?? 0} bytes; the source stays at most ${WINDOW} events ahead of the slowest client; clients ${parse ? 'JSON.parse every frame' : 'only count frames (--count-only)'}`);
  console.log('');
  console.log('| date | machine | clients | clients parse? | events/s (each client got all) | frames/s (all clients) | MiB/s out | server busy | clients busy | dropped |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const perSecond = r.events / r.seconds;
    console.log(
      `| ${date} | ${machine} | ${r.clients} | ${parse ? 'yes' : 'count only'} | ${n(perSecond)} | ${n(perSecond * r.clients)} | ${((perSecond * r.clients * r.bytesPerEvent) / 2 ** 20).toFixed(1)} | ${pct(r.serverBusy)} | ${pct(r.clientsBusy)} | ${r.dropped} |`,
    );
    console.log(`  (${n(r.events)} events in ${r.seconds.toFixed(2)} s; peak buffered on one client ${n(r.peakBufferedBytes / 1024)} KiB)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

/**
 * Quote stream throughput (paper-trading issue): how many quotes per second the Alpaca v2 client
 * (src/streams/alpaca-quotes.ts: JSON parse, zod per event, exact decimal price, last quote per
 * symbol) sustains from a local server blasting trades as fast as the socket takes them.
 *
 * The server runs in a worker thread (loopback only) so it does not share the client's event
 * loop; it sends pre-built frames of `perFrame` trades over 100 symbols, keeping at most 64
 * frames in flight (send callbacks pending), so it goes as fast as the client reads. Figures:
 * quotes/s from the first frame to the last quote, MB/s of frame text, the client thread's
 * event-loop utilisation (how busy it was), malformed events (must be 0). Bounded: a fixed
 * number of trades per run, a 60 s cap.
 *
 *   npx tsx bench/quote-stream.ts                  # 1,000,000 trades in frames of 100, then 100,000 in frames of 1; 3 runs each
 *   npx tsx bench/quote-stream.ts 100:2000000 10:500000   # perFrame:trades pairs
 */
import { startWorker } from './support/worker-mailbox.js';
import { createRequire } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { AlpacaQuoteStream } from '../src/streams/alpaca-quotes.js';

const RUNS = 3;
const MAX_SECONDS = 60;

/** The server, as plain JS for an eval'd worker (no TS loader needed there). */
const SERVER = `
const { parentPort, workerData } = require('node:worker_threads');
const { WebSocketServer } = require(workerData.wsPath);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
let client;
wss.on('listening', () => parentPort.postMessage({ type: 'port', port: wss.address().port }));
wss.on('connection', (ws) => {
  ws.send(JSON.stringify([{ T: 'success', msg: 'connected' }]));
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.action === 'auth') ws.send(JSON.stringify([{ T: 'success', msg: 'authenticated' }]));
    if (m.action === 'subscribe') { client = ws; ws.send(JSON.stringify([{ T: 'subscription', trades: m.trades, quotes: [], bars: [] }])); parentPort.postMessage({ type: 'subscribed' }); }
  });
});
const BASE = Date.UTC(2025, 9, 9, 14, 0, 0);
function frames(perFrame) {
  const out = [];
  let n = 0;
  for (let f = 0; f < 256; f++) {
    const batch = [];
    for (let i = 0; i < perFrame; i++, n++) {
      // Prices with 2 and 4 decimals, as exchanges print them.
      const p = n % 2 ? (100 + (n % 10000) / 100) : Number((150 + (n % 100000) / 10000).toFixed(4));
      batch.push({ T: 't', S: 'S' + String(n % 100).padStart(2, '0'), p, s: 100, t: new Date(BASE + n).toISOString(), i: n, x: 'V', c: ['@'], z: 'C' });
    }
    out.push(JSON.stringify(batch));
  }
  return out;
}
parentPort.on('message', (m) => {
  if (m.type !== 'run') return;
  const list = frames(m.perFrame);
  const total = Math.ceil(m.count / m.perFrame);
  const t0 = process.hrtime.bigint();
  let sent = 0, inFlight = 0, bytes = 0, finished = false;
  const pump = () => {
    while (sent < total && inFlight < 64) {
      const text = list[sent % list.length];
      bytes += text.length;
      sent++;
      inFlight++;
      client.send(text, () => { inFlight--; if (!finished) setImmediate(pump); });
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (!finished && (sent >= total || seconds > m.maxSeconds)) {
      finished = true;
      parentPort.postMessage({ type: 'done', frames: sent, trades: sent * m.perFrame, bytes, seconds });
    }
  };
  pump();
});
`;

interface RunResult {
  perFrame: number;
  trades: number;
  quotes: number;
  frames: number;
  bytes: number;
  seconds: number;
  elu: number;
  malformed: number;
}

async function main(): Promise<void> {
  const plan = process.argv.slice(2).length
    ? process.argv.slice(2).map((a) => a.split(':').map(Number) as [number, number])
    : ([
        [100, 1_000_000],
        [1, 100_000],
      ] as [number, number][]);
  const require = createRequire(import.meta.url);
  const { worker, next } = startWorker(SERVER, { wsPath: require.resolve('ws') });
  const { port } = (await next('port')) as unknown as { port: number };

  const symbols = Array.from({ length: 100 }, (_, i) => `S${String(i).padStart(2, '0')}`);
  const stream = new AlpacaQuoteStream({ url: `ws://127.0.0.1:${port}/v2/bench`, key: 'bench', secret: 'bench', trades: symbols });
  let quotes = 0;
  let target = Infinity;
  let first = 0;
  let last = 0;
  let reached: (() => void) | undefined;
  stream.quotes.subscribe(() => {
    if (quotes === 0) first = performance.now();
    quotes++;
    if (quotes >= target) {
      last = performance.now();
      reached?.();
    }
  });
  await stream.connect();
  await next('subscribed');

  const run = async (perFrame: number, count: number): Promise<RunResult> => {
    quotes = 0;
    last = 0;
    target = count;
    const malformedBefore = stream.stats().malformed;
    const all = new Promise<void>((r) => (reached = r));
    const elu0 = performance.eventLoopUtilization();
    worker.postMessage({ type: 'run', perFrame, count, maxSeconds: MAX_SECONDS });
    const done = (await next('done')) as unknown as { frames: number; trades: number; bytes: number };
    target = Math.min(target, done.trades);
    if (quotes < target) await all;
    else if (last === 0) last = performance.now(); // capped run: fewer trades than asked
    const elu = performance.eventLoopUtilization(elu0).utilization;
    return {
      perFrame,
      trades: done.trades,
      quotes,
      frames: done.frames,
      bytes: done.bytes,
      seconds: (last - first) / 1000,
      elu,
      malformed: stream.stats().malformed - malformedBefore,
    };
  };

  await run(100, 200_000); // warm-up (JIT), not reported
  const rows: RunResult[] = [];
  for (const [perFrame, count] of plan) {
    const runs: RunResult[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await run(perFrame, count));
    runs.sort((a, b) => a.quotes / a.seconds - b.quotes / b.seconds);
    rows.push(runs[Math.floor(runs.length / 2)]!);
  }
  await stream.close();
  await worker.terminate();

  const cpu = os.cpus();
  const machine = `${cpu.length} vCPU ${cpu[0]?.model.trim() ?? 'unknown'}, Node ${process.versions.node}`;
  const date = new Date().toISOString().slice(0, 10);
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`quote stream throughput, ${date}, ${machine}; median of ${RUNS} runs`);
  console.log('');
  console.log('| date | machine | trades per frame | trades / quotes | frames | median quotes/s | MB/s | client thread busy | malformed |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${date} | ${machine} | ${r.perFrame} | ${n(r.trades)} / ${n(r.quotes)} | ${n(r.frames)} | ${n(r.quotes / r.seconds)} | ${(r.bytes / 1e6 / r.seconds).toFixed(1)} | ${(r.elu * 100).toFixed(0)}% | ${r.malformed} |`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

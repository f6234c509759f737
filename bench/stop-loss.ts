/**
 * Quote -> stop-loss order latency (issue 6): a local Alpaca v2 WebSocket server (in a worker
 * thread, loopback only) pushes trades at a target rate; the real client (src/streams/
 * alpaca-quotes.ts) parses them into quotes; the real watcher (src/actors/risk/
 * stop-loss-watcher.ts) checks 1,000 positions (10 signatures x 100 symbols) and places the
 * protective orders. One symbol crosses its stop at known times (every `crossEvery`-th trade);
 * after each order the bench answers `filled` and re-buys, so the position is new and armed again.
 *
 * Latency = placeOrder call - the instant the server handed the frame to the socket. Both are
 * process.hrtime (CLOCK_MONOTONIC, shared by the threads); the server writes each trade's send
 * time into a SharedArrayBuffer indexed by the trade's sequence number, which travels in the
 * trade's `t` (base instant + seq ms). Bounded: a fixed number of trades per rate and a time cap.
 *
 *   npx tsx bench/stop-loss.ts            # 1k/s for 10 s, then 10k/s for 5 s
 *   npx tsx bench/stop-loss.ts 1000:5     # rate:seconds pairs
 */
import { startWorker } from './support/worker-mailbox.js';
import { createRequire } from 'node:module';
import os from 'node:os';
import { StopLossWatcher } from '../src/actors/risk/stop-loss-watcher.js';
import { isOpenAt, nextOpen } from '../src/domain/calendar/index.js';
import { dec } from '../src/domain/money.js';
import type { OrderResult } from '../src/domain/orders.js';
import type { Position } from '../src/domain/portfolio.js';
import { AlpacaQuoteStream } from '../src/streams/alpaca-quotes.js';

const SIGNATURES = Array.from({ length: 10 }, (_, i) => `sig${i}`);
const SYMBOLS = Array.from({ length: 100 }, (_, i) => `S${String(i).padStart(2, '0')}`);
const CROSSING = 'S00';
const BASE_MS = Date.UTC(2025, 9, 9, 14, 0, 0); // 2025-10-09 10:00 New York: the market is open
const MAX_SECONDS = 60;

/** The server, as plain JS for an eval'd worker (no TS loader needed there). */
const SERVER = `
const { parentPort, workerData } = require('node:worker_threads');
const { WebSocketServer } = require(workerData.wsPath);
const sendNs = new BigInt64Array(workerData.sendNs);
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
const iso = (ms) => new Date(ms).toISOString();
parentPort.on('message', (m) => {
  if (m.type !== 'run') return;
  const { rate, count, from, crossEvery, symbols, crossing, base, maxMs } = m;
  const t0 = process.hrtime.bigint();
  let seq = from;
  const end = from + count;
  let frames = 0;
  const tick = () => {
    const elapsedNs = Number(process.hrtime.bigint() - t0);
    const due = Math.min(end, from + Math.floor((elapsedNs / 1e9) * rate));
    if (due > seq) {
      const batch = [];
      for (; seq < due; seq++) {
        const i = seq - from;
        const cross = i % crossEvery === crossEvery - 1;
        const S = cross ? crossing : symbols[i % symbols.length];
        const p = cross ? 90 : 100 + (i % 7) / 100;
        batch.push({ T: 't', i: seq, S, x: 'V', p, s: 100, t: iso(base + seq), c: ['@'], z: 'C' });
      }
      const now = process.hrtime.bigint();
      for (const e of batch) Atomics.store(sendNs, e.i, now);
      client.send(JSON.stringify(batch));
      frames++;
    }
    if (seq < end && elapsedNs < maxMs * 1e6) setTimeout(tick, 1);
    else parentPort.postMessage({ type: 'done', sent: seq - from, frames, seconds: elapsedNs / 1e9 });
  };
  tick();
});
`;

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface RunResult {
  rate: number;
  seconds: number;
  sent: number;
  received: number;
  frames: number;
  orders: number;
  orderP50: number;
  orderP99: number;
  orderMax: number;
  quoteP50: number;
  quoteP99: number;
  watcherUsPerQuote: number;
  malformed: number;
}

async function main(): Promise<void> {
  const plan = process.argv.slice(2).length
    ? process.argv.slice(2).map((a) => a.split(':').map(Number) as [number, number])
    : ([
        [1_000, 10],
        [10_000, 5],
      ] as [number, number][]);
  const total = 2_000 + plan.reduce((n, [r, s]) => n + r * s, 0);
  const sendNs = new BigInt64Array(new SharedArrayBuffer(8 * (total + 1)));
  const require = createRequire(import.meta.url);
  const { worker, next } = startWorker(SERVER, { wsPath: require.resolve('ws'), sendNs: sendNs.buffer });
  const { port } = (await next('port')) as unknown as { port: number };

  // 1,000 positions: every signature holds every symbol at an average cost of 100 (stop 92).
  const lot = [{ date: '2025-10-08', quantity: 100 }];
  const book = new Map<string, Record<string, Position>>();
  for (const s of SIGNATURES) book.set(s, Object.fromEntries(SYMBOLS.map((sym) => [sym, { quantity: 100, costBasis: dec('10000'), lots: lot }])));
  let rebuys = 0;
  let generation = 0;

  let currentSeq = 0;
  let currentAtMs = BASE_MS;
  let orderLat: number[] = [];
  let quoteLat: number[] = [];
  let watcherNs = 0;
  let quotes = 0;
  const filled: OrderResult[] = [];
  const watcher = new StopLossWatcher({
    market: 'us',
    ratios: { stopLoss: dec('0.08') },
    signatures: SIGNATURES,
    positions: (s) => book.get(s)!,
    now: () => currentAtMs,
    isOpenAt,
    nextOpen,
    placeOrder: (_signature, intent, _reason, _atIso, clientOrderId) => {
      const at = process.hrtime.bigint();
      orderLat.push(Number(at - Atomics.load(sendNs, currentSeq)) / 1e3);
      filled.push({ clientOrderId, intent, status: 'filled', filledQuantity: intent.quantity, averagePrice: '90', fees: '0' });
    },
  });

  const stream = new AlpacaQuoteStream({ url: `ws://127.0.0.1:${port}/v2/bench`, key: 'bench', secret: 'bench', trades: SYMBOLS });
  stream.quotes.subscribe((q) => {
    currentAtMs = q.atMs;
    currentSeq = q.atMs - BASE_MS;
    const t = process.hrtime.bigint();
    quoteLat.push(Number(t - Atomics.load(sendNs, currentSeq)) / 1e3);
    watcher.onQuote(q);
    watcherNs += Number(process.hrtime.bigint() - t);
    quotes++;
    // The broker fills, the ledger re-buys: a new position at a new cost, armed again.
    for (const r of filled.splice(0)) {
      watcher.onResult(r);
      rebuys++;
    }
    if (rebuys > 0) {
      generation++;
      const cost = dec(10000).plus(dec(generation).dividedBy(100)); // a new average each time: a new position
      for (const s of SIGNATURES) book.set(s, { ...book.get(s)!, [CROSSING]: { quantity: 100, costBasis: cost, lots: lot } });
      rebuys = 0;
    }
  });
  await stream.connect();
  await next('subscribed');

  let from = 1;
  const run = async (rate: number, seconds: number): Promise<RunResult> => {
    orderLat = [];
    quoteLat = [];
    watcherNs = 0;
    quotes = 0;
    const count = rate * seconds;
    const receivedBefore = stream.stats().trades;
    const malformedBefore = stream.stats().malformed;
    worker.postMessage({ type: 'run', rate, count, from, crossEvery: 100, symbols: SYMBOLS, crossing: CROSSING, base: BASE_MS, maxMs: MAX_SECONDS * 1000 });
    const done = (await next('done')) as unknown as { sent: number; frames: number; seconds: number };
    from += count;
    const deadline = performance.now() + 10_000;
    while (stream.stats().trades - receivedBefore < done.sent && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const o = Float64Array.from(orderLat).sort();
    const q = Float64Array.from(quoteLat).sort();
    return {
      rate,
      seconds: done.seconds,
      sent: done.sent,
      received: stream.stats().trades - receivedBefore,
      frames: done.frames,
      orders: o.length,
      orderP50: pct(o, 50),
      orderP99: pct(o, 99),
      orderMax: o[o.length - 1] ?? NaN,
      quoteP50: pct(q, 50),
      quoteP99: pct(q, 99),
      watcherUsPerQuote: watcherNs / 1e3 / Math.max(1, quotes),
      malformed: stream.stats().malformed - malformedBefore,
    };
  };

  await run(1_000, 2); // warm-up, not reported
  const results: RunResult[] = [];
  for (const [rate, seconds] of plan) results.push(await run(rate, seconds));
  await stream.close();
  await worker.terminate();

  const cpu = os.cpus();
  const machine = `${cpu.length} vCPU ${cpu[0]?.model.trim() ?? 'unknown'}, Node ${process.versions.node}`;
  const date = new Date().toISOString().slice(0, 10);
  const ms = (us: number) => (us / 1000).toFixed(2);
  console.log(`stop-loss latency bench, ${date}, ${machine}`);
  console.log('1,000 positions (10 signatures x 100 symbols), 1 symbol crossing its stop every 100th trade; latency from server send to placeOrder');
  console.log('');
  console.log('| date | machine | target rate | trades sent / received | frames | duration | stop orders | order p50 | order p99 | order max | quote p50 | quote p99 | watcher per quote |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${date} | ${machine} | ${r.rate.toLocaleString('en-US')}/s | ${r.sent.toLocaleString('en-US')} / ${r.received.toLocaleString('en-US')} | ${r.frames.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} s | ${r.orders.toLocaleString('en-US')} | ${ms(r.orderP50)} ms | ${ms(r.orderP99)} ms | ${ms(r.orderMax)} ms | ${ms(r.quoteP50)} ms | ${ms(r.quoteP99)} ms | ${r.watcherUsPerQuote.toFixed(1)} µs |`,
    );
    if (r.malformed) console.log(`  (${r.malformed} malformed)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

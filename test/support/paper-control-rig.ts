/**
 * The rig of the control tests (test/runtime/paper-control.test.ts, test/hostile/*): a paper run
 * on the built-in replay on virtual wall time, its HTTP server with the control routes (loopback
 * and as if remote), a fake Telegram Bot API. Undone after each test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { PausedAgents } from '../../src/actors/control/paused-agents.js';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { openStore } from '../../src/actors/store/store.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { FeedEvent } from '../../src/domain/feed.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { startPaper, type PaperRun } from '../../src/runtime/paper.js';
import { openQuoteSource, type QuoteSource } from '../../src/runtime/quote-source.js';
import { controlRoutes } from '../../src/server/control-routes.js';
import { startHttpServer, type RunningHttpServer } from '../../src/server/http-server.js';
import { planReplayDay } from '../../src/server/replay-server.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';

export const SAMPLE = new URL('../../data/sample/us_hourly.jsonl', import.meta.url).pathname;
export const CN = new URL('../../data/sample/cn_hourly.jsonl', import.meta.url).pathname;
export const DAY = '2025-11-07';
export const WALL0 = Date.UTC(2030, 0, 1);
export const TOKEN = 'control-test-token';

export const usRaw = {
  mode: 'paper',
  market: 'us',
  frequency: 'hourly',
  schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'] },
  data_source: { type: 'replay', bars_file: SAMPLE, replay_date: DAY, replay_speed: 390, stale_quote_seconds: 1800 },
  risk_control: { min_cash_reserve: 1000 },
  models: [
    { name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
    { name: 'mom', signature: 'mom', agent: { kind: 'rules', strategy: 'momentum', params: { lookback: 6, top_n: 3 } } },
  ],
  agent_config: { initial_cash: 10000 },
};
export const us = parseConfig(usRaw, 'test');

export const loadUs = () => loadPriceStore(SAMPLE, { market: 'us' });
export const loadCn = () => loadPriceStore(CN, { market: 'cn' });

export interface Rig {
  readonly history: PriceStore;
  readonly day: string;
  readonly wall: EpochVirtualScheduler;
  readonly source: QuoteSource;
  readonly run: PaperRun;
  readonly events: FeedEvent[];
  readonly http: RunningHttpServer;
  /** The same server, but loopback not trusted: a remote client as far as the token rule goes. */
  readonly remote: RunningHttpServer;
}

export const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-control-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function rig(outDir: string, cfg: Config, history: PriceStore, reloadConfig?: () => Promise<Config>, extra: Partial<Parameters<typeof startPaper>[0]> = {}): Promise<Rig> {
  const wall = new EpochVirtualScheduler(WALL0);
  const symbols = cfg.data_source.symbols ?? history.symbols();
  const source = await openQuoteSource(cfg, { history, symbols, wall });
  const killSwitch = new KillSwitch(outDir, () => wall.now(), { pollMs: 60_000 });
  const run = await startPaper({
    config: cfg,
    outDir,
    scheduler: source.scheduler,
    wall,
    timeScale: source.speed,
    quotes: source.feed,
    history,
    universe: symbols,
    killSwitch,
    paused: new PausedAgents(outDir),
    ...(reloadConfig ? { reloadConfig } : {}),
    ...(source.until ? { until: source.until } : {}),
    ...extra,
  });
  const events: FeedEvent[] = [];
  run.events.subscribe((e) => events.push(e));
  const server = (trustLoopback: boolean) =>
    startHttpServer({ events: run.events, health: () => run.health(), state: () => run.state(), token: TOKEN, trustLoopback, extraRoutes: controlRoutes(() => run.control, { token: TOKEN }) });
  const http = await server(true);
  const remote = await server(false);
  let stopped = false;
  const r: Rig = { history, day: cfg.data_source.replay_date!, wall, source, run, events, http, remote };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await http.close();
    await remote.close();
    await run.stop();
    await source.close();
  };
  cleanups.push(stop);
  Object.assign(r, { stop });
  return r;
}
export const stopRig = (r: Rig) => (r as Rig & { stop: () => Promise<void> }).stop();

export const turn = () => new Promise<void>((res) => setImmediate(res));

export async function settle(r: Rig): Promise<void> {
  const sentBy = (ms: number) => planReplayDay(r.history, { date: r.day }).events.filter((e) => e.kind === 'trade' && e.atMs <= ms).length;
  const due = r.source.replay ? sentBy(r.source.replay.marketNow().toMillis()) : 0;
  while (r.source.feed.health().quotes < due) await turn();
  let idle = 0;
  for (;;) {
    const before = r.events.length;
    await r.run.ledger.idle();
    await r.run.runtime.flush();
    await turn();
    const running = Object.keys(r.run.runtime.actor.getSnapshot().context.running).length;
    if (running === 0 && r.events.length === before) {
      if (++idle > 3) return;
    } else idle = 0;
  }
}

export async function drive(r: Rig, done: () => boolean): Promise<void> {
  await settle(r);
  for (let i = 0; i < 100_000 && !done(); i++) {
    const next = r.wall.actions[0];
    if (!next) break;
    r.wall.advanceTo(next.delay);
    await settle(r);
  }
}

export const ticks = (r: Rig) => r.events.filter((e) => e.type === 'tick').map((e) => String(e.payload['at']).slice(11, 16));
export const sessionsOf = (r: Rig, sig: string) => r.events.filter((e) => e.type === 'session' && e.signature === sig && e.payload['outcome']).map((e) => String((e.payload['outcome'] as { at: string }).at).slice(11, 16));

export const post = (base: string, command: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/api/control/${command}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
export const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> });

export async function controlJournal(dir: string): Promise<Record<string, unknown>[]> {
  const store = await openStore(join(dir, 'state'));
  try {
    const out: Record<string, unknown>[] = [];
    for await (const { entry } of store.readJournal<Record<string, unknown>>()) if (entry['source'] === 'control') out.push(entry);
    return out;
  } finally {
    await store.close();
  }
}


export interface Update {
  readonly update_id: number;
  readonly message: { readonly message_id: number; readonly chat: { readonly id: number; readonly type: 'private' }; readonly date: number; readonly text: string };
}

export class FakeBotApi {
  readonly sent: { chat_id: number; text: string }[] = [];
  readonly offsets: number[] = [];
  readonly paths: string[] = [];
  #updates: Update[] = [];
  #held: ((updates: Update[]) => void)[] = [];
  #waiters: (() => void)[] = [];
  private constructor(
    private readonly server: import('node:http').Server,
    readonly url: string,
  ) {}

  static async start(updates: Update[] = []): Promise<FakeBotApi> {
    const { createServer } = await import('node:http');
    let api: FakeBotApi | undefined;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => api!.handle(req.url ?? '', JSON.parse(body || '{}') as Record<string, unknown>, (json) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(json))));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    api = new FakeBotApi(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    api.#updates = [...updates];
    return api;
  }

  private handle(path: string, body: Record<string, unknown>, answer: (json: unknown) => void): void {
    this.paths.push(path.replace(/bot[^/]+/, 'bot<token>'));
    if (path.endsWith('/getUpdates')) {
      const offset = Number(body['offset'] ?? 0);
      this.offsets.push(offset);
      // Telegram forgets every update below the offset asked for: it is confirmed.
      this.#updates = this.#updates.filter((u) => u.update_id >= offset);
      this.wake();
      if (this.#updates.length > 0) return answer({ ok: true, result: this.#updates });
      this.#held.push((updates) => answer({ ok: true, result: updates }));
      return;
    }
    if (path.endsWith('/sendMessage')) {
      this.sent.push({ chat_id: Number(body['chat_id']), text: String(body['text']) });
      answer({ ok: true, result: { message_id: 1, chat: { id: body['chat_id'], type: 'private' }, date: 0, text: body['text'] } });
      this.wake();
      return;
    }
    answer({ ok: false, error_code: 404, description: 'Not Found' });
  }

  private wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  push(u: Update): void {
    this.#updates.push(u);
    for (const h of this.#held.splice(0)) h(this.#updates);
  }

  async until(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((r) => this.#waiters.push(r));
  }

  async close(): Promise<void> {
    for (const h of this.#held.splice(0)) h([]);
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export const BOT_TOKEN = '7123456789:AAH-fakeTokenForTests_0123456789ab';
export const update = (id: number, chat: number, text: string): Update => ({ update_id: id, message: { message_id: id, chat: { id: chat, type: 'private' }, date: 1762500000, text } });


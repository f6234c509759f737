/**
 * Steering a paper run through the control API, in one process on virtual wall time (the rig of
 * paper.test.ts: the built-in replay server, the real quote client, the ReplayClock): HTTP routes
 * with and without the token, pause (no session for that agent, the others go on) and resume,
 * a pause that outlives a restart, flatten through risk and the order machine (T+1 kept), reload
 * of a risk limit and a refused signature change, and every command in the run's journal.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
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

const SAMPLE = new URL('../../data/sample/us_hourly.jsonl', import.meta.url).pathname;
const CN = new URL('../../data/sample/cn_hourly.jsonl', import.meta.url).pathname;
const DAY = '2025-11-07';
const WALL0 = Date.UTC(2030, 0, 1);
const TOKEN = 'control-test-token';

const usRaw = {
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
const us = parseConfig(usRaw, 'test');

let usHistory: PriceStore;
beforeAll(async () => {
  usHistory = await loadPriceStore(SAMPLE, { market: 'us' });
});

interface Rig {
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

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-control-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function rig(outDir: string, cfg: Config, history: PriceStore, reloadConfig?: () => Promise<Config>): Promise<Rig> {
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
const stopRig = (r: Rig) => (r as Rig & { stop: () => Promise<void> }).stop();

const turn = () => new Promise<void>((res) => setImmediate(res));

async function settle(r: Rig): Promise<void> {
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

async function drive(r: Rig, done: () => boolean): Promise<void> {
  await settle(r);
  for (let i = 0; i < 100_000 && !done(); i++) {
    const next = r.wall.actions[0];
    if (!next) break;
    r.wall.advanceTo(next.delay);
    await settle(r);
  }
}

const ticks = (r: Rig) => r.events.filter((e) => e.type === 'tick').map((e) => String(e.payload['at']).slice(11, 16));
const sessionsOf = (r: Rig, sig: string) => r.events.filter((e) => e.type === 'session' && e.signature === sig && e.payload['outcome']).map((e) => String((e.payload['outcome'] as { at: string }).at).slice(11, 16));

const post = (base: string, command: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/api/control/${command}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> });

async function controlJournal(dir: string): Promise<Record<string, unknown>[]> {
  const store = await openStore(join(dir, 'state'));
  try {
    const out: Record<string, unknown>[] = [];
    for await (const { entry } of store.readJournal<Record<string, unknown>>()) if (entry['source'] === 'control') out.push(entry);
    return out;
  } finally {
    await store.close();
  }
}

describe('control API on a paper run', () => {
  it('status and routes: loopback without a token, remote only with it; a cross-site POST is refused even with it', async () => {
    const dir = await tempDir();
    const r = await rig(dir, us, usHistory);
    await drive(r, () => ticks(r).length === 1);

    const local = await json(await fetch(`${r.http.url}/api/control/status`));
    expect(local.status).toBe(200);
    expect(local.body).toMatchObject({ command: 'status', ok: true, by: 'loopback', mode: 'paper', market: 'us', zone: 'America/New_York', next_session: { at: `${DAY}T11:05:00.000-05:00`, zone: 'America/New_York' } });
    const agents = local.body['agents'] as Record<string, unknown>[];
    expect(agents.map((a) => [a['signature'], a['paused'], (a['session'] as { state: string }).state])).toEqual([
      ['ew', false, 'idle'],
      ['mom', false, 'idle'],
    ]);
    expect(agents[0]).toMatchObject({ enabled: true, halted: false, last_error: null, pnl_today: { amount: expect.stringMatching(/^-?\d+\.\d\d$/), start_of_day_equity: '10000.00' } });
    expect((agents[0]!['positions'] as unknown[]).length).toBeGreaterThan(0);

    // Remote: no token, a wrong token, the token.
    expect((await fetch(`${r.remote.url}/api/control/status`)).status).toBe(401);
    expect((await fetch(`${r.remote.url}/api/control/status`, { headers: { Authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await post(r.remote.url, 'pause', { signature: 'ew' })).status).toBe(401);
    const withToken = await json(await fetch(`${r.remote.url}/api/control/positions`, { headers: { Authorization: `Bearer ${TOKEN}`, 'X-Agent-Trader-Client': 'cli' } }));
    expect(withToken).toMatchObject({ status: 200, body: { ok: true, by: 'cli/token' } });
    // A page of another site: its Origin, or a form's content type, is refused for a command even with the token.
    const evil = await json(await post(r.remote.url, 'pause', { signature: 'ew' }, { Authorization: `Bearer ${TOKEN}`, Origin: 'https://evil.example' }));
    expect(evil).toMatchObject({ status: 403, body: { ok: false, error: 'a control command from another origin is refused' } });
    const form = await fetch(`${r.http.url}/api/control/pause`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'signature=ew' });
    expect(form.status).toBe(403);
    const site = await post(r.http.url, 'pause', { signature: 'ew' }, { 'Sec-Fetch-Site': 'cross-site' });
    expect(site.status).toBe(403);
    expect((await fetch(`${r.http.url}/api/control/pause`)).status).toBe(405);
    expect((await json(await post(r.http.url, 'pause', { signature: 'nobody' }))).body).toMatchObject({ ok: false, error: expect.stringContaining('no agent with signature "nobody"') });
    expect(new PausedAgents(dir).pausedOf(['ew', 'mom'])).toEqual([]); // none of the refused ones paused anything

    const orders = await json(await fetch(`${r.http.url}/api/control/orders`));
    expect(orders.body).toMatchObject({ ok: true, date: DAY, open: [] });
    expect((orders.body['today'] as unknown[]).length).toBeGreaterThan(0);
    await stopRig(r);
    const journal = await controlJournal(dir);
    expect(journal.map((j) => [j['type'], j['by'], j['ok']])).toEqual([
      ['control.status', 'loopback', true],
      ['control.positions', 'cli/token', true],
      ['control.pause', 'loopback', false],
      ['control.orders', 'loopback', true],
    ]);
    expect(journal[0]!['at']).toBe(local.body['at']);
    expect(String(journal[0]!['at'])).toMatch(new RegExp(`^${DAY}T10:`)); // the run's clock, not the wall
  }, 120_000);

  it('pause: no session for that agent while the other goes on; resume; the pause outlives a restart', async () => {
    const dir = await tempDir();
    const r = await rig(dir, us, usHistory);
    await drive(r, () => ticks(r).length === 1);
    const paused = await json(await post(r.http.url, 'pause', { signature: 'ew' }, { 'X-Agent-Trader-Client': 'cli' }));
    expect(paused).toMatchObject({ status: 200, body: { command: 'pause', ok: true, signature: 'ew', paused: true, changed: true, by: 'cli/loopback' } });
    const status = await json(await fetch(`${r.http.url}/api/control/status`));
    expect((status.body['agents'] as Record<string, unknown>[])[0]).toMatchObject({ signature: 'ew', paused: true, paused_by: 'cli/loopback', next_session: null });
    await drive(r, () => ticks(r).length === 3);
    expect(sessionsOf(r, 'ew')).toEqual(['10:05']);
    expect(sessionsOf(r, 'mom')).toEqual(['10:05', '11:05', '12:05']);
    const skipped = r.run.runtime.actor.getSnapshot().context.history.filter((h) => h.signature === 'ew' && h.reason === 'AGENT_PAUSED');
    expect(skipped.map((h) => h.at.slice(11, 16))).toEqual(['11:05', '12:05']);
    await stopRig(r);

    // Started again on the same directory: still paused.
    const again = await rig(dir, us, usHistory);
    await drive(again, () => ticks(again).length === 1);
    expect(ticks(again)).toEqual(['13:05']);
    expect(sessionsOf(again, 'ew')).toEqual([]);
    expect(sessionsOf(again, 'mom')).toEqual(['13:05']);
    const resumed = await json(await post(again.http.url, 'resume', { signature: 'ew' }));
    expect(resumed.body).toMatchObject({ ok: true, paused: false, changed: true, next_session: { at: `${DAY}T14:05:00.000-05:00` } });
    await drive(again, () => ticks(again).length === 2);
    expect(sessionsOf(again, 'ew')).toEqual(['14:05']);
    await stopRig(again);
    const journal = await controlJournal(dir);
    expect(journal.map((j) => [j['type'], j['by'], (j['args'] as { signature?: string }).signature])).toEqual([
      ['control.pause', 'cli/loopback', 'ew'],
      ['control.status', 'loopback', undefined],
      ['control.resume', 'loopback', 'ew'],
    ]);
    expect(journal.map((j) => String(j['at']).slice(11, 13))).toEqual(['10', '10', '13']);
  }, 120_000);

  it('flatten sells what is held through risk and the order machine; reload applies a risk limit and refuses a signature change', async () => {
    const dir = await tempDir();
    let next: Config = us;
    const r = await rig(dir, us, usHistory, async () => next);
    await drive(r, () => ticks(r).length === 1);
    const held = r.run.ledger.account('ew').positions;
    expect(Object.keys(held).length).toBeGreaterThan(0);
    const flat = await json(await post(r.http.url, 'flatten', { signature: 'ew' }));
    expect(flat.status).toBe(200);
    const lines = flat.body['orders'] as { symbol: string; quantity: number; action: string; client_order_id: string; held: number; sellable: number }[];
    expect(lines.map((l) => [l.symbol, l.action, l.quantity])).toEqual(Object.entries(held).sort(([a], [b]) => a.localeCompare(b)).map(([s, p]) => [s, 'sell', p.quantity]));
    expect(lines.every((l) => /^ew\.20251107T10\d\d\.FL\d+-[A-Z]+$/.test(l.client_order_id))).toBe(true);
    await drive(r, () => Object.keys(r.run.ledger.account('ew').positions).length === 0);
    expect(r.run.ledger.account('ew').positions).toEqual({});
    // Each went to the venue as an order of ours, and filled.
    const filled = r.events.filter((e) => e.type === 'fill' && String(e.payload['clientOrderId']).includes('.FL'));
    expect(new Set(filled.map((f) => f.payload['clientOrderId']))).toEqual(new Set(lines.map((l) => l.client_order_id)));
    // Nothing left to sell: refused with the reason.
    const again = await json(await post(r.http.url, 'flatten', { signature: 'ew', symbol: lines[0]!.symbol }));
    expect(again.body['orders']).toMatchObject([{ symbol: lines[0]!.symbol, action: 'refused', reason: 'NOT_HELD' }]);

    // Reload: a signature change is refused, naming the field; nothing is applied.
    next = parseConfig({ ...usRaw, risk_control: { min_cash_reserve: 9999 }, models: [usRaw.models[0], { ...usRaw.models[1], signature: 'momentum' }] }, 'test');
    const refused = await json(await post(r.http.url, 'reload', {}));
    expect(refused).toMatchObject({ status: 409, body: { ok: false, applied: false, refused: [{ field: 'models[].signature', reason: expect.stringContaining('removed mom; added momentum') }] } });
    expect(r.run.control.riskLimits().min_cash_reserve).toBe(1000);
    // A risk limit: taken at the next session. 9,999 of 10,000 kept in cash: every buy is refused.
    next = parseConfig({ ...usRaw, risk_control: { min_cash_reserve: 9999 } }, 'test');
    const ok = await json(await post(r.http.url, 'reload', {}));
    expect(ok.body).toMatchObject({ ok: true, applied: true, changes: ['risk_control.min_cash_reserve'] });
    expect(r.run.control.riskLimits().min_cash_reserve).toBe(1000); // not yet: between sessions
    const rejectedBefore = r.events.filter((e) => e.type === 'risk.rejected').length;
    await drive(r, () => ticks(r).length === 2);
    expect(r.run.control.riskLimits().min_cash_reserve).toBe(9999);
    const rejected = r.events.filter((e) => e.type === 'risk.rejected').slice(rejectedBefore);
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.filter((e) => e.signature === 'ew').every((e) => e.payload['reason'] === 'MIN_CASH_RESERVE')).toBe(true);
    expect(rejected.some((e) => e.signature === 'ew')).toBe(true);
    // Through risk: with the kill switch thrown for mom, its flatten is refused by risk's KILL_SWITCH check.
    expect(Object.keys(r.run.ledger.account('mom').positions).length).toBeGreaterThan(0);
    expect((await json(await post(r.http.url, 'kill', { signature: 'mom' }))).body).toMatchObject({ ok: true, kill_switch: { active: true, signatures: ['mom'] } });
    const halted = await json(await post(r.http.url, 'flatten', { signature: 'mom' }));
    const haltedLines = halted.body['orders'] as { action: string; reason: string; message: string }[];
    expect(haltedLines.length).toBeGreaterThan(0);
    expect(haltedLines.every((l) => l.action === 'refused' && l.reason === 'KILL_SWITCH' && l.message.startsWith('KILL_SWITCH: '))).toBe(true);
    await stopRig(r);
    const journal = await controlJournal(dir);
    expect(journal.map((j) => [j['type'], j['ok']])).toEqual([
      ['control.flatten', true],
      ['control.flatten', true],
      ['control.reload', false],
      ['control.reload', true],
      ['control.kill', true],
      ['control.flatten', true],
    ]);
    expect(journal[2]!['error']).toContain('models[].signature');
  }, 120_000);

  it('A-shares: flatten does not sell shares bought today (T+1) and says why', async () => {
    const dir = await tempDir();
    const cnHistory = await loadPriceStore(CN, { market: 'cn' });
    const cn = parseConfig(
      {
        mode: 'paper',
        market: 'cn',
        frequency: 'hourly',
        data_source: { type: 'replay', bars_file: CN, replay_date: '2025-10-15', replay_speed: 390, stale_quote_seconds: 7200 },
        models: [{ name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }],
      },
      'test',
    );
    const r = await rig(dir, cn, cnHistory);
    await drive(r, () => ticks(r).length === 1);
    const held = Object.entries(r.run.ledger.account('ew').positions);
    expect(held.length).toBeGreaterThan(0);
    const flat = await json(await post(r.http.url, 'flatten', { signature: 'ew' }));
    const lines = flat.body['orders'] as { symbol: string; action: string; reason: string; message: string; held: number; sellable: number }[];
    expect(lines.map((l) => [l.action, l.reason, l.sellable])).toEqual(held.map(() => ['refused', 'T_PLUS_ONE', 0]));
    expect(lines[0]!.message).toMatch(/^T_PLUS_ONE: the \d+ \d{6}\.S[HZ] held were all bought today \(2025-10-15\); they can be sold from the next trading day$/);
    await drive(r, () => ticks(r).length === 2);
    expect(r.events.filter((e) => e.type === 'order' && String(e.payload['clientOrderId']).includes('.FL'))).toEqual([]);
    await stopRig(r);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------
// Telegram: a local server on 127.0.0.1 speaking the Bot API's getUpdates and sendMessage.

interface Update {
  readonly update_id: number;
  readonly message: { readonly message_id: number; readonly chat: { readonly id: number; readonly type: 'private' }; readonly date: number; readonly text: string };
}

class FakeBotApi {
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

const BOT_TOKEN = '7123456789:AAH-fakeTokenForTests_0123456789ab';
const update = (id: number, chat: number, text: string): Update => ({ update_id: id, message: { message_id: id, chat: { id: chat, type: 'private' }, date: 1762500000, text } });

describe('Telegram commands on a paper run', () => {
  it('a command from an allowed chat runs once, also after a restart; another chat is ignored and logged without its text', async () => {
    const { startTelegramCommands, allowedChats } = await import('../../src/actors/monitor/channels/telegram-commands.js');
    const { AlertsSchema } = await import('../../src/config/alerts-schema.js');
    const channel = AlertsSchema.parse({ channels: [{ type: 'telegram', bot_token_env: 'TG', chat_ids: [4242, '@agent_alerts'], commands: true }] }).channels[0]!;
    expect(channel.type === 'telegram' && allowedChats(channel)).toEqual([4242]);
    const dir = await tempDir();
    const r = await rig(dir, us, usHistory);
    await drive(r, () => ticks(r).length === 1);
    const offsetFile = join(dir, 'telegram-offset-telegram.json');
    const logs: string[] = [];
    const start = (api: FakeBotApi) =>
      startTelegramCommands({ name: 'telegram', token: BOT_TOKEN, baseUrl: api.url, allowed: [4242], control: () => r.run.control, offsetFile, scheduler: new EpochVirtualScheduler(WALL0), log: (l) => logs.push(l) });

    const api = await FakeBotApi.start([update(100, 4242, '/pause ew'), update(101, 999, '/pause mom secret words')]);
    const bot = start(api);
    await api.until(() => api.offsets.includes(102));
    expect(api.sent).toEqual([{ chat_id: 4242, text: 'ew paused: no new session until /resume ew' }]);
    expect(new PausedAgents(dir).pausedOf(['ew', 'mom'])).toEqual(['ew']);
    expect(logs).toEqual(['telegram telegram: ignored a message from chat 999 (not in command_chat_ids)']);
    expect(logs.join('\n')).not.toContain('secret');
    expect(logs.join('\n')).not.toContain(BOT_TOKEN);
    expect(api.paths.every((p) => p === '/bot<token>/getUpdates' || p === '/bot<token>/sendMessage')).toBe(true);

    // /status answers from the same control layer.
    api.push(update(102, 4242, '/status@agent_trader_bot'));
    await api.until(() => api.sent.length === 2);
    expect(api.sent[1]!.text).toMatch(/^paper us, next session 2025-11-07T11:05:00\.000-05:00\new: idle, equity \d+\.\d\d USD, today [+-]\d+\.\d\d, \d+ positions, 0 open orders \[paused\]\nmom: idle/);
    api.push(update(103, 4242, '/flatten'));
    await api.until(() => api.sent.length === 3);
    expect(api.sent[2]!.text).toBe('refused: usage: /flatten SIGNATURE [SYMBOL]');
    await bot.close();
    await api.close();

    // Restarted, and Telegram delivers /pause again (its confirmation never reached it): not run twice.
    new PausedAgents(dir).resume('ew', ['ew', 'mom'], 'test');
    const again = await FakeBotApi.start([update(103, 4242, '/flatten'), update(104, 4242, '/resume mom')]);
    const bot2 = start(again);
    await again.until(() => again.offsets.includes(105));
    expect(again.offsets[0]).toBe(104); // the stored offset
    expect(again.sent).toEqual([{ chat_id: 4242, text: 'mom was not paused' }]);
    await bot2.close();
    await again.close();
    await stopRig(r);
    const journal = await controlJournal(dir);
    expect(journal.map((j) => [j['type'], j['by']])).toEqual([
      ['control.pause', 'telegram:4242'],
      ['control.status', 'telegram:4242'],
      ['control.resume', 'telegram:4242'],
    ]);
  }, 120_000);
});

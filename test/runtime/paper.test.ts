/**
 * Paper trading end to end, in one process, on virtual wall time: the built-in replay
 * server (real WebSocket, Alpaca protocol) serves a past US day of the bundled sample,
 * the real quote client streams it, the ReplayClock drives the schedule, and the paper
 * runtime trades two rule agents through risk, orders and the simulated broker at the
 * live prices. Time moves one scheduled action at a time; between actions the test waits
 * for the sockets (every trade sent so far received) and for the engine to settle.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '../../src/domain/money.js';
import { formatReportTable } from '../../src/report/table.js';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { startPaper, type PaperRun } from '../../src/runtime/paper.js';
import { openQuoteSource, type QuoteSource } from '../../src/runtime/quote-source.js';
import { parseConfig } from '../../src/config/load.js';
import type { FeedEvent } from '../../src/domain/feed.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { planReplayDay } from '../../src/server/replay-server.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { call, LlmTestServer, say } from '../support/llm-server.js';
import { cliAsync } from '../support/cli.js';
import { startHttpServer } from '../../src/server/http-server.js';
import { explainRoute } from '../../src/server/explain-route.js';

const SAMPLE = new URL('../../data/sample/us_hourly.jsonl', import.meta.url).pathname;
const DAY = '2025-11-07';
const WALL0 = Date.UTC(2030, 0, 1);

const config = parseConfig(
  {
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
  },
  'test',
);

let history: PriceStore;
beforeAll(async () => {
  history = await loadPriceStore(SAMPLE, { market: 'us' });
});

interface Rig {
  readonly history: PriceStore;
  readonly day: string;
  readonly wall: EpochVirtualScheduler;
  readonly source: QuoteSource;
  readonly run: PaperRun;
  readonly events: FeedEvent[];
  readonly killSwitch: KillSwitch;
}

async function rig(outDir: string, cfg = config, before?: (ks: KillSwitch) => Promise<unknown>, bars = history): Promise<Rig> {
  const history = bars;
  const wall = new EpochVirtualScheduler(WALL0);
  // As the process does: data_source.symbols, else every symbol of the bars.
  const symbols = cfg.data_source.symbols ?? history.symbols();
  const source = await openQuoteSource(cfg, { history, symbols, wall });
  const killSwitch = new KillSwitch(outDir, () => wall.now(), { pollMs: 60_000 });
  await before?.(killSwitch);
  const run = await startPaper({ config: cfg, outDir, scheduler: source.scheduler, wall, timeScale: source.speed, quotes: source.feed, history, universe: symbols, killSwitch, ...(source.until ? { until: source.until } : {}) });
  const events: FeedEvent[] = [];
  run.events.subscribe((e) => events.push(e));
  return { history, day: cfg.data_source.replay_date ?? DAY, wall, source, run, events, killSwitch };
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const plan = (symbols?: readonly string[]) => planReplayDay(history, { date: DAY, ...(symbols ? { symbols } : {}) });

/** Every trade the server has sent by now is in the client; then the engine has nothing left to do. */
async function settle(r: Rig, quotes = true): Promise<void> {
  const sentBy = (ms: number) => planReplayDay(r.history, { date: r.day, ...(r.source.replay?.symbols ? { symbols: r.source.replay.symbols } : {}) }).events.filter((e) => e.kind === 'trade' && e.atMs <= ms).length;
  const due = quotes && r.source.replay ? sentBy(r.source.replay.marketNow().toMillis()) : 0;
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
    if (idle === 0 && running > 0) continue;
  }
}

/** Step virtual wall time one scheduled action at a time until `done()` or nothing is left. */
async function drive(r: Rig, done: () => boolean): Promise<void> {
  await settle(r);
  for (let i = 0; i < 100_000 && !done(); i++) {
    const next = r.wall.actions[0];
    if (!next) break;
    r.wall.advanceTo(next.delay);
    await settle(r);
  }
}

describe('paper trading on a replayed day', () => {
  let out: string;
  let whole: Rig;
  let finished = false;
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'agent-trader-paper-'));
    whole = await rig(out);
    void whole.run.finished.then(() => (finished = true));
    await drive(whole, () => finished);
  }, 120_000);
  afterAll(async () => {
    await whole.run.stop();
    await whole.source.close();
    await rm(out, { recursive: true, force: true });
  });

  it('runs every session of the day and ends with it', () => {
    expect(finished).toBe(true);
    const ticks = whole.events.filter((e) => e.type === 'tick').map((e) => e.payload['at']);
    expect(ticks).toEqual(['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'].map((t) => `${DAY}T${t}:00-05:00`));
    const outcomes = whole.events.filter((e) => e.type === 'session' && e.payload['outcome']).map((e) => `${e.signature} ${String(e.payload['state'])}`);
    expect(outcomes).toHaveLength(12);
    expect(outcomes.every((o) => o.endsWith('completed'))).toBe(true);
  });

  it('fills at the live price: the last trade the replay sent for the symbol before the fill', () => {
    const trades = plan().events.filter((e) => e.kind === 'trade').map((e) => ({ atMs: e.atMs, symbol: e.symbol, price: (JSON.parse(e.json) as { p: number }).p }));
    const fills = whole.events.filter((e) => e.type === 'fill');
    expect(fills.length).toBeGreaterThan(5);
    for (const f of fills) {
      const fill = f.payload['fill'] as { price: string; atMs: number };
      const order = whole.events.find((e) => e.type === 'order' && e.payload['clientOrderId'] === f.payload['clientOrderId'] && e.payload['order']);
      const symbol = (order!.payload['order'] as { symbol: string }).symbol;
      const last = trades.filter((t) => t.symbol === symbol && t.atMs <= fill.atMs).at(-1)!;
      expect(fill.price).toBe(String(last.price));
    }
  });

  it('writes position.jsonl per agent as in a backtest, and the health and dashboard state', async () => {
    for (const sig of ['ew', 'mom']) {
      const lines = (await readFile(join(out, sig, 'position.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { date: string });
      expect(lines[0]).toMatchObject({ id: 0 });
      expect(new Set(lines.slice(1).map((l) => l.date))).toEqual(new Set(['10:00', '11:00', '12:00', '13:00', '14:00', '15:00'].map((t) => `${DAY} ${t}:00`)));
    }
    const health = whole.run.health();
    expect(health).toMatchObject({ mode: 'paper', broker: { connected: true }, quotes: { source: 'replay', connected: true }, sessions: { ew: { status: 'completed' }, mom: { status: 'completed' } } });
    const state = await whole.run.state();
    expect(state.accounts.map((a) => [a.signature, a.equityCurve.length])).toEqual([
      ['ew', 6],
      ['mom', 6],
    ]);
    expect(state.accounts[0]!.positions.length).toBeGreaterThan(0);
    expect(state.orders.length).toBeGreaterThan(5);
    expect(new Set(whole.events.map((e) => e.type))).toEqual(new Set(['tick', 'session', 'decision', 'order', 'fill']));
  });

  it('daily report: written under the state dir and sent as an alert', async () => {
    const report = await whole.run.monitor.report(DAY);
    expect(report.lines.map((l) => [l.signature, l.orders > 0, l.fills > 0])).toEqual([
      ['ew', true, true],
      ['mom', true, true],
    ]);
    const file = JSON.parse(await readFile(join(out, 'reports', `us-${DAY}.json`), 'utf8')) as { lines: { signature: string; equity: string }[] };
    expect(file.lines.map((l) => l.signature)).toEqual(['ew', 'mom']);
    expect(await readFile(join(out, 'reports', `us-${DAY}.txt`), 'utf8')).toMatch(/^Daily report us 2025-11-07 \(equity marked at 2025-11-07 \d\d:\d\d EST\)\n- ew: equity \d+\.\d\d USD/);
    expect(report.markedAt).toMatch(/^2025-11-07T\d\d:\d\d:\d\d\.\d{3}-05:00$/);
    await whole.run.runtime.flush();
    const alerts = () => whole.events.filter((e) => e.type === 'alert' && e.payload['code'] === 'DAILY_REPORT');
    expect(alerts().map((a) => a.payload['level'])).toEqual(['info']);
    // One report per market day: asked again (the end of the replayed day, then the schedule),
    // it is the same report, its file is not overwritten and nothing is sent again.
    const files = await readFile(join(out, 'reports', `us-${DAY}.json`), 'utf8');
    const again = await whole.run.monitor.report(DAY);
    expect(again).toEqual(report);
    expect(again.lines.every((l) => l.orders > 0 && l.fills > 0)).toBe(true);
    expect(await readFile(join(out, 'reports', `us-${DAY}.json`), 'utf8')).toBe(files);
    await whole.run.runtime.flush();
    expect(alerts()).toHaveLength(1);
  });

  it('money agrees everywhere: report.json, the table, /api/state, position.jsonl and the daily report show one cash; each valuation names its instant', async () => {
    const { report } = await whole.run.writeReport(DateTime.fromISO('2030-01-01T00:00:00Z'));
    const daily = await whole.run.monitor.report(DAY);
    const state = await whole.run.state();
    const table = formatReportTable(report);
    let subCent = 0;
    for (const sig of ['ew', 'mom']) {
      const lines = (await readFile(join(out, sig, 'position.jsonl'), 'utf8')).trim().split('\n');
      const logged = (JSON.parse(lines.at(-1)!) as { positions: Record<string, number> }).positions['CASH']!.toFixed(2);
      const cash = report.signatures[sig]!.final_cash;
      expect(cash).toMatch(/^\d+\.\d\d$/);
      expect([logged, state.accounts.find((a) => a.signature === sig)!.cash, daily.lines.find((l) => l.signature === sig)!.cash], sig).toEqual([cash, cash, cash]);
      // The ledger's own cash is whole cents (each fill booked to the cent), though the fills were at 4-decimal prices.
      expect(whole.run.ledger.account(sig).cash.toFixed()).toBe(dec(cash).toFixed());
      // The table prints report.json's final value, and says when it is marked.
      expect(table).toMatch(new RegExp(`\\n${sig} +[\\d.]+ +${dec(report.signatures[sig]!.final_value).toFixed(2)} `));
      expect(report.signatures[sig]!.marked_at).toBe(`${DAY}T15:05:00-05:00`);
      subCent += whole.events.filter((e) => e.type === 'fill' && e.signature === sig && /\.\d{3,}$/.test(String((e.payload['fill'] as { price: string }).price))).length;
    }
    expect(subCent).toBeGreaterThan(0); // the prices had sub-cent digits: the rounding was exercised
    expect(table).toContain(`final: marked at the last session, ${DAY}T15:05:00-05:00`);
    expect(state.accounts.map((a) => a.markedAt)).toEqual([state.time, state.time]);
    expect(daily.markedAt).toBeDefined();
  });

  it('position sync: the broker wins, the ledger is corrected, journalled and alerted', async () => {
    expect(await whole.run.monitor.sync('test: in sync')).toEqual({});
    const before = whole.run.ledger.account('ew');
    const aapl = before.positions['AAPL']?.quantity ?? 0;
    // A fill the venue never made: the ledger now holds 7 AAPL more and less cash than the broker.
    await whole.run.ledger.applyFill({
      signature: 'ew',
      clientOrderId: 'ghost.20251107T1505.1',
      intent: { side: 'buy', symbol: 'AAPL', quantity: 7, type: 'market' },
      fill: { fillId: 'ghost-1', quantity: 7, price: '100', fee: '0', atMs: Date.parse('2025-11-07T20:00:00Z') },
    });
    const diffs = await whole.run.monitor.sync('test: ghost fill');
    expect(diffs).toEqual({ ew: [`AAPL: ledger ${aapl + 7}, broker ${aapl}`, `cash: ledger ${before.cash.minus(700).toFixed()}, broker ${before.cash.toFixed()}`] });
    const after = whole.run.ledger.account('ew');
    expect([after.positions['AAPL']?.quantity ?? 0, after.cash.toFixed()]).toEqual([aapl, before.cash.toFixed()]);
    // The feed hears of it once the correction is committed.
    await whole.run.runtime.flush();
    const alert = whole.events.find((e) => e.type === 'alert' && e.payload['code'] === 'POSITION_MISMATCH');
    expect(alert).toMatchObject({ signature: 'ew', payload: { level: 'warning' } });
    expect(String(alert!.payload['message'])).toContain(`AAPL: ledger ${aapl + 7}, broker ${aapl}`);
    expect(await whole.run.monitor.sync('test: again')).toEqual({});
  });

  it('after the day the run clock stands at its end however long the wall runs on (a stop grace of 30 s at 390x is 3 market hours; 5 min, past midnight)', async () => {
    const end = '2025-11-07T23:59:59.999-05:00';
    for (let i = 0; i < 300; i++) {
      whole.wall.advanceTo(whole.wall.now() + 1_000);
      await settle(whole, false);
    }
    expect(DateTime.fromMillis(whole.source.scheduler.now(), { zone: 'America/New_York' }).toISO()).toBe(end);
    expect(whole.source.replay!.marketNow().toISO()).toBe(end);
    expect(whole.run.health().clock['now']).toBe(end);
    expect((await whole.run.state()).time).toBe(end);
    // Nothing the run told after the close is stamped on another day.
    expect(whole.events.filter((e) => !e.time.startsWith(DAY))).toEqual([]);
  }, 120_000);

  it('survives a restart: stopped after 12:05, started again on the same directory, it ends as the uninterrupted run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-paper-restart-'));
    try {
      const first = await rig(dir);
      const ticks = () => first.events.filter((e) => e.type === 'tick').length;
      await drive(first, () => ticks() === 3);
      await first.run.stop();
      await first.source.close();

      const second = await rig(dir);
      let done = false;
      void second.run.finished.then(() => (done = true));
      await drive(second, () => done);
      expect(second.events.filter((e) => e.type === 'tick').map((e) => String(e.payload['at']).slice(11, 16))).toEqual(['13:05', '14:05', '15:05']);
      for (const sig of ['ew', 'mom']) {
        expect(await readFile(join(dir, sig, 'position.jsonl'), 'utf8')).toBe(await readFile(join(out, sig, 'position.jsonl'), 'utf8'));
      }
      const daily = await second.run.monitor.report(DAY);
      const files = await readFile(join(dir, 'reports', `us-${DAY}.json`), 'utf8');
      await second.run.stop();
      await second.source.close();

      // Started again after the day's report: the day keeps its one report, sent once.
      const third = await rig(dir);
      expect(await third.run.monitor.report(DAY)).toEqual(daily);
      expect(await readFile(join(dir, 'reports', `us-${DAY}.json`), 'utf8')).toBe(files);
      await third.run.runtime.flush();
      expect(third.events.filter((e) => e.type === 'alert' && e.payload['code'] === 'DAILY_REPORT')).toEqual([]);
      await third.run.stop();
      await third.source.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('paper trading limited to data_source.symbols', () => {
  it('streams and trades only those symbols; an order for another is refused SYMBOL_NOT_TRADED', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-paper-universe-'));
    try {
      const cfg = parseConfig(
        {
          mode: 'paper',
          market: 'us',
          frequency: 'hourly',
          schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'] },
          // stale_quote_seconds this wide let a bar's open from the file pass for a quote: only the universe stops it.
          data_source: { type: 'replay', bars_file: SAMPLE, replay_date: DAY, replay_speed: 390, stale_quote_seconds: 1800, symbols: ['AAPL', 'MSFT', 'NVDA'] },
          risk_control: { min_cash_reserve: 1000 },
          models: [
            { name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
            { name: 'wide', signature: 'wide', agent: { kind: 'rules', strategy: 'equal_weight', params: { symbols: ['AAPL', 'MSFT', 'NVDA', 'TSLA'] } } },
          ],
          agent_config: { initial_cash: 10000 },
        },
        'test',
      );
      const r = await rig(dir, cfg);
      let done = false;
      void r.run.finished.then(() => (done = true));
      await drive(r, () => done);
      expect(done).toBe(true);
      expect(r.source.replay!.symbols).toEqual(['AAPL', 'MSFT', 'NVDA']);

      const placed = r.events.filter((e) => e.type === 'order' && e.payload['order']).map((e) => [e.signature, (e.payload['order'] as { symbol: string }).symbol]);
      expect(new Set(placed.filter(([s]) => s === 'ew').map(([, symbol]) => symbol))).toEqual(new Set(['AAPL', 'MSFT', 'NVDA']));
      expect(new Set(placed.filter(([s]) => s === 'wide').map(([, symbol]) => symbol))).toEqual(new Set(['AAPL', 'MSFT', 'NVDA']));
      const refused = r.events.filter((e) => e.type === 'risk.rejected');
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.map((e) => [e.signature, e.payload['reason']])).toEqual(refused.map(() => ['wide', 'SYMBOL_NOT_TRADED']));
      expect(refused[0]!.payload['message']).toBe('SYMBOL_NOT_TRADED: TSLA is not one of the symbols this run trades (data_source.symbols: AAPL, MSFT, NVDA)');
      // Every fill is at a price the replay streamed (no bar open from the file).
      const trades = plan().events.filter((e) => e.kind === 'trade');
      for (const f of r.events.filter((e) => e.type === 'fill')) {
        const order = r.events.find((e) => e.type === 'order' && e.payload['clientOrderId'] === f.payload['clientOrderId'] && e.payload['order']);
        const symbol = (order!.payload['order'] as { symbol: string }).symbol;
        const fill = f.payload['fill'] as { price: string; atMs: number };
        const last = trades.filter((t) => t.symbol === symbol && t.atMs <= fill.atMs).at(-1)!;
        expect(fill.price).toBe(String((JSON.parse(last.json) as { p: number }).p));
      }
      // position.jsonl lists the universe, as the agents saw it.
      const first = JSON.parse((await readFile(join(dir, 'ew', 'position.jsonl'), 'utf8')).split('\n')[0]!) as { positions: Record<string, number> };
      expect(Object.keys(first.positions)).toEqual(['AAPL', 'MSFT', 'NVDA', 'CASH']);
      await r.run.stop();
      await r.source.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('paper trading with an LLM agent and the kill switch', () => {
  it('an llm agent trades at live prices through the same engine, while a halted agent is refused', async () => {
    const server = await LlmTestServer.start();
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-paper-llm-'));
    try {
      server.script('scripted', call('get_price_local', { symbol: 'AAPL' }), call('buy', { symbol: 'AAPL', amount: 5 }, { content: 'AAPL for the long run.' }), say('Bought.'));
      for (let i = 0; i < 5; i++) server.script('scripted', say('Holding.'));
      const cfg = parseConfig(
        {
          mode: 'paper',
          market: 'us',
          frequency: 'hourly',
          schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'] },
          data_source: { type: 'replay', bars_file: SAMPLE, replay_date: DAY, replay_speed: 390, stale_quote_seconds: 1800 },
          risk_control: { min_cash_reserve: 1000 },
          models: [
            { name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
            { name: 'llm', signature: 'llm', agent: { kind: 'llm', basemodel: 'scripted', base_url: server.url } },
          ],
          agent_config: { initial_cash: 10000 },
        },
        'test',
      );
      const r = await rig(dir, cfg, (ks) => ks.activate({ signature: 'ew', reason: 'test halt' }));
      let done = false;
      void r.run.finished.then(() => (done = true));
      await drive(r, () => done);
      expect(server.remaining('scripted')).toBe(0);

      const fills = r.events.filter((e) => e.type === 'fill');
      expect(fills.map((f) => f.signature)).toEqual(['llm']);
      const fill = fills[0]!.payload['fill'] as { price: string; quantity: number; atMs: number };
      const aapl = plan().events.filter((e) => e.kind === 'trade' && e.symbol === 'AAPL' && e.atMs <= fill.atMs).at(-1)!;
      expect(fill).toMatchObject({ quantity: 5, price: String((JSON.parse(aapl.json) as { p: number }).p) });

      const refused = r.events.filter((e) => e.type === 'risk.rejected');
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((e) => e.signature === 'ew' && e.payload['reason'] === 'KILL_SWITCH')).toBe(true);
      expect((await readFile(join(dir, 'llm', 'position.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { this_action?: { action: string } }).filter((l) => l.this_action?.action === 'buy')).toHaveLength(1);

      // explain while the process runs (its LevelDB is locked to others): over HTTP, and the CLI's --server.
      const cid = String(fills[0]!.payload['clientOrderId']);
      const http = await startHttpServer({ events: r.run.events, health: () => r.run.health(), state: () => r.run.state(), extraRoutes: explainRoute((c) => r.run.explain(c)) });
      try {
        const x = (await (await fetch(`${http.url}/api/explain/${cid}`)).json()) as { intent: { symbol: string; modelStep: number }; reasoning: { content: string } };
        expect(x).toMatchObject({ intent: { symbol: 'AAPL', modelStep: 2 }, reasoning: { content: 'AAPL for the long run.' } });
        const missing = await fetch(`${http.url}/api/explain/llm.20251107T1005.9`);
        expect([missing.status, ((await missing.json()) as { error: string }).error]).toEqual([404, 'llm.20251107T1005.9: none of the 6 transcripts of llm asked for this order (a protective stop-loss order, or another run?)']);
        const shown = await cliAsync(['explain', cid, '--server', http.url]);
        expect(shown.stderr).toBe('');
        expect(shown.stdout).toContain(`order     ${cid}: buy 5 AAPL`);
        expect(shown.stdout).toContain('said      AAPL for the long run.');
      } finally {
        await http.close();
      }
      await r.run.stop();
      await r.source.close();
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('heartbeats in a paper run', () => {
  it('a quote feed gone silent while the market is open raises QUOTE_FEED_SILENT and shows on /health', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-paper-silent-'));
    try {
      const r = await rig(dir);
      await drive(r, () => r.events.some((e) => e.type === 'tick'));
      await drive(r, () => Object.keys(r.run.runtime.actor.getSnapshot().context.running).length === 0);
      expect(r.run.health().quotes).toMatchObject({ fresh: true });
      await r.source.replay!.close();
      const silent = () => r.events.some((e) => e.type === 'alert' && e.payload['code'] === 'QUOTE_FEED_SILENT');
      for (let i = 0; i < 60 && !silent(); i++) {
        r.wall.advanceTo(r.wall.now() + 1000);
        await settle(r, false); // the server is gone: no trade is on its way
      }
      expect(silent()).toBe(true);
      const health = r.run.health();
      expect(health.quotes.fresh).toBe(false);
      expect(health['heartbeats']).toMatchObject({ quotes: { ok: false, code: 'QUOTE_FEED_SILENT' }, clock: { ok: true }, broker: { ok: true } });
      await r.run.stop();
      await r.source.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('A-share hourly paper on a replayed day (config/cn-hourly.json sessions)', () => {
  it('trades in all four sessions: 11:35 waits for 13:00, 15:05 for the next open, each with a protective limit; none refused MARKET_CLOSED', async () => {
    const CN = new URL('../../data/sample/cn_hourly.jsonl', import.meta.url).pathname;
    const CN_DAY = '2025-10-15';
    const cnHistory = await loadPriceStore(CN, { market: 'cn' });
    const server = await LlmTestServer.start();
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-paper-cn-'));
    try {
      for (let i = 0; i < 4; i++) server.script('scripted', call('buy', { symbol: '600036.SH', amount: 100 }), say('Bought.'));
      const base = JSON.parse(await readFile(new URL('../../config/cn-hourly.json', import.meta.url), 'utf8')) as Record<string, unknown>;
      const cfg = parseConfig(
        {
          ...base,
          mode: 'paper',
          data_source: { type: 'replay', bars_file: CN, replay_date: CN_DAY, replay_speed: 390, stale_quote_seconds: 7200 },
          models: [...(base['models'] as object[]), { name: 'llm', signature: 'llm', agent: { kind: 'llm', basemodel: 'scripted', base_url: server.url } }],
          state_dir: join(dir, 'state'),
        },
        'test',
      );
      expect(cfg.execution.orders_outside_hours).toBe('queue_next_open');
      const r = await rig(dir, cfg, undefined, cnHistory);
      let done = false;
      void r.run.finished.then(() => (done = true));
      await drive(r, () => done);
      expect(server.remaining('scripted')).toBe(0);

      const ticks = r.events.filter((e) => e.type === 'tick').map((e) => String(e.payload['at']));
      expect(ticks).toEqual(['10:35', '11:35', '14:05', '15:05'].map((t) => `${CN_DAY}T${t}:00+08:00`));
      const orders = r.events.filter((e) => e.type === 'order' && e.signature === 'llm' && e.payload['status'] === 'new');
      const bySession = new Map(orders.map((o) => [String(o.payload['clientOrderId']).replace(/^llm\.\d{8}T(\d\d)(\d\d)\.\d+$/, '$1:$2'), o]));
      expect([...bySession.keys()]).toEqual(['10:35', '11:35', '14:05', '15:05']);
      const fillOf = (session: string) => {
        const cid = bySession.get(session)!.payload['clientOrderId'];
        return r.events.find((e) => e.type === 'fill' && e.payload['clientOrderId'] === cid)?.payload['fill'] as { atMs: number; price: string } | undefined;
      };
      const at = (ms: number | undefined) => (ms === undefined ? undefined : DateTime.fromMillis(ms, { zone: 'Asia/Shanghai' }).toFormat('HH:mm'));
      expect(at(fillOf('10:35')?.atMs)).toBe('10:35');
      expect(at(fillOf('14:05')?.atMs)).toBe('14:05');
      expect(at(fillOf('11:35')?.atMs)).toBe('13:00'); // sent at the afternoon open, not refused in the lunch break
      expect(fillOf('15:05')).toBeUndefined(); // waits for the next trading day's open
      // The agent is told: its tool answer for the lunch-break and after-close buys says queued, until when, at what limit.
      const answers = server
        .requestsFor('scripted')
        .flatMap((q) => q.body.messages.filter((m) => m.role === 'tool').map((m) => String(m.content)))
        .filter((c, i, all) => all.indexOf(c) === i);
      expect(answers).toHaveLength(4);
      const queued = answers.filter((a) => a.includes('queued_until'));
      expect(queued).toHaveLength(2);
      expect(queued[0]).toContain(`${CN_DAY}T13:00:00+08:00`);
      expect(queued[1]).toContain('2025-10-16T09:30:00+08:00');
      for (const a of queued) expect(a).toMatch(/limit/);
      const closed = r.events.filter((e) => (e.type === 'order' || e.type === 'risk.rejected') && e.payload['reason'] === 'MARKET_CLOSED');
      expect(closed).toEqual([]);
      await r.run.stop();
      await r.source.close();
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('paper trading with a strategy module of the user', () => {
  it('runs the example mean-reversion module through risk and the venue on the replayed day, as in a backtest', async () => {
    const out = await mkdtemp(join(tmpdir(), 'agent-trader-paper-module-'));
    const cfg = parseConfig(
      {
        ...config,
        models: [
          {
            name: 'Mean reversion',
            signature: 'mr',
            agent: { kind: 'module', path: new URL('../../examples/strategies/mean-reversion.ts', import.meta.url).pathname, params: { lookback: 6, buy_n: 2, keep_cash: 1100, max_weight: 0.25 } },
          },
        ],
      },
      'test',
    );
    const r = await rig(out, cfg);
    try {
      let finished = false;
      void r.run.finished.then(() => (finished = true));
      await drive(r, () => finished);
      expect(finished).toBe(true);
      const outcomes = r.events.filter((e) => e.type === 'session' && e.payload['outcome']).map((e) => String(e.payload['state']));
      expect(outcomes).toHaveLength(6);
      expect(outcomes.every((s) => s === 'completed')).toBe(true);
      // It traded at the live prices, through the same order machine.
      const fills = r.events.filter((e) => e.type === 'fill' && e.signature === 'mr');
      expect(fills.length).toBeGreaterThan(0);
      expect(r.run.ledger.account('mr').cash.eq(10000)).toBe(false);
    } finally {
      await r.run.stop();
      await r.source.close();
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);
});

/**
 * The dashboard of a real paper run, in Chromium: the built-in replay (real WebSocket,
 * Alpaca protocol) of a past US day on virtual wall time drives two rule agents; the
 * process's HTTP server serves the page, the state and the feed. Then `report --serve` (a
 * child process) on the stopped run's directory. Assertions are on the DOM, every wait is
 * on a DOM condition, a socket or the virtual clock (no sleep).
 *
 * Skipped with a one-line notice without Chromium (see test/support/browser.ts).
 */
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DateTime } from 'luxon';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { KillSwitch } from '../../src/actors/risk/kill-switch.js';
import { parseConfig } from '../../src/config/load.js';
import type { DashboardState } from '../../src/domain/dashboard-state.js';
import type { FeedEvent } from '../../src/domain/feed.js';
import type { Report } from '../../src/report/types.js';
import { startPaper, type PaperRun } from '../../src/runtime/paper.js';
import { openQuoteSource, type QuoteSource } from '../../src/runtime/quote-source.js';
import { startHttpServer, type RunningHttpServer } from '../../src/server/http-server.js';
import { planReplayDay } from '../../src/server/replay-server.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { browserPlan } from '../support/browser.js';
import { spawnCli } from '../support/cli.js';

const plan = browserPlan();
if (plan.run === false) console.warn(plan.notice);

const SAMPLE = new URL('../../data/sample/us_hourly.jsonl', import.meta.url).pathname;
const DAY = '2025-11-07';
const WALL0 = Date.UTC(2030, 0, 1);
const HEARTBEAT_MS = 10_000;

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

/** The page's rounding: to the cent, half up, on the decimal text. */
function money(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text)!;
  const [, sign, whole, frac = ''] = m;
  if (frac.length <= 2) return `${sign}${whole}.${frac.padEnd(2, '0')}`;
  const cents = (BigInt(whole! + frac.slice(0, 2)) + (frac[2]! >= '5' ? 1n : 0n)).toString().padStart(3, '0');
  return `${sign}${cents.slice(0, -2)}.${cents.slice(-2)}`;
}
const shortTime = (iso: string) => iso.slice(0, 19).replace('T', ' ');
const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const textIs = (page: Page, selector: string, text: string) => page.locator(selector).filter({ hasText: new RegExp(`^${escape(text)}$`) }).first().waitFor();

let browser: Browser;
let history: PriceStore;
let parent: string;
let out: string;
let wall: EpochVirtualScheduler;
let source: QuoteSource;
let run: PaperRun;
let http: RunningHttpServer;
const events: FeedEvent[] = [];
let page: Page;
const problems: string[] = [];
let finished = false;

const turn = () => new Promise<void>((r) => setImmediate(r));

/** Every trade the replay has sent by now is in the client; then the engine has nothing left to do. */
async function settle(): Promise<void> {
  const due = planReplayDay(history, { date: DAY }).events.filter((e) => e.kind === 'trade' && e.atMs <= source.replay!.marketNow().toMillis()).length;
  while (source.feed.health().quotes < due) await turn();
  let idle = 0;
  for (;;) {
    const before = events.length;
    await run.ledger.idle();
    await run.runtime.flush();
    await turn();
    const running = Object.keys(run.runtime.actor.getSnapshot().context.running).length;
    if (running === 0 && events.length === before) {
      if (++idle > 3) return;
    } else idle = 0;
  }
}

/** Step virtual wall time one scheduled action at a time until `done()`. */
async function drive(done: () => boolean): Promise<void> {
  await settle();
  for (let i = 0; i < 100_000 && !done(); i++) {
    const next = wall.actions[0];
    if (!next) break;
    wall.advanceTo(next.delay);
    await settle();
  }
}

beforeAll(async () => {
  if (plan.run === 'fail') throw new Error(plan.error);
  if (plan.run !== true) return;
  browser = await chromium.launch({ executablePath: plan.executablePath, headless: true });
  history = await loadPriceStore(SAMPLE, { market: 'us' });
  parent = await mkdtemp(join(tmpdir(), 'agent-trader-dash-'));
  out = join(parent, 'paper-run');
  await mkdir(out);
  wall = new EpochVirtualScheduler(WALL0);
  const symbols = history.symbols();
  source = await openQuoteSource(config, { history, symbols, wall });
  const killSwitch = new KillSwitch(out, () => wall.now(), { pollMs: 60_000 });
  run = await startPaper({ config, outDir: out, scheduler: source.scheduler, wall, timeScale: source.speed, quotes: source.feed, history, universe: symbols, killSwitch, ...(source.until ? { until: source.until } : {}) });
  run.events.subscribe((e) => events.push(e));
  void run.finished.then(() => (finished = true));
  // As the process serves it; the feed's clock is the (virtual) wall, heartbeats included.
  http = await startHttpServer({ events: run.events, health: () => run.health(), state: () => run.state(), scheduler: wall, heartbeatMs: HEARTBEAT_MS });

  page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(`${http.url}/`);
  await page.waitForSelector('#conn.live');
  // Every state the charts highlight, as the page goes (a MutationObserver in the page, no polling).
  // (A string: this project's TypeScript has no DOM types.)
  await page.evaluate(`(() => {
    const seen = {};
    window.seen = seen;
    const record = () => {
      for (const li of document.querySelectorAll('.account li[aria-current]')) {
        const sig = li.closest('.account').getAttribute('data-signature');
        const st = li.getAttribute('data-state');
        const list = (seen[sig] ??= []);
        if (list.at(-1) !== st) list.push(st);
      }
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-current'] });
    record();
  })()`);
  await drive(() => finished);
  // One more heartbeat after the day: the page refetches and marks the accounts at the run's now.
  wall.advanceTo(wall.actions[0]!.delay);
  await settle();
}, 180_000);

afterAll(async () => {
  await page?.close();
  await browser?.close();
  await http?.close();
  await run?.stop();
  await source?.close();
  if (parent) await rm(parent, { recursive: true, force: true });
});

describe.skipIf(plan.run === false)('the dashboard of a paper run on the replay, in Chromium', () => {
  let state: DashboardState;
  beforeAll(async () => {
    state = await run.state();
  });

  it('shows each account at the latest mark, equal to the ledger, with its PnL split and its last session equity', async () => {
    expect(finished).toBe(true);
    expect(events.some((e) => e.type === 'fill')).toBe(true);
    for (const sig of ['ew', 'mom']) {
      const ledger = await run.ledger.getAccount(sig, state.time);
      const account = state.accounts.find((a) => a.signature === sig)!;
      expect(account.equity).toBe(ledger.equity);
      const card = `.account[data-signature="${sig}"]`;
      await textIs(page, `${card} .marked-at`, shortTime(state.time));
      expect(await page.textContent(`${card} .equity`)).toBe(`${money(ledger.equity)} USD`);
      expect(await page.textContent(`${card} .cash`)).toBe(`${money(ledger.cash)} USD`);
      const curve = run.ledger.equityCurve(sig);
      expect(await page.textContent(`${card} .equity-last`)).toBe(money(curve.at(-1)!.equity));
      // realised + unrealised = equity - initial cash, each shown signed to the cent.
      const { realised, unrealised, total } = account.pnl!;
      expect(Number(realised) + Number(unrealised)).toBeCloseTo(Number(ledger.equity) - 10000, 6);
      const signed = (t: string) => (t.startsWith('-') ? money(t) : `+${money(t)}`);
      expect(await page.textContent(`${card} .pnl-total`)).toBe(signed(total));
      expect(await page.textContent(`${card} .pnl-realised`)).toBe(signed(realised));
      expect(await page.textContent(`${card} .pnl-unrealised`)).toBe(signed(unrealised));
    }
  });

  it('has a header with numbers: market time and zone, open or closed, the wall clock with its zone, the feed clients', async () => {
    await textIs(page, '#state-time', shortTime(state.clock!.marketTime));
    expect(await page.textContent('#market-zone')).toBe('America/New_York');
    expect(await page.textContent('#market-open')).toBe(state.clock!.marketOpen ? 'open' : 'closed');
    expect(await page.textContent('#server-time')).toBe(shortTime(new Date(wall.now()).toISOString()));
    expect(await page.textContent('#server-zone')).toBe('UTC');
    expect(await page.textContent('#clients')).toBe('1');
    expect(await page.textContent('#next-session')).toBe('none'); // the replayed day is over
  });

  it('highlights each agent\'s session state from the machine\'s definition, live through the session', async () => {
    const states = await page.locator('.account[data-signature="ew"] ol.chart li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-state')));
    expect(states).toEqual(state.statechart!.map((s) => s.id));
    expect(states).toEqual(expect.arrayContaining(['idle', 'fetching', 'deciding', 'executing.checking', 'executing.ordering', 'completed']));
    for (const sig of ['ew', 'mom']) {
      await page.waitForSelector(`.account[data-signature="${sig}"] li.current[data-state="completed"][aria-current="step"]`);
      expect(await page.locator(`.account[data-signature="${sig}"] li.current`).count()).toBe(1);
    }
    const seen = (await page.evaluate('window.seen')) as Record<string, string[]>;
    // States in between, as the feed told them: not only the ends.
    expect(seen['ew']).toEqual(expect.arrayContaining(['fetching', 'deciding', 'recording', 'completed']));
  });

  it('shows the health panel as /health says it, and the alerts', async () => {
    const health = state.health!;
    await textIs(page, '#health-status', health.status);
    expect(await page.textContent('[data-fact="clock"]')).toMatch(/^clock: running, last tick 2025-11-07 15:05:00$/);
    expect(await page.textContent('[data-fact="broker"]')).toBe('broker: simulated connected');
    expect(await page.locator('#health-facts li').count()).toBeGreaterThan(4);
    expect(await page.locator('#alerts tr').count()).toBe(state.alerts!.length);
  });

  it('draws a price chart per symbol with the fills marked at their prices', async () => {
    const traded = [...new Set(events.filter((e) => e.type === 'order' && e.payload['order']).map((e) => (e.payload['order'] as { symbol: string }).symbol))];
    expect(traded.length).toBeGreaterThan(0);
    const fills = events.filter((e) => e.type === 'fill');
    for (const chart of state.charts!) {
      const card = `.chart-card[data-symbol="${chart.symbol}"]`;
      expect(await page.locator(`${card} svg.prices polyline`).count()).toBe(chart.points.length >= 2 ? 1 : 0);
      const dots = await page.locator(`${card} circle.fill`).evaluateAll((cs) => cs.map((c) => `${c.getAttribute('data-signature')} ${c.getAttribute('data-side')} ${c.getAttribute('data-price')}`));
      expect(dots).toEqual(chart.fills.map((f) => `${f.signature} ${f.side} ${f.price}`));
    }
    const dotCount = await page.locator('circle.fill').count();
    expect(dotCount).toBe(fills.length);
    expect(await page.locator('.chart-card').count()).toBe(history.symbols().length);
    await page.screenshot({ path: join(parent, 'live.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('report --serve on the stopped run shows its final state, equal to report.json, without a feed, and lists the runs beside it', async () => {
    await run.stop();
    const { report } = await run.writeReport(DateTime.fromMillis(WALL0));
    // Another run beside it: the page lists both and shows the other on a click.
    await cp(out, join(parent, 'older-run'), { recursive: true, filter: (src) => !src.includes(`${join(out, 'state')}`) });
    const served = spawnCli(['report', out, '--serve', '--port', '0']);
    try {
      const [, url] = await served.until(/stopped run, final state: (http:\/\/\S+?)\/\s/);
      const stopped = await browser.newPage();
      const stoppedProblems: string[] = [];
      stopped.on('pageerror', (e) => stoppedProblems.push(e.message));
      stopped.on('websocket', (ws) => stoppedProblems.push(`websocket ${ws.url()}`));
      await stopped.goto(`${url}/`);
      await textIs(stopped, '#conn', 'stopped run, final state');
      for (const [sig, s] of Object.entries((report as Report).signatures)) {
        const card = `.account[data-signature="${sig}"]`;
        await textIs(stopped, `${card} .equity`, `${money(s.final_value)} USD`);
        expect(await stopped.textContent(`${card} .cash`)).toBe(`${money(s.final_cash)} USD`);
        expect(await stopped.textContent(`${card} .marked-at`)).toBe(shortTime(s.marked_at!));
        const total = (Number(s.final_value) - Number(s.initial_value)).toFixed(2);
        expect((await stopped.textContent(`${card} .pnl-total`))!.replace('+', '')).toBe(total);
      }
      expect(await stopped.isHidden('#kill-panel')).toBe(true);
      expect(await stopped.locator('circle.fill').count()).toBe(events.filter((e) => e.type === 'fill').length);
      const runs = await stopped.locator('#runs li').evaluateAll((lis) => lis.map((li) => `${li.getAttribute('data-run')}${li.classList.contains('current') ? ' *' : ''}`));
      expect(runs.sort()).toEqual([`${basename(out)} *`, 'older-run'].sort());
      await stopped.click('#runs li[data-run="older-run"] a');
      await stopped.waitForSelector('#runs li.current[data-run="older-run"]');
      await stopped.screenshot({ path: join(parent, 'stopped.png'), fullPage: true });
      expect(stoppedProblems).toEqual([]);
      await stopped.close();
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
    }
  });
});

/**
 * The dashboard in a real headless Chromium (playwright-core driving the system's
 * browser, no download): it loads, draws the state, follows the live feed, throws
 * the kill switch with the token, and logs no console error on the way. Waits are
 * on DOM conditions only.
 *
 * Runs wherever Chromium is (/usr/bin/chromium or CHROMIUM_PATH). Without it the file is
 * skipped with a one-line notice naming the install command, unless
 * AGENT_TRADER_REQUIRE_BROWSER=1 (set by .ci/run) makes the missing browser a failure.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KillRequest } from '../../src/server/event-feed.js';
import type { DashboardState } from '../../src/domain/dashboard-state.js';
import { browserPlan } from '../support/browser.js';
import { TOKEN, closeAll, event, sampleState, startHarness } from './helpers.js';

const plan = browserPlan();
if (plan.run === false) console.warn(plan.notice);

let browser: Browser;
beforeAll(async () => {
  if (plan.run === 'fail') throw new Error(plan.error);
  if (plan.run === true) browser = await chromium.launch({ executablePath: plan.executablePath, headless: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

const pages: Page[] = [];
afterEach(async () => {
  for (const p of pages.splice(0)) await p.close();
  await closeAll();
});

/** A page that records console errors and uncaught exceptions. */
async function openPage(url: string) {
  const page = await browser.newPage();
  pages.push(page);
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(url);
  return { page, problems };
}

/** Wait until the element's whole text is `text`. */
const textIs = (page: Page, selector: string, text: string) =>
  page.locator(selector).filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).waitFor();

describe.skipIf(plan.run === false)('dashboard in Chromium', () => {
  it('shows the accounts, follows live fills, and refetches the state on them', async () => {
    let state: DashboardState = sampleState();
    const h = await startHarness({ state: () => state });
    const { page, problems } = await openPage(`${h.server.url}/`);

    await page.waitForSelector('[data-signature="alpha"]');
    await page.waitForSelector('[data-signature="beta"]');
    expect(await page.textContent('[data-signature="alpha"] .cash')).toBe('9000.00 USD');
    expect(await page.textContent('[data-signature="alpha"] .equity')).toBe('10120.50 USD');
    expect(await page.textContent('[data-signature="beta"] .cash')).toBe('100000.01 CNY');
    expect(await page.textContent('[data-signature="beta"] .equity')).toBe('99999.99 CNY');
    expect(await page.locator('[data-signature="alpha"] svg.curve polyline').count()).toBe(1);
    expect(await page.textContent('[data-signature="alpha"] tbody')).toContain('AAPL');
    await page.waitForSelector('tr[data-order="alpha-1"]');
    await textIs(page, '#conn', 'live (loopback)');

    state = {
      ...state,
      orders: [
        { time: '2026-01-05T14:31:00.000Z', signature: 'beta', clientOrderId: 'beta-7', symbol: '600519', side: 'buy', quantity: 100, status: 'filled', filledQuantity: 100, averagePrice: '1500.00' },
        ...state.orders,
      ],
    };
    h.events.next(
      event('fill', { clientOrderId: 'beta-7', fill: { fillId: 'f-1', quantity: 100, price: '1500.00', fee: '5.00', atMs: 0 } }, 'beta'),
    );
    await page.waitForSelector('#events li[data-type="fill"]');
    expect(await page.textContent('#events li[data-type="fill"]')).toContain('beta-7 100 @ 1500.00');
    await page.waitForSelector('tr[data-order="beta-7"]');

    // Text that looks like markup stays text.
    h.events.next(event('alert', { level: 'warning', message: '<img src=x onerror=alert(1)>' }));
    await page.waitForSelector('#events li[data-type="alert"]');
    expect(await page.locator('#events img').count()).toBe(0);
    expect(await page.textContent('#events li[data-type="alert"]')).toContain('<img src=x onerror=alert(1)>');

    expect(problems).toEqual([]);
  });

  it('says in the header when quotes are missing and when the next session is, and updates on an alert', async () => {
    let state: DashboardState = {
      ...sampleState(),
      quotes: { source: 'sina', connected: false, missing: true, missingSince: '2026-01-05T02:00:00.000+08:00', lastError: 'sina: request failed: ECONNREFUSED', nextPollAt: '2026-01-05T02:15:00.000+08:00' },
      nextSessionAt: '2026-01-05T10:35:00.000+08:00',
    };
    const h = await startHarness({ state: () => state });
    const { page, problems } = await openPage(`${h.server.url}/`);
    await textIs(page, '#quotes', 'quotes missing since 2026-01-05 02:00:00: sina (sina: request failed: ECONNREFUSED), next poll 2026-01-05 02:15:00');
    expect(await page.getAttribute('#quotes', 'class')).toBe('pill down');
    await textIs(page, '#next-session', '2026-01-05 10:35:00');

    state = { ...state, quotes: { source: 'sina', connected: true, missing: false, lastQuoteAt: '2026-01-05T02:15:00.000+08:00' } };
    h.events.next(event('alert', { level: 'info', code: 'QUOTE_SOURCE_DOWN_RECOVERED', message: 'quoteSource: alive again' }));
    await textIs(page, '#quotes', 'quotes sina, last 2026-01-05 02:15:00');
    expect(problems).toEqual([]);
  });

  it('throws the kill switch from the panel with the token, over its own feed connection', async () => {
    const calls: KillRequest[] = [];
    const h = await startHarness({
      token: TOKEN,
      onKill: async (r) => {
        calls.push(r);
        return { active: true, signatures: [r.signature], reason: r.reason };
      },
    });
    const { page, problems } = await openPage(`${h.server.url}/#token=${TOKEN}`);
    await page.waitForSelector('[data-signature="alpha"]');
    await textIs(page, '#conn', 'live (token)');
    expect(page.url()).not.toContain(TOKEN); // dropped from the address bar

    await page.selectOption('#kill-signature', 'alpha');
    await page.fill('#kill-reason', 'dashboard test');
    await page.click('#kill');
    await textIs(page, '#kill-result', 'kill: done');
    expect(calls).toEqual([{ signature: 'alpha', reason: 'dashboard test' }]);
    expect(problems).toEqual([]);
  });
});

/** When the browser tests run, skip or fail (test/support/browser.ts), without needing a browser. */
import { describe, expect, it } from 'vitest';
import { browserPlan } from '../support/browser.js';

const only = (path: string) => (p: string) => p === path;

describe('browser tests: run, skip with a notice, or fail', () => {
  it('run with /usr/bin/chromium, or the binary CHROMIUM_PATH names', () => {
    expect(browserPlan({}, only('/usr/bin/chromium'))).toEqual({ run: true, executablePath: '/usr/bin/chromium' });
    expect(browserPlan({ CHROMIUM_PATH: '/opt/c/chrome' }, only('/opt/c/chrome'))).toEqual({ run: true, executablePath: '/opt/c/chrome' });
  });

  it('skip with one line naming the install command when there is none', () => {
    const plan = browserPlan({ CHROMIUM_PATH: '/opt/c/chrome' }, () => false);
    expect(plan.run).toBe(false);
    const notice = plan.run === false ? plan.notice : '';
    expect(notice).toContain('apt-get install chromium');
    expect(notice).toContain('/opt/c/chrome');
    expect(notice).not.toContain('\n');
  });

  it('fail instead when AGENT_TRADER_REQUIRE_BROWSER=1 (CI)', () => {
    const plan = browserPlan({ AGENT_TRADER_REQUIRE_BROWSER: '1' }, () => false);
    expect(plan).toEqual({ run: 'fail', error: expect.stringContaining('Chromium not found at /usr/bin/chromium') });
    expect(plan.run === 'fail' && plan.error).toContain('apt-get install chromium');
    // Any other value is not a demand.
    expect(browserPlan({ AGENT_TRADER_REQUIRE_BROWSER: '0' }, () => false).run).toBe(false);
  });
});

/**
 * Whether the browser tests run here: with Chromium they run; without it they are skipped
 * with a one-line notice, unless AGENT_TRADER_REQUIRE_BROWSER=1 (CI) makes a missing
 * browser a failure.
 */
import { existsSync } from 'node:fs';

export const INSTALL_CHROMIUM = 'apt-get install chromium';
export const REQUIRE_BROWSER_VAR = 'AGENT_TRADER_REQUIRE_BROWSER';

export type BrowserPlan =
  | { readonly run: true; readonly executablePath: string }
  | { readonly run: false; readonly notice: string }
  | { readonly run: 'fail'; readonly error: string };

export function browserPlan(env: NodeJS.ProcessEnv = process.env, exists: (path: string) => boolean = existsSync): BrowserPlan {
  const path = env['CHROMIUM_PATH'] || '/usr/bin/chromium';
  if (exists(path)) return { run: true, executablePath: path };
  const where = `Chromium not found at ${path}`;
  if (env[REQUIRE_BROWSER_VAR] === '1') {
    return { run: 'fail', error: `${where} and ${REQUIRE_BROWSER_VAR}=1: install it (${INSTALL_CHROMIUM}) or set CHROMIUM_PATH to a Chromium binary` };
  }
  return { run: false, notice: `skipping the browser tests: ${where}; install it with \`${INSTALL_CHROMIUM}\` (or set CHROMIUM_PATH)` };
}

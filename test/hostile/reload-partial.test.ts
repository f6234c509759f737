/**
 * Hostile: a reload that is answered as refused must change nothing (README, "reload":
 * "refused as a whole, nothing applied").
 *
 * FINDING (control.ts reload): the plan is stored as pending (`pending = ...`) BEFORE the alert
 * channels are built (`onReload`, paper-process.ts `dispatcherFor(next)`). When that throws (a
 * new channel names an environment variable that is not set), the command is answered `ok:
 * false` (400, "environment variable ... is not set") but the pending plan stays: `status`
 * shows it in `reload_pending`, and at the next session the new risk limits (and the whole new
 * config) are applied. Seen on a real `run` too: POST /api/control/reload with
 * min_cash_reserve 5000 + a webhook channel whose url_env is unset -> 400, then
 * reload_pending: ['risk_control.min_cash_reserve', 'alerts.channels'].
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { InputError } from '../../src/domain/errors.js';
import { drive, json, loadUs, post, rig, stopRig, tempDir, ticks, us, usRaw } from '../support/paper-control-rig.js';

describe('reload refused while building the new alert channels', () => {
  it('changes nothing: no pending plan, the risk limit stays at the next session', async () => {
    const dir = await tempDir();
    const next = parseConfig({ ...usRaw, risk_control: { min_cash_reserve: 9999 }, alerts: { channels: [{ type: 'webhook', url_env: 'H19_UNSET_HOOK' }] } }, 'test');
    const r = await rig(dir, us, await loadUs(), async () => next, {
      // What paper-process.ts's onReload does with a channel whose env var is not set.
      onReload: () => {
        throw new InputError('environment variable H19_UNSET_HOOK is not set (named by alerts.channels[0].url_env)');
      },
    });
    await drive(r, () => ticks(r).length === 1);
    const answer = await json(await post(r.http.url, 'reload', {}));
    expect(answer.body['ok']).toBe(false);
    const status = await json(await fetch(`${r.http.url}/api/control/status`));
    expect.soft(status.body['reload_pending'], 'a refused reload left a pending plan').toEqual([]);
    await drive(r, () => ticks(r).length === 2);
    expect(r.run.control.riskLimits().min_cash_reserve, 'the refused reload\'s risk limit was applied at the next session').toBe(1000);
    expect(r.run.control.config().alerts.channels).toEqual([]);
    await stopRig(r);
  }, 120_000);
});

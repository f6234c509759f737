/**
 * Hostile: A-share rules are live risk's, before the broker. A module strategy asks, on a live run
 * through the terminal bridge (fake in its own process), for odd lots, a STAR buy under 200, limits
 * outside the band or off the tick, a sell of shares not held and sells of today's buys; none of them
 * may reach the bridge (its request log), while the orders the exchange takes (a STAR buy of 201, a
 * STAR limit 15% up, inside its 20% band) do.
 * Found: a STAR Market buy of 201 shares is refused (LOT_SIZE "not a multiple of 100"); the STAR
 * rule is at least 200 shares, then any number of single shares above it (科创板: 超过200股的部分可以以1股为单位递增).
 * Everything else held: odd lot, STAR < 200, band (main board 10%, STAR 20%), tick, shares not held, T+1.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeBridgeProcess } from '../support/fake-bridge/process.js';
import { DAY, openingPrices, runCli, writeConfig } from './cli-rig.js';

let fake: FakeBridgeProcess | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

describe('hostile: the exchange\'s rules refused by live risk, not by the broker', () => {
  it('only orders the exchange takes reach the bridge', { timeout: 300_000 }, async () => {
    fake = await FakeBridgeProcess.start({ cash: '150000', startMs: Date.parse(`${DAY}T01:30:00Z`) });
    await fake.mode({ fill: 'auto' });
    for (const [s, p] of Object.entries(await openingPrices())) await fake.price(s, p);
    const { dir, file } = await writeConfig(
      { type: 'bridge', paper: false, bridge: { url: fake.url } },
      {
        models: [{ name: 'Rules', signature: 'bad', agent: { kind: 'module', path: new URL('./strategies/exchange-rules.ts', import.meta.url).pathname } }],
        risk_control: { min_cash_reserve: 0, max_single_position_ratio: 0.9, max_order_notional_ratio: 1, duplicate_window_seconds: 0, live_ramp: { start_cap: 1_000_000, growth_per_trading_day: 0, max: 1_000_000 } },
      },
    );
    const r = await runCli(fake, ['run', '--config', file, '--out', join(dir, 'out')], { AGENT_TRADER_LIVE: 'I_UNDERSTAND' });
    expect(r.code, r.stderr).toBe(0);
    const s = await fake.state();
    const sent = s.requests.filter((q) => q.path === '/buy' || q.path === '/sell').map((q) => ({ path: q.path, ...(q.body as { security: string; amount: number; price: number }) }));
    const seen = sent.map((q) => `${q.path} ${q.security} ${q.amount}`).sort();
    expect(seen, JSON.stringify(sent)).toEqual(['/buy 601318 100', '/buy 688981 200', '/buy 688981 201']);
  });
});

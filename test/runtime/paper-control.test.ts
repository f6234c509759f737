/**
 * Steering a paper run through the control API, in one process on virtual wall time (the rig of
 * paper.test.ts: the built-in replay server, the real quote client, the ReplayClock): HTTP routes
 * with and without the token, pause (no session for that agent, the others go on) and resume,
 * a pause that outlives a restart, flatten through risk and the order machine (T+1 kept), reload
 * of a risk limit and a refused signature change, and every command in the run's journal.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { PausedAgents } from '../../src/actors/control/paused-agents.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { CN, DAY, loadUs, WALL0, TOKEN, usRaw, us, tempDir, rig, stopRig, drive, ticks, sessionsOf, post, json, controlJournal, FakeBotApi, BOT_TOKEN, update } from '../support/paper-control-rig.js';

let usHistory: PriceStore;
beforeAll(async () => {
  usHistory = await loadUs();
});


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

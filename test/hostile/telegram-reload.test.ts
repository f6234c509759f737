/**
 * Hostile: revoking a Telegram chat's commands by a reload. README ("reload"): `alerts` is
 * taken, "the channels are replaced at once"; `command_chat_ids` is the allow-list of who may
 * /flatten and /kill. An operator who removes a chat from it and reloads is told `reload
 * accepted: alerts.channels...`.
 *
 * FINDING (paper-process.ts): the command pollers are started once from the start-up config
 * (`startTelegramCommands({ allowed: allowedChats(ch) })`); `onReload` replaces only the alert
 * dispatcher. The removed chat keeps steering the process after the accepted reload. Expected:
 * either the pollers follow the reload (the new allow-list), or a change of a command channel
 * is refused as needing a restart.
 *
 * A real `run` (paper, built-in replay at 1x: nothing moves while the test talks to it) against
 * a fake Bot API on 127.0.0.1.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliAsync, ROOT, spawnCli } from '../support/cli.js';
import { BOT_TOKEN, FakeBotApi, tempDir, update } from '../support/paper-control-rig.js';

const SAMPLE = join(ROOT, 'data/sample/us_hourly.jsonl');
const children: ReturnType<typeof spawnCli>[] = [];
const apis: FakeBotApi[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  for (const a of apis.splice(0)) await a.close();
});

const configOf = (dir: string, api: string, commandChats: number[]) => ({
  mode: 'paper',
  market: 'us',
  frequency: 'hourly',
  schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'] },
  data_source: { type: 'replay', bars_file: SAMPLE, replay_speed: 1, stale_quote_seconds: 1800 },
  models: [{ name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }],
  agent_config: { initial_cash: 10000 },
  alerts: { channels: [{ type: 'telegram', bot_token_env: 'H19_BOT_TOKEN', chat_ids: [4242], api_url: api, commands: true, command_chat_ids: commandChats }] },
  server: { port: 0 },
  state_dir: join(dir, 'state'),
});

describe('Telegram allow-list and reload', () => {
  it('a reload that changes who may steer by Telegram is refused (restart to change it), never accepted while the old chats still steer', async () => {
    const dir = await tempDir();
    const api = await FakeBotApi.start();
    apis.push(api);
    const file = join(dir, 'paper.json');
    await writeFile(file, JSON.stringify(configOf(dir, api.url, [4242, 777])));
    const p = spawnCli(['run', '--config', file], { env: { ...process.env, H19_BOT_TOKEN: BOT_TOKEN } });
    children.push(p);
    const [, url] = await p.until(/ {2}health {5}(http:\/\/\S+)\/health/);
    await api.until(() => api.offsets.length > 0); // the poller is up

    // Chat 777 may steer: /status answers.
    api.push(update(10, 777, '/status'));
    await api.until(() => api.sent.some((s) => s.chat_id === 777));

    // The operator revokes chat 777 and reloads: refused, naming why (the pollers are started once),
    // so no one is told a chat was revoked while it still steers the process.
    await writeFile(file, JSON.stringify(configOf(dir, api.url, [4242])));
    const reload = await cliAsync(['reload', '--url', url!]);
    expect(reload.code).toBe(2);
    expect(reload.stderr).toContain('alerts.channels[].commands: the Telegram command channels (who may steer this process) are started once: restart to change them');
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(0);
  }, 120_000);
});

/**
 * Scripted "models" on a real local OpenAI-compatible server, trading side by side
 * in a backtest on AI-Trader's data (test/fixtures/ai-trader) through the whole engine (risk, orders, ledger),
 * then `explain` and `transcripts` on the run, and a replay of the transcripts
 * through a changed risk config.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../../src/runtime/backtest.js';
import { parseConfig } from '../../../src/config/load.js';
import { call, calls, LlmTestServer, say } from '../../support/llm-server.js';
import { cli } from '../../support/cli.js';
import { AI_TRADER_DIR } from '../../support/fixtures.js';

const DATA = AI_TRADER_DIR;
const KEY = 'sk-backtest-SECRET-42';

let server: LlmTestServer;
let out: string;
beforeAll(async () => {
  server = await LlmTestServer.start();
  out = await mkdtemp(join(tmpdir(), 'agent-trader-llm-'));
});
afterAll(async () => {
  await server.close();
  await rm(out, { recursive: true, force: true });
});

const config = (models: unknown[], risk: Record<string, unknown> = {}) =>
  parseConfig(
    {
      mode: 'backtest',
      market: 'cn',
      frequency: 'daily',
      data_source: { type: 'file', bars_file: `${DATA}cn/sse50_daily.jsonl` },
      date_range: { from: '2025-10-20', to: '2025-10-22' },
      risk_control: { enable_stop_loss: false, ...risk },
      agent_config: { initial_cash: 1_000_000, max_retries: 0 },
      models,
    },
    'test',
  );
const llm = (signature: string, basemodel: string) => ({
  name: basemodel,
  signature,
  agent: { kind: 'llm', basemodel, base_url: server.url, api_key_env: 'TEST_LLM_KEY', input_cost_per_million: 2, output_cost_per_million: 8 },
});

interface Rec {
  date: string;
  this_action?: { action: string; symbol: string; amount: number };
  positions: Record<string, number>;
}
const readLog = async (sig: string, dir = out): Promise<Rec[]> =>
  (await readFile(join(dir, sig, 'position.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Rec);

describe('LLM agents in a backtest', () => {
  it('two scripted models trade side by side; failures hold with their reason; position.jsonl records the fills', async () => {
    // alpha: day 1 buys Moutai after looking at its price; day 2 holds; day 3 sells it (T+1 allows).
    server.script(
      'alpha-model',
      call('get_price_local', { symbol: '600519.SH' }),
      call('buy', { symbol: '600519.SH', amount: 100 }, { content: 'Moutai is cheap at this level.' }),
      say('Bought 100 Moutai.'),
      say('Holding.'),
      call('sell', { symbol: '600519.SH', amount: 100 }, { content: 'Taking profit.' }),
      say('Sold.'),
    );
    // beta: day 1 buys two names in one answer; day 2 an unknown tool (holds); day 3 a 500 (holds).
    server.script(
      'beta-model',
      calls([
        { name: 'buy', arguments: { symbol: '601318.SH', amount: 1000 } },
        { name: 'buy', arguments: { symbol: '600036.SH', amount: 1000 } },
      ], 'Banks and insurers.'),
      say('Done for today.'),
      call('margin_buy', { symbol: '601318.SH', amount: 1000 }),
      { kind: 'error', status: 500 },
    );
    const result = await runBacktest({
      config: config([llm('alpha', 'alpha-model'), llm('beta', 'beta-model')]),
      outDir: out,
      generatedAt: DateTime.fromISO('2026-01-01T00:00:00Z'),
      env: { TEST_LLM_KEY: KEY },
    });
    expect(server.remaining('alpha-model')).toBe(0);
    expect(server.remaining('beta-model')).toBe(0);
    expect(result.ticksRun).toBe(3);

    const alpha = (await readLog('alpha')).filter((r) => r.this_action);
    expect(alpha.map((r) => [r.date, r.this_action!.action, r.this_action!.symbol, r.this_action!.amount])).toEqual([
      ['2025-10-20', 'buy', '600519.SH', 100],
      ['2025-10-21', 'no_trade', '', 0],
      ['2025-10-22', 'sell', '600519.SH', 100],
    ]);
    expect(alpha.at(-1)!.positions['600519.SH']).toBe(0);
    const beta = (await readLog('beta')).filter((r) => r.this_action);
    expect(beta.slice(0, 2).map((r) => [r.this_action!.action, r.this_action!.symbol, r.this_action!.amount])).toEqual([
      ['buy', '601318.SH', 1000],
      ['buy', '600036.SH', 1000],
    ]);
    expect(beta.at(-1)!.positions).toMatchObject({ '601318.SH': 1000, '600036.SH': 1000 });

    // Every request carried the key from the environment; no transcript holds it.
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);
    const exported = await cli(['transcripts', '--dir', out]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).not.toContain(KEY);
    const transcripts = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { signature: string; status: string; reason?: string; cost?: string });
    expect(transcripts.map((t) => [t.signature, t.status, t.reason ?? ''])).toEqual([
      ['alpha', 'done', ''],
      ['alpha', 'done', ''],
      ['alpha', 'done', ''],
      ['beta', 'done', ''],
      ['beta', 'hold', 'LLM_BAD_TOOL_CALL'],
      ['beta', 'hold', 'LLM_HTTP_ERROR'],
    ]);
    expect(transcripts[0]!.cost).toBe('0.00108'); // 3 calls x (100 in x 2 CNY + 20 out x 8 CNY) / 1M
  });

  it('explain: the session, the model, its words and the tool call behind an order', async () => {
    const text = await cli(['explain', 'alpha.20251020T0935.1', '--dir', out]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('order     alpha.20251020T0935.1: buy 100 600519.SH');
    expect(text.stdout).toContain('model     alpha-model at http://127.0.0.1');
    expect(text.stdout).toContain('asked at  model step 2 of 3');
    expect(text.stdout).toContain('buy({"symbol":"600519.SH","amount":100})');
    expect(text.stdout).toContain('said      Moutai is cheap at this level.');
    expect(text.stdout).toMatch(/risk {6}approved \(\d+ checks\)/);
    expect(text.stdout).toMatch(/result {4}filled, filled 100 @ \d+/);

    const json = await cli(['explain', 'beta.20251020T0935.2', '--dir', out, '--json']);
    const x = JSON.parse(json.stdout);
    expect(x).toMatchObject({ sessionId: expect.stringMatching(/^beta@2025-10-20T09:35/), intent: { symbol: '600036.SH', modelStep: 1 }, reasoning: { content: 'Banks and insurers.' } });

    const bad = await cli(['explain', 'not-an-id', '--dir', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a client order id/);
    const unknown = await cli(['explain', 'alpha.20251020T0935.9', '--dir', out]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/none of the 3 transcripts of alpha asked for this order/);
  });

  it('replays the transcripts through a changed risk config without calling a model', async () => {
    const file = join(out, 'beta.transcripts.jsonl');
    expect((await cli(['transcripts', '--dir', out, '--signature', 'beta', '--out', file])).code).toBe(0);
    const before = server.requests.length;
    const again = await mkdtemp(join(tmpdir(), 'agent-trader-llm-replay-'));
    try {
      // A cap of 50k per order: 1000 Ping An at 58.33 (58k) is refused now, 1000 CMB at 41.61 still goes through.
      const replay = await runBacktest({
        config: config([{ name: 'beta replayed', signature: 'beta', agent: { kind: 'replay', log_file: file } }], { max_order_notional: 50_000 }),
        outDir: again,
        generatedAt: DateTime.fromISO('2026-01-01T00:00:00Z'),
      });
      expect(server.requests.length).toBe(before);
      const replayed = (await readLog('beta', again)).filter((r) => r.this_action && r.this_action.action !== 'no_trade');
      expect(replayed.map((r) => [r.date, r.this_action!.action, r.this_action!.symbol, r.this_action!.amount])).toEqual([['2025-10-20', 'buy', '600036.SH', 1000]]);
      expect(replay.report.signatures['beta']!.rejected).toEqual({ MAX_ORDER_NOTIONAL: 1 });
    } finally {
      await rm(again, { recursive: true, force: true });
    }
  });
});

/**
 * `backtest` with an LLM agent, as a user runs it (a real CLI process), against an
 * endpoint that is not there and one that fails in every retryable way: the process
 * must not die waiting (it used to exit 13 in the first retry back-off), every failed
 * session holds with its reason, and the report counts the HOLDs. Retries are made
 * short by the config (base_delay_seconds), so nothing here waits long.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportSchema, type Report } from '../../src/report/index.js';
import { cliAsync, ROOT } from '../support/cli.js';
import { LlmTestServer, say, type Answer } from '../support/llm-server.js';

const BARS = join(ROOT, 'data/sample/cn_daily.jsonl');

let server: LlmTestServer;
beforeAll(async () => {
  server = await LlmTestServer.start();
});
afterAll(() => server.close());

/** Three daily sessions, one LLM agent (and a disabled rules model that must not show). */
async function runWith(baseUrl: string, extra: Record<string, unknown> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-bt-llm-'));
  const config = {
    mode: 'backtest',
    market: 'cn',
    frequency: 'daily',
    data_source: { type: 'file', bars_file: BARS },
    date_range: { from: '2025-10-20', to: '2025-10-22' },
    risk_control: { enable_stop_loss: false },
    agent_config: { initial_cash: 100000, max_retries: 2, base_delay_seconds: 0.01 },
    models: [
      { name: 'flaky', signature: 'llm-a', agent: { kind: 'llm', basemodel: 'flaky', base_url: baseUrl } },
      { name: 'off', signature: 'rules-off', enabled: false, agent: { kind: 'rules', strategy: 'equal_weight' } },
    ],
    ...extra,
  };
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify(config));
  const out = join(dir, 'out');
  const r = await cliAsync(['backtest', '--config', file, '--out', out]);
  const report = async (): Promise<Report> => ReportSchema.parse(JSON.parse(await readFile(join(out, 'report.json'), 'utf8')));
  return { ...r, out, report };
}

describe('backtest with an LLM agent whose endpoint fails', () => {
  it('a closed port: every session holds LLM_HTTP_ERROR naming the URL, the report counts them, exit 0', async () => {
    const gone = await LlmTestServer.start();
    const url = gone.url;
    await gone.close(); // nothing listens there any more
    const r = await runWith(url);
    expect(r.code, r.stderr).toBe(0);
    const report = await r.report();
    expect(report.signatures['llm-a']!.sessions).toEqual({ recorded: 3, by_reason: { LLM_HTTP_ERROR: 3 } });
    expect(Object.keys(report.signatures)).toEqual(['llm-a']); // the disabled model has no row
    // The per-tick line and the table say why.
    expect(r.stderr).toContain('1/3 2025-10-20T09:35 llm-a HOLD LLM_HTTP_ERROR');
    expect(r.stdout).toMatch(/\ssessions\s+holds\s+rejections\n/);
    expect(r.stdout).toMatch(/llm-a .*\s3\s+LLM_HTTP_ERROR 3\s+-\n/);
    expect(r.stdout).not.toMatch(/^rules-off/m); // no row (the config line still names it, disabled)
    expect(r.stdout).not.toContain('rules-off/position.jsonl');
    // The cause is in the transcript: the endpoint and "connection refused".
    const t = await cliAsync(['transcripts', '--dir', r.out]);
    expect(t.code, t.stderr).toBe(0);
    const first = JSON.parse(t.stdout.split('\n')[0]!) as { reason: string; summary: string };
    expect(first.reason).toBe('LLM_HTTP_ERROR');
    expect(first.summary).toContain(`connection to ${url} failed: connection refused (ECONNREFUSED)`);
  });

  it('500, then 429 with Retry-After, then a garbage body: retried each time, held after the last retry, exit 0', async () => {
    const failing: Answer[] = [
      { kind: 'error', status: 500 },
      { kind: 'error', status: 429, headers: { 'retry-after': '0' } },
      { kind: 'raw', body: '{"choices": [', contentType: 'application/json' },
    ];
    // Session 1 gets the three failures (max_retries 2: three attempts), session 2 an answer, session 3 the failures again.
    server.script('flaky', ...failing, say('Holding today.'), ...failing);
    const r = await runWith(server.url);
    expect(r.code, r.stderr).toBe(0);
    expect(server.requestsFor('flaky')).toHaveLength(7);
    expect(server.remaining('flaky')).toBe(0);
    const report = await r.report();
    expect(report.signatures['llm-a']!.sessions).toEqual({ recorded: 3, by_reason: { LLM_HTTP_ERROR: 2 } });
    expect(r.stderr).toContain('1/3 2025-10-20T09:35 llm-a HOLD LLM_HTTP_ERROR');
    expect(r.stderr).toMatch(/2\/3 2025-10-21T09:35\n/); // the session that got its answer: no note
    expect(r.stdout).toMatch(/llm-a .*\s3\s+LLM_HTTP_ERROR 2\s+-\n/);
  });
});

describe('the per-tick line of a backtest', () => {
  it('names the risk refusals of orders that did not fill', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-bt-risk-'));
    const file = join(dir, 'config.json');
    await writeFile(
      file,
      JSON.stringify({
        mode: 'backtest',
        market: 'cn',
        frequency: 'daily',
        data_source: { type: 'file', bars_file: BARS },
        date_range: { from: '2025-10-20', to: '2025-10-21' },
        risk_control: { enable_stop_loss: false, max_order_notional: 1000 },
        agent_config: { initial_cash: 100000 },
        models: [{ name: 'ew', signature: 'rules-ew', agent: { kind: 'rules', strategy: 'equal_weight' } }],
      }),
    );
    const r = await cliAsync(['backtest', '--config', file, '--out', join(dir, 'out')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/1\/2 2025-10-20T09:35 rules-ew (\d+)\/\1 orders not filled: MAX_ORDER_NOTIONAL \1\n/);
  });
});

/**
 * `compliance report`: the program-trading report for the broker, from the config and the run's
 * committed tally, through the real CLI.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/actors/store/store.js';
import { emptyTally, record } from '../../src/domain/risk/program-trading.js';
import { PROGRAM_TRADING_KEY } from '../../src/runtime/program-trading.js';
import { cliAsync } from '../support/cli.js';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-trader-compliance-'));
  file = join(dir, 'cn.json');
  await writeFile(
    file,
    JSON.stringify({
      mode: 'paper',
      market: 'cn',
      frequency: 'hourly',
      data_source: { type: 'sina', symbols: ['600519.SH'] },
      risk_control: { program_trading: { max_actions_per_second: 10, max_actions_per_day: 1000 } },
      models: [
        { name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } },
        { name: 'GPT', signature: 'gpt', agent: { kind: 'llm', basemodel: 'gpt-5', base_url: 'https://llm.example.com/v1', api_key_env: 'SECRET_LLM_KEY' } },
      ],
      state_dir: join(dir, 'state'),
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('compliance report', () => {
  it('without a run yet: writes the report with the caps and says nothing was observed', async () => {
    const out = join(dir, 'first');
    const r = await cliAsync(['compliance', 'report', '--config', file, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('caps     10/s, 1000/day (enforced); high-frequency at 300/s or 20000/day');
    const json = JSON.parse(await readFile(join(out, r.stdout.match(/compliance-(\d{4}-\d{2}-\d{2})\.md/)![0].replace('.md', '.json')), 'utf8'));
    expect(json.rates.observed).toEqual([]);
    expect(json.rates.note).toMatch(/no run at/);
    expect(json.orders.types).toEqual(['limit', 'market']);
  });

  it("with a run: the observed days, the maximum per second and per day, the cancel ratio; no secret's value", async () => {
    const store = await openStore(join(dir, 'state', 'state'));
    let t = emptyTally('2025-11-06');
    const T = Date.UTC(2025, 10, 6, 2);
    for (let i = 0; i < 6; i++) t = record(t, 'order', T + i * 100, '2025-11-06');
    t = record(t, 'cancel', T + 5000, '2025-11-06');
    for (let i = 0; i < 3; i++) t = record(t, 'order', T + 86_400_000 + i * 2000, '2025-11-07');
    await store.saveSnapshot(PROGRAM_TRADING_KEY, t);
    await store.close();
    const out = join(dir, 'second');
    const r = await cliAsync(['compliance', 'report', '--config', file, '--out', out, '--json'], { env: { ...process.env, SECRET_LLM_KEY: 'sk-never-shown' } });
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.rates.observed).toEqual([
      { date: '2025-11-06', orders: 6, cancels: 1, actions: 7, max_per_second: 6, cancel_ratio: 0.1667 },
      { date: '2025-11-07', orders: 3, cancels: 0, actions: 3, max_per_second: 1, cancel_ratio: 0 },
    ]);
    expect(json.rates.observed_max).toEqual({ per_second: 6, per_day: 7 });
    expect(json.strategies.map((s: { signature: string; kind: string }) => `${s.signature}:${s.kind}`)).toEqual(['ew:rules', 'gpt:llm']);
    const md = await readFile(join(out, `compliance-${json.generated_at.slice(0, 10)}.md`), 'utf8');
    expect(md).toContain("| exchanges' high-frequency line | 300 | 20000 |");
    expect(md).toContain('| 2025-11-06 | 6 | 1 | 6 | 0.1667 |');
    expect(md).toContain('llm.example.com');
    expect(`${md}${r.stdout}`).not.toContain('sk-never-shown');
  });

  it('refuses an empty --out', async () => {
    const r = await cliAsync(['compliance', 'report', '--config', file, '--out', '']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out: expected a directory');
  });
});

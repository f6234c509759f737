/**
 * `agent.kind: module` through the real CLI: a strategy file that is missing or exports no
 * strategy stops the run before it starts (exit 2, the field named), and one that throws,
 * rejects or answers garbage holds those sessions with the reason while the others trade.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ReportSchema } from '../../src/report/index.js';
import { cliAsync, ROOT } from '../support/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-trader-module-cli-'));
});

async function config(agent: Record<string, unknown>, name = 'config.json') {
  const path = join(dir, name);
  await writeFile(
    path,
    JSON.stringify({
      mode: 'backtest',
      market: 'us',
      frequency: 'hourly',
      schedule: { trigger_times: ['10:05', '11:05', '12:05', '13:05', '14:05', '15:05'], timezone: 'America/New_York' },
      data_source: { type: 'file', bars_file: join(ROOT, 'data/sample/us_hourly.jsonl') },
      date_range: { from: '2025-10-02', to: '2025-10-02' },
      models: [{ name: 'Mine', signature: 'mine', agent: { kind: 'module', ...agent } }],
      agent_config: { initial_cash: 10000 },
    }),
  );
  return path;
}

describe('agent.kind module, config errors', () => {
  it('a missing file, a missing export and a bad field are errors naming the field (exit 2), before anything runs', async () => {
    const missing = await config({ path: 'nope.ts' }, 'missing.json');
    const check = await cliAsync(['config', 'check', missing]);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain(`models[0].agent.path: file not found: ${join(dir, 'nope.ts')}`);
    const out = await mkdtemp(join(tmpdir(), 'agent-trader-module-out-'));
    const run = await cliAsync(['backtest', '--config', missing, '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`models[0].agent.path: strategy file not found: ${join(dir, 'nope.ts')}`);

    await writeFile(join(dir, 'named.ts'), 'export const strategy = { onSession: () => [] };\n');
    const noDefault = await config({ path: 'named.ts' }, 'no-default.json');
    const r = await cliAsync(['backtest', '--config', noDefault, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`models[0].agent.export: expected ${join(dir, 'named.ts')} to export "default" as a strategy (an object with an onSession function), got no export "default" (exports: strategy)`);
    // The named export works.
    const named = await config({ path: 'named.ts', export: 'strategy' }, 'named.json');
    expect((await cliAsync(['config', 'check', named])).code).toBe(0);

    const bad = await config({ path: 'named.ts', params: [1], deadline_seconds: 0, extra: true }, 'bad.json');
    const b = await cliAsync(['config', 'check', bad]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/models\[0\]\.agent\.params: expected an object of parameters/);
    expect(b.stderr).toMatch(/models\[0\]\.agent\.deadline_seconds: /);
    expect(b.stderr).toMatch(/models\[0\]\.agent.*extra/);
  });
});

describe('agent.kind module, sessions that hold', () => {
  it('throws, rejects and garbage hold their sessions with the reason and place nothing; the other sessions trade', async () => {
    await writeFile(
      join(dir, 'flaky.ts'),
      `import type { Intent, Strategy } from ${JSON.stringify(join(ROOT, 'src/strategy.js'))};
const strategy: Strategy<{ symbol: string }> = {
  onSession(ctx) {
    const buy: Intent = { side: 'buy', symbol: ctx.params.symbol, quantity: 1 };
    switch (ctx.at.hour) {
      case 10: throw new Error('signal blew up');
      case 11: return [buy, { side: 'buy', symbol: 'MSFT', quantity: 0 }];
      case 12: return Promise.reject(new Error('remote feature store down'));
      case 13: return 'buy AAPL' as never;
      case 14: return [buy];
      default: return [];
    }
  },
};
export default strategy;
`,
    );
    const path = await config({ path: 'flaky.ts', params: { symbol: 'AAPL' } }, 'flaky.json');
    const out = await mkdtemp(join(tmpdir(), 'agent-trader-module-out-'));
    const r = await cliAsync(['backtest', '--config', path, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/2025-10-02T10:05 mine HOLD MODULE_FAILED/);
    expect(r.stderr).toMatch(/2025-10-02T11:05 mine HOLD MODULE_BAD_OUTPUT/);
    expect(r.stderr).toMatch(/2025-10-02T13:05 mine HOLD MODULE_BAD_OUTPUT/);
    const report = ReportSchema.parse(JSON.parse(await readFile(join(out, 'report.json'), 'utf8')));
    const sig = report.signatures.mine!;
    expect(sig.sessions).toEqual({ recorded: 6, by_reason: { MODULE_BAD_OUTPUT: 2, MODULE_FAILED: 2 } });
    expect(sig.orders).toBe(1);
    expect(sig.fills).toBe(1);
    const actions = (await readFile(join(out, 'mine', 'position.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { date: string; this_action?: { action: string; symbol: string; amount: number } })
      .filter((x) => x.this_action && x.this_action.action !== 'no_trade');
    // Only the 14:05 session's order: the 11:05 list's valid first item was not acted on.
    expect(actions.map((x) => [x.date, x.this_action])).toEqual([['2025-10-02 14:00:00', { action: 'buy', symbol: 'AAPL', amount: 1 }]]);
  });
});

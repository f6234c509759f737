/**
 * The example strategy module (examples/strategies/mean-reversion.ts) backtested through the
 * real CLI on the bundled US hourly sample, with the config beside it, as docs/strategies.md
 * shows: it trades both ways, and the run is a pure function of its inputs (same bytes twice).
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReportSchema } from '../../src/report/index.js';
import { cliAsync } from '../support/cli.js';

const CONFIG = 'examples/strategies/mean-reversion.json';
// The report's generated_at from the environment, as reproducible builds do: then every byte is the inputs'.
const env = { ...process.env, SOURCE_DATE_EPOCH: '1767225600' };

describe('examples/strategies/mean-reversion', () => {
  it('backtests through the CLI: orders both ways, no holds, the same bytes twice', async () => {
    const [a, b] = [await mkdtemp(join(tmpdir(), 'agent-trader-mr-')), await mkdtemp(join(tmpdir(), 'agent-trader-mr-'))];
    const [ra, rb] = await Promise.all([cliAsync(['backtest', '--config', CONFIG, '--out', a], { env }), cliAsync(['backtest', '--config', CONFIG, '--out', b], { env })]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    expect(ra.stdout.split('\n')[0]).toBe('backtest us hourly, 1 model (mean-reversion), broker simulated/strict, state_dir state');
    const text = await readFile(join(a, 'report.json'), 'utf8');
    const report = ReportSchema.parse(JSON.parse(text));
    const sig = report.signatures['mean-reversion']!;
    expect(report.run.sessions).toBe(174);
    expect(sig.orders).toBeGreaterThan(20);
    expect(sig.fills).toBe(sig.orders);
    expect(sig.sessions).toEqual({ recorded: 174, by_reason: {} });
    const log = await readFile(join(a, 'mean-reversion', 'position.jsonl'), 'utf8');
    const actions = new Set(log.trim().split('\n').map((l) => (JSON.parse(l) as { this_action?: { action: string } }).this_action?.action));
    expect([...actions].sort()).toEqual(['buy', 'no_trade', 'sell', undefined]);
    expect(await readFile(join(b, 'report.json'), 'utf8')).toBe(text);
    expect(await readFile(join(b, 'mean-reversion', 'position.jsonl'), 'utf8')).toBe(log);
    expect(ra.stdout.replaceAll(a, 'DIR')).toBe(rb.stdout.replaceAll(b, 'DIR'));
  });
});

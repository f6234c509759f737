import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../../src/report/build.js';
import { renderReportHtml } from '../../src/report/html.js';
import { writeReport } from '../../src/report/io.js';
import { formatReportTable } from '../../src/report/table.js';
import type { SignatureRun } from '../../src/report/types.js';
import { cli } from '../support/cli.js';

const at = (d: string) => `2025-10-${d}T10:05:00-04:00`;
const run: SignatureRun = {
  signature: 'gpt-5',
  initialValue: '10000',
  finalCash: '1234.56',
  curve: [
    { at: at('01'), equity: '10100', cash: '5000' },
    { at: at('02'), equity: '9900.5', cash: '3000' },
    { at: at('03'), equity: '10250.25', cash: '1234.56' },
  ],
  orders: 12,
  fills: 10,
  rejected: { INSUFFICIENT_CASH: 2 },
  fees: '3.5',
};
const report = buildReport(
  [run],
  { market: 'us', frequency: 'daily', from: '2025-10-01', to: '2025-10-03', rules: 'ai-trader', generatedAt: '2025-10-04T00:00:00Z', sessions: 3 },
  { symbol: 'QQQ', points: [{ at: '2025-09-30T16:00:00-04:00', close: '600' }, { at: '2025-10-02T16:00:00-04:00', close: '612' }] },
);

describe('agent-trader report DIR', () => {
  it('prints the table of a written report, or its JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-cli-report-'));
    await writeReport(dir, report, renderReportHtml(report, [run]));
    const r = cli(['report', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(formatReportTable(report));
    expect(r.stdout).toMatch(/^gpt-5\s+10000\.00\s+10250\.25\s+\+2\.50%\s+1\.98%\s+\S+\s+12\s+10\s+3\.50\s+INSUFFICIENT_CASH 2$/m);
    expect(r.stdout).toMatch(/^benchmark QQQ\s+600\.00\s+612\.00\s+\+2\.00%\s+0\.00%$/m);
    const j = cli(['report', dir, '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual(report);
  });

  it('exits 2 with a clear message on a missing dir or a broken report', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-cli-report-'));
    const missing = cli(['report', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain(`error: no run at ${join(dir, 'nope')}: no such directory`);
    const empty = cli(['report', dir]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain(`no run at ${dir}: no report.json in it`);
    await writeFile(join(dir, 'report.json'), JSON.stringify({ signatures: {} }));
    const broken = cli(['report', dir]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/not a valid report/);
    expect(broken.stderr).toMatch(/ run: /);
    const noArg = cli(['report']);
    expect(noArg.code).toBe(2);
  });
});

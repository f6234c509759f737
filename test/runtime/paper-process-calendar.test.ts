/**
 * The paper process's calendar hooks, in process with an injected wall clock: the closures
 * file named in the config is put in force before anything starts, and CALENDAR_COVERAGE_ENDING
 * is raised at a start within 30 days of the calendar's end. The built-in replay of a sample
 * day at high speed ends each run by itself.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { CLOSURE_TABLES, installClosureTables } from '../../src/domain/calendar/index.js';
import { runPaperProcess } from '../../src/paper-process.js';
import { ROOT } from '../support/cli.js';

const SAMPLE = join(ROOT, 'data/sample/us_hourly.jsonl');
const EXAMPLE = join(ROOT, 'docs/examples/closures-us-2028.json');
const dirs: string[] = [];
afterEach(async () => {
  installClosureTables(CLOSURE_TABLES);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function run(wall: string, calendar: Record<string, unknown> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-paper-calendar-'));
  dirs.push(dir);
  const config = parseConfig(
    {
      mode: 'paper',
      market: 'us',
      frequency: 'hourly',
      data_source: { type: 'replay', bars_file: SAMPLE, replay_date: '2025-11-07', replay_speed: 50_000, stale_quote_seconds: 1800 },
      models: [{ name: 'ew', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }],
      agent_config: { initial_cash: 10000 },
      server: { enabled: false },
      state_dir: join(dir, 'state'),
      calendar,
    },
    'test',
  );
  let out = '';
  const now = DateTime.fromISO(wall, { zone: 'America/New_York' });
  await runPaperProcess(config, { outDir: join(dir, 'run'), write: (s) => (out += s), wallNow: () => now, env: {} });
  return out;
}

const ALERT = /^alert warning CALENDAR_COVERAGE_ENDING: .*$/m;

describe('paper process: calendar coverage', () => {
  it('alerts at a start 30 days before the US calendar ends (2027-12-31)', async () => {
    const out = await run('2027-12-02T08:00');
    expect(out.match(ALERT)?.[0]).toContain('the us exchange calendar (version 2027.1) ends on 2027-12-31 (30 days left)');
    expect(out.match(/CALENDAR_COVERAGE_ENDING/g)).toHaveLength(1);
  });

  it('does not alert a month earlier', async () => {
    expect(await run('2027-11-01T08:00')).not.toMatch(/CALENDAR_COVERAGE_ENDING/);
  });

  it("uses the config's closures file: with NYSE 2028 dropped in, 2027-12-02 is far from the end", async () => {
    expect(await run('2027-12-02T08:00', { closures_file: EXAMPLE })).not.toMatch(/CALENDAR_COVERAGE_ENDING/);
    expect(await run('2028-12-05T08:00', { closures_file: EXAMPLE })).toMatch(/version 2027\.1\+2028\.1\) ends on 2028-12-31 \(27 days left\)/);
  });

  it('refuses to start on a closures file that disagrees with the built-in years', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-paper-calendar-'));
    dirs.push(dir);
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({ us: { from_year: 2027, to_year: 2027, version: 'x', source: 'x', closures: { '2027-01-01': "New Year's Day" } } }));
    await expect(run('2027-12-02T08:00', { closures_file: path })).rejects.toThrow(/disagrees with the built-in calendar on 10 day\(s\): us 2027-01-18/);
  });
});

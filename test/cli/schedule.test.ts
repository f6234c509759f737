import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';

describe('agent-trader schedule', () => {
  it('prints US hourly instants as ISO-8601 with the New York offset across DST', () => {
    const r = cli(['schedule', '--market', 'us', '--frequency', 'hourly', '--from', '2025-03-07', '--to', '2025-03-10', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const instants = JSON.parse(r.stdout) as string[];
    expect(instants).toHaveLength(12);
    expect(instants[0]).toBe('2025-03-07T10:05:00-05:00');
    expect(instants[6]).toBe('2025-03-10T10:05:00-04:00');
  });

  it('takes trigger times from a config, and flags override its market', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-schedule-'));
    const file = join(dir, 'c.json');
    await writeFile(
      file,
      JSON.stringify({
        market: 'cn',
        frequency: 'hourly',
        schedule: { trigger_times: ['10:00', '14:30'] },
        models: [{ name: 'x', signature: 'x', agent: { kind: 'rules' } }],
      }),
    );
    const own = cli(['schedule', '--config', file, '--from', '2025-10-09', '--to', '2025-10-09', '--json']);
    expect(own.code).toBe(0);
    expect(JSON.parse(own.stdout)).toEqual(['2025-10-09T10:00:00+08:00', '2025-10-09T14:30:00+08:00']);
    const daily = cli(['schedule', '--config', file, '--frequency', 'daily', '--from', '2025-10-09', '--to', '2025-10-09', '--json']);
    expect(JSON.parse(daily.stdout)).toEqual(['2025-10-09T09:35:00+08:00']);
  });

  it('prints a readable list and a count without --json', () => {
    const r = cli(['schedule', '--market', 'us', '--frequency', 'hourly', '--from', '2025-11-28', '--to', '2025-11-28']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      '2025-11-28 Fri 10:05 -05:00',
      '2025-11-28 Fri 11:05 -05:00',
      '2025-11-28 Fri 12:05 -05:00',
      '3 us hourly sessions from 2025-11-28 to 2025-11-28',
    ]);
  });

  it('exits 2 with a clear message on bad input', () => {
    const outside = cli(['schedule', '--market', 'cn', '--frequency', 'daily', '--from', '2027-01-04', '--to', '2027-01-05']);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain('no cn exchange calendar for 2027: covered years are 2015-2026');
    const noMarket = cli(['schedule', '--from', '2025-01-02', '--to', '2025-01-03']);
    expect(noMarket.code).toBe(2);
    expect(noMarket.stderr).toContain('--market and --frequency, or --config');
    const badDate = cli(['schedule', '--market', 'us', '--frequency', 'daily', '--from', '2025-02-30', '--to', '2025-03-03']);
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toMatch(/2025-02-30/);
  });
});

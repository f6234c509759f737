import { describe, expect, it } from 'vitest';
import { cli as runCli } from '../support/cli.js';

const cli = (...args: string[]) => runCli(args);

describe('agent-trader calendar', () => {
  it('prints US trading days as JSON, with the early close of the day after Thanksgiving', () => {
    const r = cli('calendar', '--market', 'us', '--from', '2025-11-27', '--to', '2025-11-28', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const days = JSON.parse(r.stdout) as unknown[];
    expect(days).toHaveLength(1);
    // Byte for byte, key order included.
    expect(JSON.stringify(days[0])).toBe(
      '{"date":"2025-11-28","open":"2025-11-28T09:30:00-05:00","close":"2025-11-28T13:00:00-05:00","early_close":true}',
    );
  });

  it('prints A-share days with their lunch break', () => {
    const r = cli('calendar', '--market', 'cn', '--from', '2025-10-01', '--to', '2025-10-09', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      {
        date: '2025-10-09',
        open: '2025-10-09T09:30:00+08:00',
        close: '2025-10-09T15:00:00+08:00',
        early_close: false,
        breaks: [{ start: '2025-10-09T11:30:00+08:00', end: '2025-10-09T13:00:00+08:00' }],
      },
    ]);
  });

  it('prints a readable table with notes and a count', () => {
    const r = cli('calendar', '--market', 'us', '--from', '2025-11-24', '--to', '2025-11-30');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[1]).toMatch(/^date\s+weekday\s+open\s+close\s+note$/);
    expect(r.stdout).toMatch(/2025-11-28\s+Fri\s+09:30 -05:00\s+13:00 -05:00\s+early close 13:00/);
    expect(r.stdout).not.toContain('2025-11-27');
    expect(lines.at(-1)).toBe('4 trading days');
  });

  it('exits 2 with the coverage message for a year outside the calendar', () => {
    const r = cli('calendar', '--market', 'cn', '--from', '2027-01-01', '--to', '2027-01-31');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('no cn exchange calendar for 2027: covered years are 2015-2026 (calendar version 2026.1)');
  });

  it('exits 2 on a malformed date or an unknown market', () => {
    expect(cli('calendar', '--market', 'us', '--from', '2025-13-01', '--to', '2025-12-31').code).toBe(2);
    const r = cli('calendar', '--market', 'hk', '--from', '2025-01-01', '--to', '2025-01-31');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/hk/);
  });

  it('shows help and exits 0', () => {
    const r = cli('calendar', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--market');
    expect(r.stdout).toContain('--json');
  });
});

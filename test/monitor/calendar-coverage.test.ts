/** CALENDAR_COVERAGE_ENDING on an injected clock: at start inside the window, or once when a running process enters it. */
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { calendarCoverageWatch } from '../../src/actors/monitor/calendar-coverage.js';

function watch(start: string) {
  let now = DateTime.fromISO(start, { zone: 'Asia/Shanghai' });
  const raised: [string, string, string][] = [];
  const w = calendarCoverageWatch({ market: 'cn', now: () => now, raise: (level, code, message) => raised.push([level, code, message]) });
  return { w, raised, set: (iso: string) => (now = DateTime.fromISO(iso, { zone: 'Asia/Shanghai' })) };
}

describe('calendarCoverageWatch', () => {
  it('alerts at a start on 2026-12-02 for a calendar ending 2026-12-31 (warning, market, last date, how to extend)', () => {
    const { w, raised } = watch('2026-12-02T09:00');
    expect(w.check()).toBe(true);
    expect(raised).toHaveLength(1);
    const [level, code, message] = raised[0]!;
    expect([level, code]).toEqual(['warning', 'CALENDAR_COVERAGE_ENDING']);
    expect(message).toContain('the cn exchange calendar (version 2026.1) ends on 2026-12-31 (30 days left)');
    expect(message).toContain('calendar.closures_file');
  });

  it('is quiet a month earlier, then alerts once when the running process enters the window', () => {
    const { w, raised, set } = watch('2026-11-01T09:00');
    expect(w.check()).toBe(false);
    set('2026-12-01T15:05');
    expect(w.check()).toBe(false);
    set('2026-12-02T09:35');
    expect(w.check()).toBe(true);
    set('2026-12-03T09:35');
    expect(w.check()).toBe(false);
    expect(raised.map((r) => r[1])).toEqual(['CALENDAR_COVERAGE_ENDING']);
  });

  it('alerts again at the next start (a new watch)', () => {
    expect(watch('2026-12-20T09:00').w.check()).toBe(true);
    expect(watch('2026-12-21T09:00').w.check()).toBe(true);
  });
});

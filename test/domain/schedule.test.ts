import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/domain/errors.js';
import { defaultScheduleSpec, instantsAfter, isoInstant, tradingInstants } from '../../src/domain/schedule.js';

const iso = (xs: DateTime[]) => xs.map(isoInstant);

describe('trading instants', () => {
  it('fires the US hourly defaults in New York time, across the March DST change', () => {
    const spec = defaultScheduleSpec('us', 'hourly');
    expect(iso(tradingInstants(spec, '2025-03-07', '2025-03-10'))).toEqual([
      '2025-03-07T10:05:00-05:00',
      '2025-03-07T11:05:00-05:00',
      '2025-03-07T12:05:00-05:00',
      '2025-03-07T13:05:00-05:00',
      '2025-03-07T14:05:00-05:00',
      '2025-03-07T15:05:00-05:00',
      '2025-03-10T10:05:00-04:00',
      '2025-03-10T11:05:00-04:00',
      '2025-03-10T12:05:00-04:00',
      '2025-03-10T13:05:00-04:00',
      '2025-03-10T14:05:00-04:00',
      '2025-03-10T15:05:00-04:00',
    ]);
  });

  it('follows New York time back to standard time in November', () => {
    const spec = defaultScheduleSpec('us', 'daily');
    expect(iso(tradingInstants(spec, '2025-10-31', '2025-11-03'))).toEqual([
      '2025-10-31T09:35:00-04:00',
      '2025-11-03T09:35:00-05:00',
    ]);
  });

  it('keeps only the instants before an early close (day after Thanksgiving)', () => {
    const spec = defaultScheduleSpec('us', 'hourly');
    expect(iso(tradingInstants(spec, '2025-11-27', '2025-11-28'))).toEqual([
      '2025-11-28T10:05:00-05:00',
      '2025-11-28T11:05:00-05:00',
      '2025-11-28T12:05:00-05:00',
    ]);
  });

  it('skips US special closures (2025-01-09, national day of mourning)', () => {
    const spec = defaultScheduleSpec('us', 'daily');
    expect(iso(tradingInstants(spec, '2025-01-08', '2025-01-10'))).toEqual([
      '2025-01-08T09:35:00-05:00',
      '2025-01-10T09:35:00-05:00',
    ]);
  });

  it('keeps the A-share 15:05 post-close session with the default grace, and drops it without grace', () => {
    const spec = defaultScheduleSpec('cn', 'hourly');
    expect(iso(tradingInstants(spec, '2025-10-09', '2025-10-09'))).toEqual([
      '2025-10-09T10:35:00+08:00',
      '2025-10-09T11:35:00+08:00',
      '2025-10-09T14:05:00+08:00',
      '2025-10-09T15:05:00+08:00',
    ]);
    const noGrace = { ...spec, closeGraceMinutes: 0 };
    expect(iso(tradingInstants(noGrace, '2025-10-09', '2025-10-09'))).not.toContain('2025-10-09T15:05:00+08:00');
  });

  it('has no A-share session in the National Day week or on the make-up Saturday', () => {
    const spec = defaultScheduleSpec('cn', 'daily');
    expect(iso(tradingInstants(spec, '2025-09-30', '2025-10-13'))).toEqual([
      '2025-09-30T09:35:00+08:00',
      '2025-10-09T09:35:00+08:00',
      '2025-10-10T09:35:00+08:00',
      '2025-10-13T09:35:00+08:00',
    ]);
  });

  it('counts a year of sessions: one per A-share trading day, six per US day less the early closes', () => {
    expect(tradingInstants(defaultScheduleSpec('cn', 'daily'), '2025-01-01', '2025-12-31')).toHaveLength(243);
    // 250 NYSE days in 2025; 3 early closes (07-03, 11-28, 12-24) each lose 13:05, 14:05, 15:05.
    expect(tradingInstants(defaultScheduleSpec('us', 'hourly'), '2025-01-01', '2025-12-31')).toHaveLength(250 * 6 - 9);
  });

  it('reads trigger times in the configured zone and files them under the exchange date', () => {
    // 21:35 New York (EDT) on Oct 8 is 09:35 Shanghai on Oct 9.
    const spec = { ...defaultScheduleSpec('cn', 'daily'), triggerTime: '21:35', timezone: 'America/New_York' };
    expect(iso(tradingInstants(spec, '2025-10-09', '2025-10-10'))).toEqual([
      '2025-10-09T09:35:00+08:00',
      '2025-10-10T09:35:00+08:00',
    ]);
  });

  it('lists instants lazily after any instant, strictly after it', () => {
    const spec = defaultScheduleSpec('cn', 'hourly');
    const it = instantsAfter(spec, DateTime.fromISO('2025-10-09T11:35:00+08:00'));
    expect([it.next().value, it.next().value, it.next().value].map(isoInstant)).toEqual([
      '2025-10-09T14:05:00+08:00',
      '2025-10-09T15:05:00+08:00',
      '2025-10-10T10:35:00+08:00',
    ]);
  });

  it('refuses bad dates and reversed ranges with a clear error', () => {
    const spec = defaultScheduleSpec('cn', 'daily');
    expect(() => tradingInstants(spec, '2025-13-01', '2025-12-31')).toThrow(InputError);
    expect(() => tradingInstants(spec, '2025-10-10', '2025-10-09')).toThrow(/after/);
    expect(() => tradingInstants({ ...spec, triggerTime: '9:35' }, '2025-10-09', '2025-10-09')).toThrow(
      /expected a time HH:mm, got "9:35"/,
    );
  });

  it('fails loudly past the calendar coverage instead of guessing', () => {
    expect(() => tradingInstants(defaultScheduleSpec('cn', 'daily'), '2026-12-30', '2027-01-05')).toThrow(/2027/);
  });
});

import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { localDate } from '../../src/domain/local-date.js';

// The exchanges' zones, one with DST, and zones whose offsets are not whole hours.
const ZONES = ['Asia/Shanghai', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'UTC'];

describe('localDate', () => {
  it('is luxon’s local date of the instant, in every zone, across DST changes', () => {
    const from = DateTime.fromISO('2024-01-01T00:00:00Z').toMillis();
    const to = DateTime.fromISO('2028-01-01T00:00:00Z').toMillis();
    fc.assert(
      fc.property(fc.integer({ min: from, max: to }), fc.constantFrom(...ZONES), (ms, zone) => {
        expect(localDate(ms, zone)).toBe(DateTime.fromMillis(ms, { zone }).toISODate());
      }),
      { numRuns: 5000 },
    );
  });

  it('changes exactly at local midnight (New York, the night clocks go back)', () => {
    const midnight = DateTime.fromISO('2025-11-03T00:00', { zone: 'America/New_York' }).toMillis();
    expect(localDate(midnight - 1, 'America/New_York')).toBe('2025-11-02');
    expect(localDate(midnight, 'America/New_York')).toBe('2025-11-03');
    const kathmandu = DateTime.fromISO('2025-11-03T00:00', { zone: 'Asia/Kathmandu' }).toMillis();
    expect(localDate(kathmandu - 1, 'Asia/Kathmandu')).toBe('2025-11-02');
    expect(localDate(kathmandu, 'Asia/Kathmandu')).toBe('2025-11-03');
  });
});

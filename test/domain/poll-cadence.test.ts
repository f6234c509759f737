import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { CLOSED_POLL_MS, MAX_POLL_BACKOFF_MS, pollDelayMs, type PollCadence } from '../../src/domain/poll-cadence.js';

const cn: PollCadence = { market: 'cn', intervalMs: 3_000, closedIntervalMs: CLOSED_POLL_MS, maxBackoffMs: MAX_POLL_BACKOFF_MS };
const at = (iso: string) => DateTime.fromISO(iso, { zone: 'Asia/Shanghai' }).toMillis();

describe('pollDelayMs: when an HTTP quote source is polled next', () => {
  it('while open: every interval, doubling after each failed poll in a row up to the cap', () => {
    const open = at('2025-11-18T10:00:00');
    expect([0, 1, 2, 3, 6, 7, 40].map((n) => pollDelayMs(cn, open, n))).toEqual([3_000, 6_000, 12_000, 24_000, 192_000, 300_000, 300_000]);
  });

  it('while closed: every 15 minutes, failures or not, but never past the next open or the end of the lunch break', () => {
    expect(pollDelayMs(cn, at('2025-11-18T02:00:00'), 0)).toBe(15 * 60_000);
    expect(pollDelayMs(cn, at('2025-11-18T02:00:00'), 12)).toBe(15 * 60_000);
    expect(pollDelayMs(cn, at('2025-11-18T09:20:00'), 0)).toBe(10 * 60_000);
    expect(pollDelayMs(cn, at('2025-11-18T09:29:59'), 0)).toBe(3_000); // never sooner than the interval
    expect(pollDelayMs(cn, at('2025-11-18T11:40:00'), 0)).toBe(15 * 60_000);
    expect(pollDelayMs(cn, at('2025-11-18T12:55:00'), 5)).toBe(5 * 60_000);
    expect(pollDelayMs(cn, at('2025-11-21T15:30:00'), 0)).toBe(15 * 60_000); // a Friday evening
  });

  it('a night of polls is a few dozen, not ten thousand', () => {
    let t = at('2025-11-18T15:00:00');
    let polls = 0;
    while (t < at('2025-11-19T09:30:00')) {
      t += pollDelayMs(cn, t, 0);
      polls++;
    }
    expect(t).toBe(at('2025-11-19T09:30:00'));
    expect(polls).toBe(74); // 18.5 h at one a quarter hour
  });

  it('a date past the calendar is closed (the clock stream reports the coverage itself)', () => {
    expect(pollDelayMs(cn, at('2031-06-02T10:00:00'), 0)).toBe(15 * 60_000);
  });
});

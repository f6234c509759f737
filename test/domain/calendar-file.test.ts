/**
 * A user's closures file (same schema as the built-in tables), laid over the built-in
 * years, and the coverage-ending check at an injected instant.
 */
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CLOSURE_TABLES,
  CalendarCoverageError,
  ClosureFileSchema,
  calendarCoverage,
  coverageDaysLeft,
  coverageEnd,
  coverageEnding,
  coverageEndingMessage,
  installClosureTables,
  isTradingDay,
  mergeClosureFile,
  tradingDay,
  type ClosureFile,
} from '../../src/domain/calendar/index.js';
import { InputError } from '../../src/domain/errors.js';

afterEach(() => installClosureTables(CLOSURE_TABLES));

/** A test-only A-share table for a made-up year 2027: the format, not the real notice. */
const cn2027 = (closures: Record<string, string> = { '2027-01-01': 'test closure' }) => ({
  from_year: 2027,
  to_year: 2027,
  version: 'test.1',
  source: 'test fixture (not the 2027 notice)',
  closures,
});

function issues(raw: unknown): string[] {
  const r = ClosureFileSchema.safeParse(raw);
  return (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('ClosureFileSchema', () => {
  it('accepts a table for one market; early_closes defaults to none', () => {
    const r = ClosureFileSchema.parse({ cn: cn2027() });
    expect(r.cn?.early_closes).toEqual({});
    expect(r.us).toBeUndefined();
  });

  it.each([
    [{ cn: cn2027({ '2027-01-02': 'x' }) }, 'cn.closures.2027-01-02: expected a weekday: 2027-01-02 is a Saturday (weekends are always closed; list only weekdays)'],
    [{ cn: cn2027({ '2026-12-31': 'x' }) }, "cn.closures.2026-12-31: expected a date in the table's years 2027-2027"],
    [{ cn: cn2027({ '2027-02-30': 'x' }) }, 'cn.closures.2027-02-30: expected a date key YYYY-MM-DD'],
    [{ cn: cn2027({ '2027-01-04': '' }) }, 'cn.closures.2027-01-04: expected the name of the occasion (a non-empty string)'],
    [{ cn: { ...cn2027(), to_year: 2026 } }, 'cn.to_year: expected a year on or after from_year (2027)'],
    [{ cn: { ...cn2027(), early_closes: { '2027-01-05': 'half day' } } }, 'cn.early_closes.2027-01-05: expected no early closes: China A-shares (SSE/SZSE) has none'],
    [{ us: { ...cn2027(), early_closes: { '2027-01-01': 'half day' } } }, 'us.early_closes.2027-01-01: expected a day that is not also a closure'],
    [{}, ': expected a table for cn, us or both'],
  ])('refuses %j with a message naming the field', (raw, message) => {
    expect(issues(raw)).toContain(message);
  });

  it('refuses unknown keys and a missing version or source', () => {
    const found = issues({ cn: { ...cn2027(), version: undefined, source: '', closure: {} }, hk: {} });
    expect(found.some((m) => m.startsWith('cn: ') && m.includes('closure'))).toBe(true);
    expect(found.some((m) => m.includes('hk'))).toBe(true);
    expect(found).toContain('cn.version: expected a version (a non-empty string)');
    expect(found).toContain('cn.source: expected the source of the dates (a non-empty string)');
  });
});

describe('mergeClosureFile', () => {
  const file = (raw: unknown): ClosureFile => ClosureFileSchema.parse(raw);

  it('adds a year the built-in table lacks, and the calendar in force then covers it', () => {
    const merged = mergeClosureFile(CLOSURE_TABLES, file({ cn: cn2027() }), 'my-closures.json');
    expect(merged.addedYears).toEqual({ cn: [2027], us: [] });
    expect(merged.tables.us).toBe(CLOSURE_TABLES.us);
    expect(merged.tables.cn.closures['2026-10-01']).toBe('National Day');

    expect(() => isTradingDay('cn', '2027-01-04')).toThrow(CalendarCoverageError);
    installClosureTables(merged.tables);
    expect(calendarCoverage('cn')).toMatchObject({ fromYear: 2015, toYear: 2027, version: '2026.1+test.1' });
    expect(calendarCoverage('cn').source).toContain('2027 from my-closures.json: test fixture');
    expect(isTradingDay('cn', '2027-01-01')).toBe(false);
    expect(tradingDay('cn', '2027-01-04')?.close.toFormat('HH:mm')).toBe('15:00');
    expect(() => isTradingDay('cn', '2028-01-03')).toThrow(/covered years are 2015-2027/);
  });

  it('takes years it shares with the built-in table when they agree day for day (names may differ)', () => {
    const us2027 = { ...CLOSURE_TABLES.us, from_year: 2027, closures: Object.fromEntries(Object.entries(CLOSURE_TABLES.us.closures).filter(([d]) => d.startsWith('2027')).map(([d]) => [d, 'holiday'])) };
    us2027.early_closes = { '2027-11-26': 'Black Friday' };
    const merged = mergeClosureFile(CLOSURE_TABLES, file({ us: us2027 }), 'f.json');
    expect(merged.addedYears.us).toEqual([]);
    expect(merged.tables.us).toBe(CLOSURE_TABLES.us);
  });

  it('refuses a file that disagrees with a built-in year, naming every date', () => {
    const cn2026 = Object.fromEntries(Object.entries(CLOSURE_TABLES.cn.closures).filter(([d]) => d.startsWith('2026') && d !== '2026-10-07'));
    cn2026['2026-10-08'] = 'National Day (extended)';
    const raw = { cn: { ...cn2027({ ...cn2026, '2027-01-01': 'x' }), from_year: 2026 } };
    let error: unknown;
    try {
      mergeClosureFile(CLOSURE_TABLES, file(raw), 'my-closures.json');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toBe('calendar.closures_file my-closures.json: disagrees with the built-in calendar on 2 day(s): cn 2026-10-07, cn 2026-10-08');
    expect((error as InputError).problems).toEqual([
      'cn 2026-10-07: the built-in calendar (version 2026.1) says closed, my-closures.json says open',
      'cn 2026-10-08: the built-in calendar (version 2026.1) says open, my-closures.json says closed',
    ]);
  });

  it('refuses an early close the built-in table does not have', () => {
    const raw = { us: { from_year: 2027, to_year: 2027, version: 'x', source: 'x', closures: CLOSURE_TABLES.us.closures, early_closes: { '2027-07-02': 'half day' } } };
    // the closures of other years are outside 2027: refused by the schema before any merge
    expect(ClosureFileSchema.safeParse(raw).success).toBe(false);
    const only2027 = Object.fromEntries(Object.entries(CLOSURE_TABLES.us.closures).filter(([d]) => d.startsWith('2027')));
    expect(() => mergeClosureFile(CLOSURE_TABLES, file({ us: { ...raw.us, closures: only2027 } }), 'f.json')).toThrow(
      'calendar.closures_file f.json: disagrees with the built-in calendar on 2 day(s): us 2027-07-02, us 2027-11-26',
    );
  });

  it('refuses a file that would leave a hole in the coverage', () => {
    const raw = { cn: { ...cn2027({ '2028-01-03': 'x' }), from_year: 2028, to_year: 2028 } };
    expect(() => mergeClosureFile(CLOSURE_TABLES, file(raw), 'f.json')).toThrow(InputError);
    try {
      mergeClosureFile(CLOSURE_TABLES, file(raw), 'f.json');
    } catch (err) {
      expect((err as InputError).message).toBe('calendar.closures_file f.json: cannot extend the built-in calendar');
      expect((err as InputError).problems).toEqual(['cn: the file starts in 2028 but the built-in calendar ends in 2026; it must also cover 2027']);
    }
  });
});

describe('coverage ending', () => {
  const shanghai = (iso: string) => DateTime.fromISO(iso, { zone: 'Asia/Shanghai' });

  it('counts the covered days left from the exchange-local date', () => {
    expect(coverageEnd('cn')).toBe('2026-12-31');
    expect(coverageEnd('us')).toBe('2027-12-31');
    expect(coverageDaysLeft('cn', shanghai('2026-12-02T10:00'))).toBe(30);
    expect(coverageDaysLeft('cn', shanghai('2026-12-31T23:59'))).toBe(1);
    expect(coverageDaysLeft('cn', shanghai('2027-01-01T00:00'))).toBe(0);
    // 16:30 UTC on 12-01 is already 12-02 in Shanghai
    expect(coverageDaysLeft('cn', DateTime.fromISO('2026-12-01T16:30:00Z'))).toBe(30);
    // across the March and November DST changes in New York
    expect(coverageDaysLeft('us', DateTime.fromISO('2027-03-01T12:00', { zone: 'America/New_York' }))).toBe(306);
  });

  it('is due 30 days before the end and every day after; not before', () => {
    expect(coverageEnding('cn', shanghai('2026-11-01T09:00'))).toBeUndefined();
    expect(coverageEnding('cn', shanghai('2026-12-01T23:59'))).toBeUndefined();
    expect(coverageEnding('cn', shanghai('2026-12-02T00:00'))).toEqual({ market: 'cn', lastDate: '2026-12-31', daysLeft: 30, version: '2026.1' });
    expect(coverageEnding('cn', shanghai('2026-12-30T09:00'))?.daysLeft).toBe(2);
    expect(coverageEnding('us', shanghai('2026-12-02T00:00'))).toBeUndefined();
  });

  it('says which market, the last covered date and how to extend it', () => {
    const message = coverageEndingMessage(coverageEnding('cn', shanghai('2026-12-02T10:00'))!);
    expect(message).toBe(
      'the cn exchange calendar (version 2026.1) ends on 2026-12-31 (30 days left): no session can be scheduled after it. ' +
        'Extend it with a closures file for the next year (config calendar.closures_file, format in docs/calendar.md) or upgrade agent-trader',
    );
    expect(coverageEndingMessage({ market: 'cn', lastDate: '2026-12-31', daysLeft: 1, version: 'v' })).toContain('(1 day left)');
    expect(coverageEndingMessage({ market: 'cn', lastDate: '2026-12-31', daysLeft: 0, version: 'v' })).toContain('(already ended)');
  });

  it('follows the calendar in force: a file adding 2027 moves the end a year on', () => {
    installClosureTables(mergeClosureFile(CLOSURE_TABLES, ClosureFileSchema.parse({ cn: cn2027() }), 'f.json').tables);
    expect(coverageEnd('cn')).toBe('2027-12-31');
    expect(coverageEnding('cn', shanghai('2026-12-02T10:00'))).toBeUndefined();
  });
});

/**
 * calendar.closures_file: read from disk (path relative to the config), validated with the
 * built-in tables' schema, merged, put in force; and the CLI refusing a bad one with exit 2.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHolidays } from 'nyse-holidays';
import { afterEach, describe, expect, it } from 'vitest';
import { applyCalendarConfig, calendarFromConfig, readClosuresFile } from '../../src/config/closures-file.js';
import { loadConfig, missingFiles } from '../../src/config/load.js';
import { CLOSURE_TABLES, calendarCoverage, coverageEnd, installClosureTables, tradingDay, tradingDays } from '../../src/domain/calendar/index.js';
import { InputError } from '../../src/domain/errors.js';
import { cli, ROOT } from '../support/cli.js';

const EXAMPLE = join(ROOT, 'docs/examples/closures-us-2028.json');
const dirs: string[] = [];
afterEach(async () => {
  installClosureTables(CLOSURE_TABLES);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-closures-'));
  dirs.push(dir);
  return dir;
}

/** A config in `dir` naming `closures` (relative), with the file written beside it. */
async function configWith(dir: string, closures: unknown): Promise<string> {
  await writeFile(join(dir, 'closures.json'), typeof closures === 'string' ? closures : JSON.stringify(closures));
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify({ market: 'us', calendar: { closures_file: 'closures.json' }, models: [{ name: 'EW', signature: 'ew', agent: { kind: 'rules' } }] }));
  return file;
}

async function rejection(p: Promise<unknown>): Promise<InputError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return err as InputError;
}

const weekdaysOf = (year: number) => {
  const out: string[] = [];
  for (let d = new Date(Date.UTC(year, 0, 1)); d.getUTCFullYear() === year; d = new Date(d.getTime() + 86_400_000)) {
    if (d.getUTCDay() % 6 !== 0) out.push(d.toISOString().slice(0, 10));
  }
  return out;
};

describe('calendar.closures_file', () => {
  it('is resolved against the config file and checked for existence by config check', async () => {
    const dir = await tempDir();
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ calendar: { closures_file: 'missing.json' }, models: [{ name: 'EW', signature: 'ew', agent: { kind: 'rules' } }] }));
    const config = await loadConfig(file);
    expect(config.calendar.closures_file).toBe(join(dir, 'missing.json'));
    expect(await missingFiles(config)).toEqual([`calendar.closures_file: file not found: ${join(dir, 'missing.json')}`]);
    expect((await loadConfig(join(ROOT, 'config/default.json'))).calendar).toEqual({});
  });

  it('the docs example (NYSE 2028) extends US coverage to 2028 and agrees with nyse-holidays', async () => {
    const merged = await applyCalendarConfig({ calendar: { closures_file: EXAMPLE } });
    expect(merged.addedYears).toEqual({ cn: [], us: [2028] });
    expect(coverageEnd('us')).toBe('2028-12-31');
    expect(calendarCoverage('us').version).toBe('2027.1+2028.1');
    const open = new Set(tradingDays('us', '2028-01-01', '2028-12-31').map((d) => d.date));
    const holidays = weekdaysOf(2028).filter((d) => !open.has(d));
    expect(holidays).toEqual(getHolidays(2028).map((h) => h.dateString));
    expect(tradingDay('us', '2028-07-03')?.close.toFormat('HH:mm')).toBe('13:00');
    expect(tradingDay('us', '2028-11-24')?.earlyClose).toBe(true);
    // New Year's Day 2028 is a Saturday: not observed, 2027-12-31 and 2028-01-03 trade
    expect(open.has('2028-01-03')).toBe(true);

    // A config without a file puts the built-in tables back.
    await applyCalendarConfig({ calendar: {} });
    expect(coverageEnd('us')).toBe('2027-12-31');
  });

  it.each([
    ['{ "us": ', 'not valid JSON at line 1'],
    ['// 2028\n{}', 'JSON does not allow comments (line 1)'],
  ])('refuses unreadable JSON %j', async (text, message) => {
    const dir = await tempDir();
    await writeFile(join(dir, 'c.json'), text);
    expect((await rejection(readClosuresFile(join(dir, 'c.json')))).message).toContain(message);
  });

  it('refuses a file the schema refuses, one line per problem, and installs nothing', async () => {
    const dir = await tempDir();
    const path = join(dir, 'c.json');
    await writeFile(path, JSON.stringify({ us: { from_year: 2028, to_year: 2028, version: 'x', source: 'x', closures: { '2028-01-01': "New Year's Day", '2028-01-17': '' } } }));
    const err = await rejection(applyCalendarConfig({ calendar: { closures_file: path } }));
    expect(err.message).toBe(`calendar.closures_file ${path}: 2 problems`);
    expect(err.problems.join('\n')).toContain('us.closures["2028-01-01"]: expected a weekday: 2028-01-01 is a Saturday');
    expect(err.problems.join('\n')).toContain('us.closures["2028-01-17"]: expected the name of the occasion');
    expect(coverageEnd('us')).toBe('2027-12-31');
    expect((await rejection(readClosuresFile(join(dir, 'none.json')))).message).toBe(`calendar.closures_file: file not found: ${join(dir, 'none.json')}`);
  });

  it('refuses a file that disagrees with a built-in year, naming the dates', async () => {
    const dir = await tempDir();
    const path = join(dir, 'c.json');
    // 2027 without Good Friday and with 2027-12-31 closed, as someone might mistype it
    const closures = Object.fromEntries(Object.entries(CLOSURE_TABLES.us.closures).filter(([d]) => d.startsWith('2027') && d !== '2027-03-26'));
    await writeFile(path, JSON.stringify({ us: { from_year: 2027, to_year: 2027, version: 'x', source: 'x', closures: { ...closures, '2027-12-31': "New Year's Day (observed)" }, early_closes: { '2027-11-26': 'Day after Thanksgiving' } } }));
    const err = await rejection(calendarFromConfig({ calendar: { closures_file: path } }));
    expect(err.message).toBe(`calendar.closures_file ${path}: disagrees with the built-in calendar on 2 day(s): us 2027-03-26, us 2027-12-31`);
  });
});

describe('CLI with a closures file', () => {
  it('config check exits 2 naming the disagreeing dates; calendar --config lists the added year', async () => {
    const dir = await tempDir();
    const cn2026 = Object.fromEntries(Object.entries(CLOSURE_TABLES.cn.closures).filter(([d]) => d.startsWith('2026') && d !== '2026-02-23'));
    const bad = await configWith(dir, { cn: { from_year: 2026, to_year: 2026, version: 'x', source: 'x', closures: cn2026 } });
    const r = cli(['config', 'check', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('disagrees with the built-in calendar on 1 day(s): cn 2026-02-23');
    expect(r.stderr).toContain('cn 2026-02-23: the built-in calendar (version 2026.1) says closed');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const good = await configWith(await tempDir(), await readFile(EXAMPLE, 'utf8'));
    expect(cli(['config', 'check', good]).code).toBe(0);
    const days = cli(['calendar', '--market', 'us', '--from', '2028-07-01', '--to', '2028-07-05', '--json', '--config', good]);
    expect(days.code).toBe(0);
    expect((JSON.parse(days.stdout) as { date: string; early_close: boolean }[]).map((d) => [d.date, d.early_close])).toEqual([
      ['2028-07-03', true],
      ['2028-07-05', false],
    ]);
  });
});

describe('docs/calendar.md', () => {
  it('shows the example file as it is', async () => {
    const doc = await readFile(join(ROOT, 'docs/calendar.md'), 'utf8');
    const block = doc.slice(doc.indexOf('### Example: NYSE 2028'));
    const json = block.slice(block.indexOf('```json\n') + 8, block.indexOf('\n```', block.indexOf('```json\n')));
    expect(JSON.parse(json)).toEqual(JSON.parse(await readFile(EXAMPLE, 'utf8')));
  });
});

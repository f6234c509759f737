/**
 * The shape of a closure table, as one zod schema: the built-in tables (closures.ts)
 * and a user's closures file (docs/calendar.md) are both this, so a file that passes
 * here is read exactly like the tables shipped in a release.
 *
 * Only weekdays are listed (weekends are always closed), every date lies inside the
 * table's years, a day is either closed or an early close, and only a market with an
 * early-close time (MARKETS) may list early closes.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';
import { MARKETS, type Market } from '../markets.js';

const YMD = /^\d{4}-\d{2}-\d{2}$/;
const YEAR = 'expected a year from 1990 to 2100';
const NAME = 'expected the name of the occasion (a non-empty string)';

const year = () => z.int({ error: YEAR }).min(1990, { error: YEAR }).max(2100, { error: YEAR });

/** 'YYYY-MM-DD' exchange-local date -> short name of the occasion. */
const DatedNamesSchema = z.record(z.string(), z.string({ error: NAME }).min(1, { error: NAME }));
export type DatedNames = Readonly<z.infer<typeof DatedNamesSchema>>;

/** Why `date` cannot be listed in a table covering `from`-`to`, or undefined when it can. */
function dateProblem(date: string, from: number, to: number): string | undefined {
  const day = YMD.test(date) ? DateTime.fromISO(date, { zone: 'utc' }) : undefined;
  if (day === undefined || !day.isValid) return 'expected a date key YYYY-MM-DD';
  if (day.weekday > 5) return `expected a weekday: ${date} is a ${day.toFormat('cccc')} (weekends are always closed; list only weekdays)`;
  if (day.year < from || day.year > to) return `expected a date in the table's years ${from}-${to}`;
  return undefined;
}

export const ClosureTableSchema = z
  .strictObject({
    /** First and last calendar year the table covers, inclusive. */
    from_year: year(),
    to_year: year(),
    /** Bumped whenever the dates change ('2027.1'). */
    version: z.string({ error: 'expected a version (a non-empty string)' }).min(1, { error: 'expected a version (a non-empty string)' }),
    /** Where the dates come from (the exchange's notice). */
    source: z.string({ error: 'expected the source of the dates (a non-empty string)' }).min(1, { error: 'expected the source of the dates (a non-empty string)' }),
    /** Weekdays the exchange is closed all day. */
    closures: DatedNamesSchema,
    /** Weekdays the exchange closes early, at MARKETS[market].earlyClose. */
    early_closes: DatedNamesSchema.default({}),
  })
  .superRefine((t, ctx) => {
    if (t.from_year > t.to_year) ctx.addIssue({ code: 'custom', path: ['to_year'], message: `expected a year on or after from_year (${t.from_year})`, input: t.to_year });
    for (const key of ['closures', 'early_closes'] as const) {
      for (const date of Object.keys(t[key])) {
        const problem = dateProblem(date, t.from_year, t.to_year);
        if (problem) ctx.addIssue({ code: 'custom', path: [key, date], message: problem, input: date });
      }
    }
    for (const date of Object.keys(t.early_closes)) {
      if (t.closures[date] !== undefined) ctx.addIssue({ code: 'custom', path: ['early_closes', date], message: 'expected a day that is not also a closure', input: date });
    }
  });
export type ClosureTable = z.infer<typeof ClosureTableSchema>;

/** A market without an early-close time (A-shares) cannot list early closes. */
function checkEarlyCloses(tables: Partial<Record<Market, ClosureTable>>, ctx: z.core.$RefinementCtx): void {
  for (const [market, t] of Object.entries(tables) as [Market, ClosureTable | undefined][]) {
    if (t === undefined || MARKETS[market].earlyClose !== undefined) continue;
    for (const date of Object.keys(t.early_closes)) {
      ctx.addIssue({ code: 'custom', path: [market, 'early_closes', date], message: `expected no early closes: ${MARKETS[market].name} has none`, input: date });
    }
  }
}

/** The built-in tables: every market. */
export const ClosureTablesSchema = z.strictObject({ cn: ClosureTableSchema, us: ClosureTableSchema }).superRefine(checkEarlyCloses);
export type ClosureTables = z.infer<typeof ClosureTablesSchema>;

/** A user's closures file: the same tables, for one market or both. */
export const ClosureFileSchema = z
  .strictObject({ cn: ClosureTableSchema.optional(), us: ClosureTableSchema.optional() })
  .superRefine((file, ctx) => {
    if (file.cn === undefined && file.us === undefined) ctx.addIssue({ code: 'custom', path: [], message: 'expected a table for cn, us or both', input: file });
    checkEarlyCloses(file, ctx);
  });
export type ClosureFile = z.infer<typeof ClosureFileSchema>;

/**
 * `calendar.closures_file`: a user's closure table (docs/calendar.md), read, validated
 * with the schema of the built-in tables, laid over them (src/domain/calendar/merge.ts)
 * and put in force for the process. Every problem is an InputError (exit 2) naming the
 * file, the field or the dates; nothing is installed unless the whole file is good.
 */
import { readFile } from 'node:fs/promises';
import {
  CLOSURE_TABLES,
  ClosureFileSchema,
  installClosureTables,
  mergeClosureFile,
  type ClosureFile,
  type MergedCalendar,
} from '../domain/calendar/index.js';
import type { Config } from './schema.js';
import { ConfigError, configErrorMap, formatIssues } from './errors.js';
import { parseJsonText } from './load.js';

const KEY = 'calendar.closures_file';

/** Read and validate a closures file. */
export async function readClosuresFile(path: string): Promise<ClosureFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'not readable (permission denied)' : (err as Error).message;
    throw new ConfigError(`${KEY}: ${why}: ${path}`, [], path);
  }
  const raw = parseJsonText(text, `${KEY} ${path}`);
  const result = ClosureFileSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  if (!result.success) {
    const problems = formatIssues(result.error.issues, { schema: ClosureFileSchema, input: raw });
    const n = problems.length;
    throw new ConfigError(`${KEY} ${path}: ${n} problem${n === 1 ? '' : 's'}`, problems, path);
  }
  return result.data;
}

/** The calendar the config asks for: the built-in tables, with its closures file over them when it names one. */
export async function calendarFromConfig(config: Pick<Config, 'calendar'>): Promise<MergedCalendar> {
  const path = config.calendar.closures_file;
  if (path === undefined) return { tables: CLOSURE_TABLES, addedYears: { cn: [], us: [] } };
  return mergeClosureFile(CLOSURE_TABLES, await readClosuresFile(path), path);
}

/**
 * Put the config's calendar in force (start of a run). Without a closures file this
 * restores the built-in tables, so each run gets exactly what its config says.
 */
export async function applyCalendarConfig(config: Pick<Config, 'calendar'>): Promise<MergedCalendar> {
  const merged = await calendarFromConfig(config);
  installClosureTables(merged.tables);
  return merged;
}

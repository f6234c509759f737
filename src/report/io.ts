/** report.json / report.html on disk: written atomically, read back and validated. */
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatPath } from '../config/errors.js';
import { InputError } from '../domain/errors.js';
import { ReportSchema, type Report } from './types.js';

export const REPORT_JSON = 'report.json';
export const REPORT_HTML = 'report.html';

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, 'utf8');
  await rename(tmp, file);
}

/**
 * Write `DIR/report.json` (pretty JSON, validated first) and `DIR/report.html`, creating
 * DIR if needed. Each file is replaced atomically (write then rename). Returns the paths.
 */
export async function writeReport(dir: string, report: Report, html: string): Promise<{ json: string; html: string }> {
  const checked = ReportSchema.parse(report);
  await mkdir(dir, { recursive: true });
  const json = join(dir, REPORT_JSON);
  const page = join(dir, REPORT_HTML);
  await writeAtomic(json, `${JSON.stringify(checked, null, 2)}\n`);
  await writeAtomic(page, html);
  return { json, html: page };
}

/** Read and validate `DIR/report.json`; anything missing or malformed is an InputError saying what. */
export async function readReport(dir: string): Promise<Report> {
  const file = join(dir, REPORT_JSON);
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new InputError(`no run at ${dir}: not a directory; expected the --out DIR of a backtest`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InputError(`no run at ${dir}: no such directory; expected the --out DIR of a backtest (it holds ${REPORT_JSON})`);
    }
    throw e;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InputError(`no run at ${dir}: no ${REPORT_JSON} in it; run a backtest with --out ${dir} first`);
    }
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch (e) {
    throw new InputError(`${file}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const parsed = ReportSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${file}: ${formatPath(i.path)}: ${i.message}`);
    throw new InputError(`${file}: not a valid report (${problems.length} problem${problems.length === 1 ? '' : 's'}); expected what a backtest writes`, problems);
  }
  return parsed.data;
}

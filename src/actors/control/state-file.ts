/**
 * A small JSON file in the state directory, written atomically the way the kill switch is
 * (a temp file in the same directory, fsynced, renamed over the old one): a reader sees the
 * old content or the new one, never half of one, and a crash leaves no torn file. For the
 * control layer's own state: the paused agents, the Telegram update offset.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { z } from 'zod';
import { InputError } from '../../domain/errors.js';

let tempSeq = 0;

/** Write `value` as JSON to `file` atomically; an InputError naming the file when it cannot be written. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${process.pid}.${++tempSeq}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(temp, 'w');
    try {
      writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new InputError(`state_dir: cannot write ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The file's content parsed by `schema`: `missing` when there is no file; `unreadable` (with why)
 * when it exists but cannot be read or parsed: the caller decides what is safe then.
 */
export function readJson<S extends z.ZodType>(file: string, schema: S): { readonly kind: 'ok'; readonly value: z.output<S> } | { readonly kind: 'missing' } | { readonly kind: 'unreadable'; readonly why: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', why: err instanceof Error ? err.message : String(err) };
  }
  try {
    return { kind: 'ok', value: schema.parse(JSON.parse(text)) };
  } catch (err) {
    return { kind: 'unreadable', why: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
}

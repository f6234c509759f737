/**
 * The system prompt: a template file per market (prompts/cn.md, prompts/us.md, or
 * the model's `prompt_template`) with `{{name}}` slots filled from the session:
 * the date and time in the exchange zone, the account and the latest prices the
 * point-in-time view knows. The template's hash is the prompt version recorded in
 * every transcript, so a changed prompt is visible in the audit trail.
 *
 * A template naming a slot that does not exist is refused when it is loaded (a
 * typo must not reach a model as literal braces).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../../domain/errors.js';
import type { Market } from '../../../domain/markets.js';
import type { AccountView } from '../../../domain/messages.js';
import type { PointInTimeView } from '../../../domain/point-in-time.js';

export const PROMPT_SLOTS = ['signature', 'date', 'weekday', 'time', 'session_at', 'cash', 'equity', 'positions', 'prices'] as const;
export type PromptSlot = (typeof PROMPT_SLOTS)[number];

export interface PromptTemplate {
  readonly file: string;
  readonly text: string;
  /** First 12 hex digits of the template's sha256. */
  readonly version: string;
}

export const BUILT_IN_PROMPTS: Record<Market, string> = {
  cn: fileURLToPath(new URL('../../../../prompts/cn.md', import.meta.url)),
  us: fileURLToPath(new URL('../../../../prompts/us.md', import.meta.url)),
};

const SLOT = /\{\{\s*([a-z_]+)\s*\}\}/g;

export async function loadPromptTemplate(file: string): Promise<PromptTemplate> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new InputError(`prompt template ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const unknown = [...text.matchAll(SLOT)].map((m) => m[1]!).filter((s) => !(PROMPT_SLOTS as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new InputError(`prompt template ${file}: unknown slot {{${unknown[0]}}}; expected one of ${PROMPT_SLOTS.join(', ')}`);
  }
  return { file, text, version: createHash('sha256').update(text).digest('hex').slice(0, 12) };
}

/** At most this many symbols are listed with prices (the NASDAQ-100 fits). */
const MAX_LISTED = 120;

export function renderPrompt(template: PromptTemplate, signature: string, view: PointInTimeView, account: AccountView): string {
  const at = view.at;
  const positions = Object.entries(account.positions)
    .filter(([, p]) => p.quantity !== 0)
    .map(([s, p]) => `  ${s}: ${p.quantity}, sellable ${p.sellable}, cost ${p.costBasis}`);
  const prices = view
    .symbols()
    .slice(0, MAX_LISTED)
    .flatMap((s) => {
      const p = view.price(s);
      if (!p) return [];
      const prev = view.previousClose(s);
      return [`  ${s}: ${p.price.toFixed()}${prev ? `, prev close ${prev.price.toFixed()}` : ''}`];
    });
  const slots: Record<PromptSlot, string> = {
    signature,
    date: at.toISODate()!,
    weekday: at.toFormat('cccc'),
    time: at.toFormat('HH:mm'),
    session_at: at.toISO()!,
    cash: account.cash,
    equity: account.equity,
    positions: positions.length > 0 ? positions.join('\n') : '  (none)',
    prices: prices.length > 0 ? prices.join('\n') : '  (none known yet)',
  };
  return template.text.replace(SLOT, (_, name: string) => slots[name as PromptSlot]);
}

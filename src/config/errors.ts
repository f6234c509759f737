/**
 * Zod issues -> lines a person can act on, one per problem:
 *
 *   risk_control.stop_loss_ratio: expected a number between 0 and 1, got "8%"
 *   mode: expected one of backtest, paper, live, got "demo"
 *   models[1].signature: expected a unique signature, got "a" (already used by models[0])
 *   risk_control.stop_los_ratio: unknown key (did you mean stop_loss_ratio?)
 *   broker.api_key: secrets are not read from the config file; set api_key_env to the name of an environment variable
 *   data_source.bars_file: expected a path, got nothing (required)
 *
 * The "expected ..." text comes from the schema's own `error:` where it has one,
 * else from `configErrorMap` (pass it to safeParse as `error`). The value comes
 * from the issue's `input` (parse with `reportInput: true`). Values of keys ending
 * in `_env` are never echoed: someone may have pasted the secret itself there; nor is
 * the user:password@ part of a URL.
 */
import type { z } from 'zod';
import { InputError } from '../domain/errors.js';
import { redactUrlCredentials } from './urls.js';

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

/** A config that could not be read or is not valid; `problems` holds one line per problem. */
export class ConfigError extends InputError {
  override readonly name: string = 'ConfigError';
  constructor(
    message: string,
    problems: readonly string[] = [],
    /** The file (or other source) the config came from. */
    readonly source?: string,
  ) {
    super(message, problems);
  }
}

// ---------------------------------------------------------------------------
// "expected ..." texts for issues whose schema gave none

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
  date: 'a date',
};

const list = (values: readonly unknown[]) => values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');

/** Per-parse error map: `schema.safeParse(data, { error: configErrorMap, reportInput: true })`. */
export const configErrorMap: z.core.$ZodErrorMap = (iss: RawIssue) => {
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}`;
    case 'invalid_value':
      return iss.values.length === 1 ? `expected ${JSON.stringify(iss.values[0])}` : `expected one of ${list(iss.values)}`;
    case 'too_small':
    case 'too_big': {
      const small = iss.code === 'too_small';
      const bound = Number(small ? iss.minimum : iss.maximum);
      const op = small ? (iss.inclusive ? '>=' : '>') : iss.inclusive ? '<=' : '<';
      if (iss.origin === 'array' || iss.origin === 'set') {
        return `expected ${small ? 'at least' : 'at most'} ${bound} item${bound === 1 ? '' : 's'}`;
      }
      if (iss.origin === 'string') {
        return small && bound === 1 ? 'expected a non-empty string' : `expected ${small ? 'at least' : 'at most'} ${bound} characters`;
      }
      return `expected a number ${op} ${bound}`;
    }
    case 'invalid_format':
      if (iss.format === 'url') return 'expected a URL';
      if (iss.format === 'regex') return `expected text matching ${String(iss['pattern'])}`;
      return `expected ${iss.format}`;
    case 'not_multiple_of':
      return `expected a multiple of ${iss.divisor}`;
    case 'unrecognized_keys':
      return `unknown key${iss.keys.length === 1 ? '' : 's'} ${iss.keys.join(', ')}`;
    case 'invalid_union':
      if (iss.discriminator && Array.isArray(iss['options'])) return `expected one of ${list(iss['options'] as unknown[])}`;
      return 'expected one of the allowed shapes';
    default:
      return undefined;
  }
};

// ---------------------------------------------------------------------------
// Rendering

/** `risk_control.stop_loss_ratio`, `models[1].signature`, `(top level)` for the root. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out === '' ? '(top level)' : out;
}

const MAX_SHOWN = 60;

/** How a received value is shown after "got"; a URL's user:password@ never is (see ./urls.ts). */
export function renderValue(value: unknown): string {
  if (value === undefined) return 'nothing (required)';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value); // 1e999 reads as Infinity
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) return redactUrlCredentials(String(value));
  text = redactUrlCredentials(text);
  if (text.length <= MAX_SHOWN) return text;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof value === 'object' && value !== null) return 'an object';
  return `${text.slice(0, MAX_SHOWN - 4)}..."`;
}

// ---------------------------------------------------------------------------
// Unknown keys: suggestions, and keys that look like secret values

/** Levenshtein distance (small strings only). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

const normalise = (k: string) => k.toLowerCase().replace(/[-_\s]/g, '');

/** The known key closest to `key`, if close enough to be a typo. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = normalise(k) === normalise(key) ? 0 : editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(key.length / 3)));
  return bestD <= limit ? best : undefined;
}

const SECRET_WORDS = new Set(['secret', 'token', 'password', 'passwd', 'passphrase', 'credential', 'credentials', 'apikey']);

/** `api_key`, `apiKey`, `secret`, `api_secret`, `token`, `password`, `private_key`... but not `*_env`. */
export function looksLikeSecretKey(key: string): boolean {
  if (/_env$/i.test(key)) return false;
  const parts = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[-_\s]+/);
  if (parts.some((p) => SECRET_WORDS.has(p))) return true;
  return parts.includes('key') && parts.some((p) => ['api', 'access', 'private', 'secret', 'auth'].includes(p));
}

function secretLine(where: string, key: string, known: readonly string[]): string {
  const envKeys = known.filter((k) => k.endsWith('_env'));
  const words = key.toLowerCase().replace(/apikey/, 'api_key').split(/[-_\s]+/);
  const target =
    envKeys.find((k) => k === `${key}_env`) ??
    envKeys.find((k) => words.some((w) => w !== 'api' && w !== 'key' && k.includes(w))) ??
    envKeys.find((k) => k === 'api_key_env');
  const head = `${where}: secrets are not read from the config file; `;
  return target
    ? `${head}set ${target} to the name of an environment variable`
    : `${head}keep them in environment variables`;
}

// ---------------------------------------------------------------------------
// Walking the schema to find the keys an object allows

interface Def {
  type: string;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  shape?: Record<string, z.core.$ZodType>;
  element?: z.core.$ZodType;
  options?: z.core.$ZodType[];
  discriminator?: string;
  getter?: () => z.core.$ZodType;
}

const defOf = (s: z.core.$ZodType): Def => s._zod.def as unknown as Def;

/** Whether `schema` accepts `value` (synchronously). */
function accepts(schema: z.core.$ZodType | undefined, value: unknown): boolean {
  if (!schema) return false;
  const result = schema['~standard'].validate(value);
  return !(result instanceof Promise) && !result.issues;
}

/** Unwrap defaults, optionals, pipes and unions (choosing the branch `value` takes) down to an object or array. */
function unwrap(schema: z.core.$ZodType, value: unknown): z.core.$ZodType | undefined {
  let s: z.core.$ZodType | undefined = schema;
  for (let guard = 0; s && guard < 50; guard++) {
    const def = defOf(s);
    if (def.type === 'pipe') s = def.in;
    else if (def.type === 'lazy' && def.getter) s = def.getter();
    else if (def.innerType) s = def.innerType;
    else if (def.type === 'union' && def.options) {
      const options: z.core.$ZodType[] = def.options;
      const disc = def.discriminator;
      const v = value as Record<string, unknown> | undefined;
      s = disc ? options.find((o) => accepts(defOf(o).shape?.[disc], v?.[disc])) : undefined;
      if (!s) return undefined;
    } else return s;
  }
  return s;
}

/** The keys the object schema at `path` allows, given the parsed `root` input (for union branches). */
export function knownKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[], root: unknown): string[] | undefined {
  let s: z.core.$ZodType | undefined = schema;
  let v: unknown = root;
  for (const seg of path) {
    s = s && unwrap(s, v);
    if (!s) return undefined;
    const def = defOf(s);
    if (def.type === 'object' && typeof seg === 'string') s = def.shape?.[seg];
    else if (def.type === 'array' && typeof seg === 'number') s = def.element;
    else return undefined;
    v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[seg] : undefined;
  }
  s = s && unwrap(s, v);
  const shape = s && defOf(s).type === 'object' ? defOf(s).shape : undefined;
  return shape ? Object.keys(shape) : undefined;
}

// ---------------------------------------------------------------------------
// Issues -> lines

export interface FormatContext {
  /** The schema that was parsed (for the keys an object allows). */
  schema?: z.core.$ZodType;
  /** The value that was parsed. */
  input?: unknown;
}

/** One line per problem; an issue naming several unknown keys gives one line per key. */
export function formatIssues(issues: readonly Issue[], ctx: FormatContext = {}): string[] {
  const lines: string[] = [];
  for (const issue of sortIssues(issues, ctx)) lines.push(...formatIssue(issue, ctx));
  return [...new Set(lines)];
}

/**
 * Group problems the way the file reads: by top-level section in the schema's
 * order, then by array index (models[0] before models[1]); otherwise zod's order
 * (cross-field checks come last within their group). Stable.
 */
function sortIssues(issues: readonly Issue[], ctx: FormatContext): Issue[] {
  const top = (ctx.schema && knownKeysAt(ctx.schema, [], ctx.input)) ?? [];
  const rank = (issue: Issue): [number, number] => {
    const path = issue.code === 'unrecognized_keys' && issue.path.length === 0 ? [issue.keys[0] ?? ''] : issue.path;
    const first = path[0];
    const section = first === undefined ? -1 : top.indexOf(String(first));
    const second = path[1];
    return [section === -1 && first !== undefined ? top.length : section, typeof second === 'number' ? second : -1];
  };
  return issues
    .map((issue, i) => ({ issue, i, r: rank(issue) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i)
    .map((x) => x.issue);
}

function formatIssue(issue: Issue, ctx: FormatContext): string[] {
  if (issue.code === 'unrecognized_keys') {
    const known = (ctx.schema && knownKeysAt(ctx.schema, issue.path, ctx.input)) ?? [];
    return issue.keys.map((key) => {
      const where = formatPath([...issue.path, key]);
      if (looksLikeSecretKey(key)) return secretLine(where, key, known);
      const suggestion = suggestKey(key, known);
      if (suggestion) return `${where}: unknown key (did you mean ${suggestion}?)`;
      return known.length > 0 ? `${where}: unknown key (allowed: ${known.join(', ')})` : `${where}: unknown key`;
    });
  }

  let received: unknown = issue.input;
  // A bad discriminator (`agent.kind`): the issue's input is the whole object.
  if (issue.code === 'invalid_union' && issue.discriminator) {
    received = typeof received === 'object' && received !== null ? (received as Record<string, unknown>)[issue.discriminator] : received;
  }
  const last = issue.path[issue.path.length - 1];
  const params = issue.code === 'custom' ? (issue.params as { note?: string; got?: string } | undefined) : undefined;

  let got: string;
  if (params?.got !== undefined) got = params.got;
  else if (typeof last === 'string' && /_env$/.test(last) && typeof received === 'string') {
    got = 'a value that is not a variable name (not shown: it may be a secret)';
  } else got = renderValue(received);

  const message = issue.message;
  const note = params?.note ? ` (${params.note})` : '';
  return [`${formatPath(issue.path)}: ${message}, got ${got}${note}`];
}

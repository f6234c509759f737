/**
 * Config file text -> JSON value, refusing what JSON.parse lets through or words badly:
 * an empty file, comments, syntax errors (with line:column), nesting deeper than a
 * config ever needs, and duplicate keys (JSON.parse keeps the last one silently, so
 * `"mode": "backtest"` early in a file is overridden by a forgotten `"mode": "live"`
 * further down).
 *
 * One scanner of our own does the syntax, depth and duplicate checks in a single
 * linear pass before JSON.parse sees the text. It is iterative (an explicit stack of
 * open objects and arrays), so a file nested 200,000 levels deep is refused at level
 * MAX_DEPTH + 1 instead of overflowing the call stack here, in JSON.parse or in the
 * schema's recursion. A library would not spare us much: the ones that report
 * duplicate keys (jsonc-parser's visitor, json-source-map, momoa) parse recursively,
 * so the depth guard would still be ours, and the key paths and messages too.
 */
import { ConfigError, formatPath } from './errors.js';

/** Deepest nesting accepted. A config needs 6 (models[0].agent.params.symbols[0]); the rest is headroom. */
export const MAX_DEPTH = 32;

export interface JsonDuplicate {
  /** Path of the repeated key (`risk_control.stop_loss_ratio`, as segments). */
  readonly path: readonly PropertyKey[];
  /** Lines (1-based) of its first and its repeated occurrence. */
  readonly firstLine: number;
  readonly line: number;
}

export interface JsonScan {
  /** Where and why the text is not JSON. */
  readonly syntax?: { line: number; column: number; reason: string };
  /** The first value that opens level MAX_DEPTH + 1, and the path it sits at. */
  readonly tooDeep?: { line: number; column: number; path: readonly PropertyKey[] };
  /** Keys written twice in one object, in file order (only when the text is otherwise fine). */
  readonly duplicates: readonly JsonDuplicate[];
}

/**
 * JSON text -> value, with a message per kind of mistake: an empty file, comments
 * (`//`, `/* *\/`, `#`), syntax errors with line:column, too deep a nesting, and
 * duplicate keys (ConfigError, one problem line per repeated key).
 */
export function parseJsonText(text: string, source: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') throw new ConfigError(`${source}: the file is empty; expected a JSON object`, [], source);
  const comments = findComments(body);
  if (comments.length > 0) {
    const where = comments.length === 1 ? `line ${comments[0]}` : `lines ${comments.join(', ')}`;
    throw new ConfigError(`${source}: JSON does not allow comments (${where}); remove them`, [], source);
  }
  const scan = scanJson(body);
  if (scan.syntax) {
    const { line, column, reason } = scan.syntax;
    throw new ConfigError(`${source}: not valid JSON at line ${line}, column ${column}: ${reason}`, [], source);
  }
  if (scan.tooDeep) {
    const { line, column, path } = scan.tooDeep;
    const where = path.length > 4 ? `${formatPath(path.slice(0, 4))}...` : formatPath(path);
    throw new ConfigError(
      `${source}: nested deeper than ${MAX_DEPTH} levels at line ${line}, column ${column} (in ${where}); a config needs at most 6`,
      [],
      source,
    );
  }
  if (scan.duplicates.length > 0) {
    const n = scan.duplicates.length;
    throw new ConfigError(
      `invalid config ${source}: ${n} duplicate key${n === 1 ? '' : 's'}`,
      scan.duplicates.map(
        (d) => `${formatPath(d.path)}: duplicate key (lines ${d.firstLine} and ${d.line}); JSON keeps only the last one silently, so write it once`,
      ),
      source,
    );
  }
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    // The scanner accepted it, so this would be a difference between the two readers.
    throw new ConfigError(`${source}: not valid JSON: ${(err as Error).message}`, [], source);
  }
}

/** Lines (1-based) where a comment starts outside a string: `//`, `/*`, or `#` first on a line. */
export function findComments(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let inString = false;
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = true;
      inString = false; // a raw newline ends a (broken) string; the scanner reports that
      continue;
    }
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) {
      if (lines[lines.length - 1] !== line) lines.push(line);
      if (text[i + 1] === '/') {
        while (i + 1 < text.length && text[i + 1] !== '\n') i++;
      } else {
        const end = text.indexOf('*/', i + 2);
        const stop = end === -1 ? text.length : end + 2;
        for (let j = i; j < stop; j++) if (text[j] === '\n') line++;
        i = stop - 1;
      }
    } else if (c === '#' && lineStart) {
      if (lines[lines.length - 1] !== line) lines.push(line);
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    }
    if (c !== ' ' && c !== '\t' && c !== '\r') lineStart = false;
  }
  return lines;
}

/** Where and why `text` is not JSON, or undefined if it is (see scanJson). */
export function locateJsonError(text: string): { line: number; column: number; reason: string } | undefined {
  return scanJson(text).syntax;
}

class Stop extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** An open object or array; `key` / `index` say where its current member sits. */
interface Frame {
  readonly kind: 'object' | 'array';
  /** Object: the keys seen so far, with the line each was first written on. */
  readonly keys: Map<string, number>;
  key: string;
  index: number;
}

/**
 * One pass over `text`: syntax errors (our own wording and line:column, independent
 * of the Node version's JSON.parse messages), nesting beyond MAX_DEPTH, duplicate keys.
 */
export function scanJson(text: string): JsonScan {
  let i = 0;
  let line = 1;
  const n = text.length;
  const stack: Frame[] = [];
  const duplicates: JsonDuplicate[] = [];
  const fail = (reason: string): never => {
    throw new Stop(i, reason);
  };
  const ws = () => {
    for (; i < n; i++) {
      const c = text[i];
      if (c === '\n') line++;
      else if (c !== ' ' && c !== '\t' && c !== '\r') return;
    }
  };
  const show = (c: string | undefined) => (c === undefined ? 'the end of the file' : JSON.stringify(c));
  const pathOf = (frames: readonly Frame[]): PropertyKey[] => frames.map((f) => (f.kind === 'object' ? f.key : f.index));

  /** A string from its opening quote; returns its raw text (quotes included). */
  const string = (): string => {
    const start = i;
    i++;
    while (i < n) {
      const c = text[i]!;
      if (c === '"') {
        i++;
        return text.slice(start, i);
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('bad \\u escape in a string');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail(`bad escape \\${e ?? ''} in a string`);
        continue;
      }
      if (c.charCodeAt(0) < 0x20) fail('line break or control character inside a string (unterminated string?)');
      i++;
    }
    return fail('unterminated string');
  };

  /** `"name":` of an object member, recorded in `frame` (duplicates noted). */
  const key = (frame: Frame) => {
    if (text[i] !== '"') {
      if (text[i] === '}') fail('trailing comma before }');
      fail(`expected a property name in double quotes, found ${show(text[i])}`);
    }
    const name = JSON.parse(string()) as string; // escapes already checked: "\u0061" and "a" are one key
    const first = frame.keys.get(name);
    frame.key = name;
    if (first === undefined) frame.keys.set(name, line);
    else duplicates.push({ path: pathOf(stack), firstLine: first, line });
    ws();
    if (text[i] !== ':') fail(`expected ':' after a property name, found ${show(text[i])}`);
    i++;
  };

  /** A number, string or literal at `i`. */
  const scalar = () => {
    const c = text[i];
    if (c === '"') {
      string();
      return;
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      const m = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
      m.lastIndex = i;
      if (!m.exec(text)) fail('malformed number');
      i = m.lastIndex;
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    if (c === "'") fail("strings must use double quotes, not '");
    if (c === undefined) fail('unexpected end of the file, expected a value');
    const word = /[A-Za-z_][\w.]*/y;
    word.lastIndex = i;
    fail(`unexpected ${JSON.stringify(word.exec(text)?.[0] ?? c)}, expected a value`);
  };

  try {
    // Each turn reads one value (opening a container counts as reading its first member's
    // place), then closes whatever that value completed.
    for (;;) {
      ws();
      const c = text[i];
      let opened = false;
      if (c === '{' || c === '[') {
        if (stack.length >= MAX_DEPTH) {
          const before = text.slice(0, i);
          return { tooDeep: { line, column: i - (before.lastIndexOf('\n') + 1) + 1, path: pathOf(stack) }, duplicates };
        }
        const frame: Frame = { kind: c === '{' ? 'object' : 'array', keys: new Map(), key: '', index: 0 };
        i++;
        ws();
        if (text[i] === (c === '{' ? '}' : ']')) i++; // empty: a complete value
        else {
          stack.push(frame);
          if (frame.kind === 'object') key(frame);
          opened = true;
        }
      } else scalar();
      if (opened) continue;
      // A value is complete: move on in the containers it completes.
      for (;;) {
        const top = stack[stack.length - 1];
        ws();
        if (!top) {
          if (i < n) fail(`unexpected ${show(text[i])} after the end of the JSON value`);
          return { duplicates };
        }
        const close = top.kind === 'object' ? '}' : ']';
        if (text[i] === ',') {
          i++;
          ws();
          if (top.kind === 'object') key(top);
          else {
            if (text[i] === ']') fail('trailing comma before ]');
            top.index++;
          }
          break; // read the next member's value
        }
        if (text[i] === close) {
          i++;
          stack.pop();
          continue;
        }
        fail(top.kind === 'object' ? `expected ',' or '}' after a property value, found ${show(text[i])}` : `expected ',' or ']' after an array item, found ${show(text[i])}`);
      }
    }
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    const before = text.slice(0, err.offset);
    const column = err.offset - (before.lastIndexOf('\n') + 1) + 1;
    return { syntax: { line: before.split('\n').length, column, reason: err.reason }, duplicates: [] };
  }
}

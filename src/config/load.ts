/**
 * Reading a config file: JSON text -> validated, fully resolved Config, or a
 * ConfigError (an InputError: the CLI prints it and exits 2) that lists every problem.
 *
 * Paths: a relative path WRITTEN in a config file (data_source.bars_file,
 * data_source.benchmark_file, models[].agent.log_file, models[].agent.prompt_template,
 * log.file, state_dir) is relative to the directory of that file, so a config works
 * from any working directory; `loadConfig` makes them absolute. A default that the
 * file does not set (state_dir "state") is relative to the process's working
 * directory. Either way every path in a loaded Config can be used as is.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigSchema, type Config } from './schema.js';
import { ConfigError, configErrorMap, formatIssues } from './errors.js';

export { ConfigError } from './errors.js';

/** The bundled default config (A-share daily backtest on the sample data), absolute. */
export const DEFAULT_CONFIG_PATH: string = fileURLToPath(new URL('../../config/default.json', import.meta.url));

/** The config file to use: the one given on the command line (relative to the cwd), else the default. */
export function resolveConfigPath(cli?: string): string {
  return cli === undefined || cli === '' ? DEFAULT_CONFIG_PATH : resolve(cli);
}

export interface ParseOptions {
  /** Resolve relative paths written in the config against this directory (absolute results). */
  baseDir?: string;
}

/**
 * Validate an already-parsed JSON value. `source` names it in messages (a file
 * path, "--config flags", ...). Throws ConfigError listing every problem.
 */
export function parseConfig(raw: unknown, source: string, options: ParseOptions = {}): Config {
  const result = ConfigSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  if (!result.success) {
    const problems = formatIssues(result.error.issues, { schema: ConfigSchema, input: raw });
    const n = problems.length;
    throw new ConfigError(`invalid config ${source}: ${n} problem${n === 1 ? '' : 's'}`, problems, source);
  }
  return options.baseDir === undefined ? result.data : resolveConfigPaths(result.data, options.baseDir, raw);
}

/** Read a config file as JSON (not yet validated), with clear messages for a missing file, non-JSON and comments. */
export async function readConfigJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`config file not found: ${path}`, [], path);
    if (code === 'EISDIR') throw new ConfigError(`config file is a directory: ${path}`, [], path);
    if (code === 'EACCES') throw new ConfigError(`config file not readable (permission denied): ${path}`, [], path);
    throw err;
  }
  return parseJsonText(text, path);
}

/** Read, parse and validate a config file. Relative paths inside it become absolute (see the header). */
export async function loadConfig(path: string): Promise<Config> {
  return parseConfig(await readConfigJson(path), path, { baseDir: dirname(resolve(path)) });
}

/**
 * Resolve the relative paths written in the config against `baseDir`. `raw` (the
 * parsed file) tells whether state_dir was written or is the default.
 */
export function resolveConfigPaths(config: Config, baseDir: string, raw: unknown): Config {
  const abs = <T extends string | undefined>(p: T): T => (p === undefined || isAbsolute(p) ? p : resolve(baseDir, p)) as T;
  const stateWritten = typeof raw === 'object' && raw !== null && 'state_dir' in raw;
  return {
    ...config,
    state_dir: stateWritten ? abs(config.state_dir) : config.state_dir,
    data_source: {
      ...config.data_source,
      bars_file: abs(config.data_source.bars_file),
      benchmark_file: abs(config.data_source.benchmark_file),
    },
    log: { ...config.log, file: abs(config.log.file) },
    models: config.models.map((m) => {
      const agent = m.agent;
      if (agent.kind === 'replay') return { ...m, agent: { ...agent, log_file: abs(agent.log_file) } };
      if (agent.kind === 'llm') return { ...m, agent: { ...agent, prompt_template: abs(agent.prompt_template) } };
      return m;
    }),
  };
}

/**
 * Input files the config names that do not exist (bars, benchmark, replay logs,
 * prompt templates), as problem lines. `config check` reports them; loading does not
 * (a backtest may get its bars from a flag).
 */
export async function missingFiles(config: Config): Promise<string[]> {
  const problems: string[] = [];
  for (const [key, file] of inputFiles(config)) {
    const found = await stat(file).then(
      (s) => (s.isFile() ? 'ok' : 'not a file'),
      () => 'missing',
    );
    if (found === 'missing') problems.push(`${key}: file not found: ${file}`);
    else if (found !== 'ok') problems.push(`${key}: not a file: ${file}`);
  }
  return problems;
}

/** The input files a config names, each with its key: bars, benchmark, replay logs, prompt templates. */
export function inputFiles(config: Config): [key: string, file: string][] {
  const wanted: [string, string | undefined][] = [
    ['data_source.bars_file', config.data_source.bars_file],
    ['data_source.benchmark_file', config.data_source.benchmark_file],
  ];
  config.models.forEach((m, i) => {
    if (m.agent.kind === 'replay') wanted.push([`models[${i}].agent.log_file`, m.agent.log_file]);
    if (m.agent.kind === 'llm') wanted.push([`models[${i}].agent.prompt_template`, m.agent.prompt_template]);
  });
  return wanted.filter((w): w is [string, string] => w[1] !== undefined);
}

// ---------------------------------------------------------------------------
// JSON text

/**
 * JSON text -> value, with a message per kind of mistake: an empty file, comments
 * (`//`, `/* *\/`, `#`), and syntax errors with line:column.
 */
export function parseJsonText(text: string, source: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') throw new ConfigError(`${source}: the file is empty; expected a JSON object`, [], source);
  const comments = findComments(body);
  if (comments.length > 0) {
    const where = comments.length === 1 ? `line ${comments[0]}` : `lines ${comments.join(', ')}`;
    throw new ConfigError(`${source}: JSON does not allow comments (${where}); remove them`, [], source);
  }
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    const loc = locateJsonError(body);
    if (loc) {
      throw new ConfigError(`${source}: not valid JSON at line ${loc.line}, column ${loc.column}: ${loc.reason}`, [], source);
    }
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
      inString = false; // a raw newline ends a (broken) string; JSON.parse reports that
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

class JsonSyntax extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * Where and why `text` is not JSON, or undefined if it is. Our own scanner, so the
 * line:column and the wording do not depend on the Node version's JSON.parse message.
 */
export function locateJsonError(text: string): { line: number; column: number; reason: string } | undefined {
  let i = 0;
  const n = text.length;
  const fail = (reason: string): never => {
    throw new JsonSyntax(i, reason);
  };
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const show = (c: string | undefined) => (c === undefined ? 'the end of the file' : JSON.stringify(c));

  const string = () => {
    i++; // opening quote
    while (i < n) {
      const c = text[i]!;
      if (c === '"') {
        i++;
        return;
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
    fail('unterminated string');
  };

  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      const m = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
      m.lastIndex = i;
      const found = m.exec(text);
      if (!found) fail('malformed number');
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

  const object = () => {
    i++;
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] !== '"') {
        if (text[i] === '}') fail('trailing comma before }');
        fail(`expected a property name in double quotes, found ${show(text[i])}`);
      }
      string();
      ws();
      if (text[i] !== ':') fail(`expected ':' after a property name, found ${show(text[i])}`);
      i++;
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      fail(`expected ',' or '}' after a property value, found ${show(text[i])}`);
    }
  };

  const array = () => {
    i++;
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] === ']') fail('trailing comma before ]');
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      fail(`expected ',' or ']' after an array item, found ${show(text[i])}`);
    }
  };

  try {
    value();
    ws();
    if (i < n) fail(`unexpected ${show(text[i])} after the end of the JSON value`);
    return undefined;
  } catch (err) {
    if (!(err instanceof JsonSyntax)) throw err;
    const before = text.slice(0, err.offset);
    const line = before.split('\n').length;
    const column = err.offset - (before.lastIndexOf('\n') + 1) + 1;
    return { line, column, reason: err.reason };
  }
}

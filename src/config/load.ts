/**
 * Reading a config file: JSON text -> validated, fully resolved Config, or a
 * ConfigError (an InputError: the CLI prints it and exits 2) that lists every problem.
 *
 * Paths: a relative path WRITTEN in a config file (data_source.bars_file,
 * data_source.benchmark_file, models[].agent.log_file, models[].agent.prompt_template, models[].agent.path,
 * log.file, calendar.closures_file, state_dir) is relative to the directory of that
 * file, so a config works from any working directory; `loadConfig` makes them
 * absolute. A default that the file does not set (state_dir "state") is relative to
 * the process's working directory. Either way every path in a loaded Config can be used as is.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigSchema, type Config } from './schema.js';
import { ConfigError, configErrorMap, formatIssues } from './errors.js';
import { parseJsonText } from './json-text.js';

export { ConfigError } from './errors.js';
export { findComments, locateJsonError, MAX_DEPTH, parseJsonText, scanJson } from './json-text.js';

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

/** Read a config file as JSON (not yet validated), with clear messages for a missing file, non-JSON, comments, depth and duplicate keys. */
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

/**
 * Read, parse and validate a config file. Relative paths inside it become absolute (see the
 * header); paths the process writes must be of the right kind (checkWrittenPaths).
 */
export async function loadConfig(path: string): Promise<Config> {
  const config = parseConfig(await readConfigJson(path), path, { baseDir: dirname(resolve(path)) });
  await checkWrittenPaths(config, path);
  return config;
}

/** Paths the process creates and writes, and what each must be if it already exists. */
const WRITTEN_PATHS: readonly { key: string; path: (c: Config) => string | undefined; kind: 'file' | 'directory' }[] = [
  { key: 'state_dir', path: (c) => c.state_dir, kind: 'directory' },
  { key: 'log.file', path: (c) => c.log.file, kind: 'file' },
];

/**
 * Refuse (ConfigError) a written path that exists as the other kind (log.file naming a
 * directory, state_dir naming a file), or under a file (its folders could not be created):
 * otherwise the first write fails deep inside a running process.
 */
export async function checkWrittenPaths(config: Config, source: string): Promise<void> {
  const problems: string[] = [];
  for (const { key, path, kind } of WRITTEN_PATHS) {
    const p = path(config);
    if (p === undefined) continue;
    const found = await existingAncestor(resolve(p));
    if (!found) continue;
    if (found.path === resolve(p)) {
      const is = found.isDirectory ? 'directory' : 'file';
      if (is !== kind) problems.push(`${key}: expected a ${kind} path, got a ${is}: ${p}`);
    } else if (!found.isDirectory) {
      problems.push(`${key}: expected a path whose folders can be created, got ${p} (${found.path} is a file)`);
    }
  }
  if (problems.length > 0) {
    const n = problems.length;
    throw new ConfigError(`invalid config ${source}: ${n} problem${n === 1 ? '' : 's'}`, problems, source);
  }
}

/** `path` itself if it exists, else its nearest existing parent folder (undefined if none could be read). */
async function existingAncestor(path: string): Promise<{ path: string; isDirectory: boolean } | undefined> {
  for (let p = path; ; p = dirname(p)) {
    const s = await stat(p).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? null : undefined));
    if (s) return { path: p, isDirectory: s.isDirectory() };
    if (s === undefined || dirname(p) === p) return undefined;
  }
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
    calendar: { ...config.calendar, closures_file: abs(config.calendar.closures_file) },
    models: config.models.map((m) => {
      const agent = m.agent;
      if (agent.kind === 'replay') return { ...m, agent: { ...agent, log_file: abs(agent.log_file) } };
      if (agent.kind === 'llm') return { ...m, agent: { ...agent, prompt_template: abs(agent.prompt_template) } };
      if (agent.kind === 'module') return { ...m, agent: { ...agent, path: abs(agent.path) } };
      return m;
    }),
  };
}

/**
 * Input files the config names that do not exist (bars, benchmark, replay logs,
 * prompt templates, strategy modules), as problem lines. `config check` reports them; loading does not
 * (a backtest may get its bars from a flag).
 */
export async function missingFiles(config: Config): Promise<string[]> {
  const problems: string[] = [];
  for (const [key, file] of inputFiles(config)) {
    const found = await stat(file).then(
      // A named pipe reads like a file (a shell's <(...) substitution is one).
      (s) => (s.isFile() || s.isFIFO() ? 'ok' : 'not a file'),
      () => 'missing',
    );
    if (found === 'missing') problems.push(`${key}: file not found: ${file}`);
    else if (found !== 'ok') problems.push(`${key}: not a file: ${file}`);
  }
  return problems;
}

/** The input files a config names, each with its key: bars, benchmark, replay logs, prompt templates, strategy modules. */
export function inputFiles(config: Config): [key: string, file: string][] {
  const wanted: [string, string | undefined][] = [
    ['data_source.bars_file', config.data_source.bars_file],
    ['data_source.benchmark_file', config.data_source.benchmark_file],
    ['calendar.closures_file', config.calendar.closures_file],
  ];
  config.models.forEach((m, i) => {
    if (m.agent.kind === 'replay') wanted.push([`models[${i}].agent.log_file`, m.agent.log_file]);
    if (m.agent.kind === 'llm') wanted.push([`models[${i}].agent.prompt_template`, m.agent.prompt_template]);
    if (m.agent.kind === 'module') wanted.push([`models[${i}].agent.path`, m.agent.path]);
  });
  return wanted.filter((w): w is [string, string] => w[1] !== undefined);
}


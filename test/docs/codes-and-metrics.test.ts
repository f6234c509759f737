/**
 * README and docs/ name the alert codes and Prometheus metrics the code has, and the code has
 * no alert or metric the docs leave out. Plus the defaults the docs state (heartbeat, ports).
 *
 * Metrics come from a real registry. Alert codes have no single table in src yet, so they are
 * read from the places that raise them: an object with `level` and `code: 'X'`, a call
 * `(level, 'X', ...)`, an order machine `alert(context, 'X', ...)`, a `*_CODE = 'X'` constant,
 * and `<heartbeat code>_RECOVERED`. A new way of raising an alert must be added here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/actors/monitor/metrics.js';
import { DEFAULT_REPLAY_PORT } from '../../src/cli/commands/replay-server.js';
import { ServerSchema } from '../../src/config/schema.js';
import { HEARTBEATS } from '../../src/domain/monitor/heartbeats.js';
import { DEFAULT_HEARTBEAT_MS } from '../../src/server/event-feed.js';
import { cli, ROOT } from '../support/cli.js';

const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const sources = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: `src/${f}`, text: read(join('src', f)) }));
const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)].map((file) => ({
  file,
  text: read(file),
}));
const README = read('README.md');
const ALERTS_MD = read('docs/alerts.md');

const CODE = "'([A-Z][A-Z0-9_]+)'";
const all = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => m[1]!);

function alertCodesInSrc(): Set<string> {
  const codes = new Set<string>();
  for (const { text } of sources) {
    for (const m of text.matchAll(/\bcode:\s*([^,}\n]+)/g)) {
      // `code:` of an alert sits beside its `level`; a risk check's or a reason's does not.
      if (/\blevel\b/.test(text.slice(Math.max(0, m.index - 200), m.index + 200))) all(m[1]!, new RegExp(CODE, 'g')).forEach((c) => codes.add(c));
    }
    all(text, new RegExp(`\\(\\s*'(?:info|warning|critical)',\\s*${CODE}`, 'g')).forEach((c) => codes.add(c));
    all(text, new RegExp(`\\balert\\(\\s*\\w+,\\s*${CODE}`, 'g')).forEach((c) => codes.add(c));
    all(text, new RegExp(`\\b[A-Z_]+_CODE = ${CODE}`, 'g')).forEach((c) => codes.add(c));
    // A code kept as a constant of its own name (`const CALENDAR_COVERAGE_ENDING = 'CALENDAR_COVERAGE_ENDING'`).
    for (const m of text.matchAll(/\bconst ([A-Z][A-Z0-9_]+) = '([A-Z][A-Z0-9_]+)'/g)) if (m[1] === m[2]) codes.add(m[2]!);
    // A table of alert codes (`PRICE_ALERT_CODES = { drop: 'PRICE_DROPPED', ... }`).
    for (const m of text.matchAll(/\b[A-Z_]+_ALERT_CODES = \{([^}]*)\}/g)) all(m[1]!, new RegExp(CODE, 'g')).forEach((c) => codes.add(c));
  }
  for (const h of HEARTBEATS) codes.add(`${h.code}_RECOVERED`);
  return codes;
}

/** The first-column codes of the README's "Every alert" table (`<code>_RECOVERED` stands for one per heartbeat). */
function readmeAlertTable(): string[] {
  const start = README.indexOf('Every alert:');
  expect(start, 'README has the "Every alert:" table').toBeGreaterThan(-1);
  const table = README.slice(start, README.indexOf('\n\n', README.indexOf('| code |', start)));
  return table
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .flatMap((l) => all(l.split('|')[1]!, /`([^`]+)`/g))
    .flatMap((c) => (c === '<code>_RECOVERED' ? HEARTBEATS.map((h) => `${h.code}_RECOVERED`) : [c]));
}

/** Every alert code the docs name: the README table, docs/alerts.md's code names, and alert examples anywhere. */
function alertCodesInDocs(): Map<string, string> {
  const named = new Map<string, string>();
  const add = (code: string, where: string) => named.has(code) || named.set(code, where);
  for (const c of readmeAlertTable()) add(c, 'README.md alert table');
  for (const c of all(ALERTS_MD, /`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)) add(c, 'docs/alerts.md');
  for (const { file, text } of docs) {
    for (const c of all(text, /"code":\s*"([A-Z][A-Z0-9_]+)"/g)) add(c, `${file} (JSON example)`);
    for (const c of all(text, /\b(?:INFO|WARNING|CRITICAL) ([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g)) add(c, `${file} (message example)`);
  }
  return named;
}

describe('alert codes: the docs and the code agree', () => {
  const src = alertCodesInSrc();

  it('the scan of src finds the alerts raised in each way', () => {
    // One from each shape the scan reads; if one goes missing the scan no longer sees that shape.
    for (const code of ['CLOCK_STALLED', 'TICK_MISSED', 'DAILY_LOSS_LIMIT', 'ORDER_OVERFILLED', 'ALERT_DIGEST', 'SESSION_CRASHED', 'QUOTE_FEED_SILENT_RECOVERED']) {
      expect(src, code).toContain(code);
    }
    // Rejection reasons are not alerts.
    expect(src).not.toContain('LOT_SIZE');
  });

  it('every alert code README or docs/ name exists in src', () => {
    const unknown = [...alertCodesInDocs()].filter(([code]) => !src.has(code)).map(([code, where]) => `${code} (${where})`);
    expect(unknown).toEqual([]);
  });

  it('every alert code src raises is documented (README alert table or docs/alerts.md)', () => {
    const documented = new Set([...readmeAlertTable(), ...all(ALERTS_MD, /`([A-Z][A-Z0-9_]+)`/g)]);
    expect([...src].filter((c) => !documented.has(c)).sort()).toEqual([]);
  });
});

describe('Prometheus metrics: the docs and the code agree', () => {
  const registered = new Metrics({ now: () => 0 }).registry
    .getMetricsAsArray()
    .map((m) => ({ name: m.name, type: String(m.type) }))
    .filter((m) => m.name.startsWith('agent_trader_'));
  const names = new Set(registered.map((m) => m.name));
  const histograms = new Set(registered.filter((m) => m.type === 'histogram').map((m) => m.name));
  /** A histogram's series (`_bucket`, `_sum`, `_count`) stand for the histogram. */
  const metricOf = (series: string) => {
    const base = series.replace(/_(bucket|sum|count)$/, '');
    return histograms.has(base) ? base : series;
  };
  const named = new Map<string, string>();
  for (const { file, text } of docs) for (const n of all(text, /\b(agent_trader_[a-z0-9_]+)/g)) named.has(metricOf(n)) || named.set(metricOf(n), file);

  it('the registry has the metrics (the check below is not vacuous)', () => {
    expect(names.size).toBeGreaterThan(20);
    expect(histograms).toContain('agent_trader_session_duration_seconds');
  });

  it('every metric README or docs/ name exists', () => {
    expect([...named].filter(([n]) => !names.has(n)).map(([n, file]) => `${n} (${file})`)).toEqual([]);
  });

  it("every agent_trader_ metric is in the README's metric table", () => {
    const table = README.slice(README.indexOf('Every metric'), README.indexOf('\n\n', README.indexOf('| metric |', README.indexOf('Every metric'))));
    const inTable = new Set(all(table, /`(agent_trader_[a-z0-9_]+)`/g).map(metricOf));
    expect([...names].filter((n) => !inTable.has(n)).sort()).toEqual([]);
  });
});

describe('defaults the docs state', () => {
  const server = ServerSchema.parse({});

  it('the feed heartbeat is 10 s in the library and in the config, as docs/feed.md says', () => {
    expect(server.heartbeat_seconds * 1000).toBe(DEFAULT_HEARTBEAT_MS);
    expect(read('docs/feed.md')).toContain(`default ${DEFAULT_HEARTBEAT_MS / 1000} s`);
    expect(read('docs/feed.md')).toContain(`"heartbeatMs": ${DEFAULT_HEARTBEAT_MS}`);
  });

  it("the replay server's default port is its own, not the run server's, and docs/quotes.md gives it", () => {
    expect(DEFAULT_REPLAY_PORT).not.toBe(server.port);
    expect(read('docs/quotes.md')).toContain(`| \`--port P\` | \`${DEFAULT_REPLAY_PORT}\` |`);
    expect(read('docs/quotes.md')).toContain(`ws://127.0.0.1:${DEFAULT_REPLAY_PORT}/`);
  });

  it('the replay server listens on 8766 and the run server on 8765, in the code, the CLI, docs/quotes.md and the README', () => {
    expect([DEFAULT_REPLAY_PORT, server.port]).toEqual([8766, 8765]);
    expect(cli(['replay-server', '--help']).stdout.replace(/\s+/g, ' ')).toMatch(new RegExp(`--port <port> [^-]*\\(default: "${DEFAULT_REPLAY_PORT}"\\)`));
    expect(README).toContain(`| \`replay-server --bars FILE [--date D] [--speed N] [--port P (default ${DEFAULT_REPLAY_PORT})]`);
    expect(README).toContain(`| \`port\` | integer 0-65535 | \`${server.port}\` |`);
    expect(README).toContain(`(default \`127.0.0.1:${server.port}\`)`);
    expect(README).toContain(`ws://127.0.0.1:${DEFAULT_REPLAY_PORT}/v2/replay`);
    expect(JSON.parse(read('config/default.json')).server.port).toBe(server.port);
    // No page points a replay client at the run server's port.
    for (const { file, text } of docs) expect(text, file).not.toMatch(new RegExp(`:${server.port}/v2/replay`));
  });
});

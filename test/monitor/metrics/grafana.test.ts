/**
 * The sample Grafana dashboard (docs/grafana-dashboard.json) only queries metrics a
 * real `Metrics` registry defines (ours and the process metrics it collects), with
 * label names those metrics have, through the `${DS_PROMETHEUS}` input.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/actors/monitor/metrics.js';

const DASHBOARD = JSON.parse(readFileSync(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** Every value under `key` anywhere in the JSON. */
function collect(node: unknown, key: string, into: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const n of node) collect(n, key, into);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === key) into.push(v);
      collect(v, key, into);
    }
  }
  return into;
}

const PROMQL_WORDS = new Set([
  'sum', 'avg', 'min', 'max', 'count', 'by', 'without', 'rate', 'increase', 'irate', 'histogram_quantile',
  'label_values', 'and', 'or', 'unless', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool',
]);

/** Metric names (identifiers not followed by `=`-style matchers or `(`), label names, from one PromQL text. */
function parse(expr: string): { metrics: string[]; labels: string[] } {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\[[^\]]*\]/g, ''); // range durations
  const labels = [
    ...[...text.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim()).filter(Boolean)),
    ...[...text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*""/g)].map((m) => m[1]!),
  ];
  const labelValuesArg = [...text.matchAll(/label_values\([^,]+,\s*([a-zA-Z_][a-zA-Z0-9_]*)\)/g)].map((m) => m[1]!);
  const identifiers = [...text.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]);
  const metrics = identifiers.filter((id) => !PROMQL_WORDS.has(id) && !labels.includes(id) && !labelValuesArg.includes(id) && !/^__/.test(id));
  return { metrics, labels: [...labels, ...labelValuesArg] };
}

describe('docs/grafana-dashboard.json', () => {
  const metrics = new Metrics({ now: () => 0 });
  const defined = new Map<string, readonly string[]>();
  for (const m of metrics.registry.getMetricsAsArray()) {
    const { name, labelNames } = m as unknown as { name: string; labelNames: readonly string[] };
    const isHistogram = (m as unknown as { constructor: { name: string } }).constructor.name === 'Histogram';
    defined.set(name, labelNames);
    if (isHistogram) for (const suffix of ['_bucket', '_sum', '_count']) defined.set(`${name}${suffix}`, suffix === '_bucket' ? [...labelNames, 'le'] : labelNames);
  }
  const exprs = [...collect(DASHBOARD['panels'], 'expr'), ...collect(DASHBOARD['templating'], 'query').filter((q): q is string => typeof q === 'string')] as string[];

  it('is an importable dashboard with a DS_PROMETHEUS input and schemaVersion 39', () => {
    expect(DASHBOARD['schemaVersion']).toBe(39);
    expect(DASHBOARD['__inputs']).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    const datasources = collect(DASHBOARD, 'datasource').filter((d) => (d as { type?: string }).type === 'prometheus');
    expect(datasources.length).toBeGreaterThan(10);
    for (const d of datasources) expect(d).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
    const ids = collect(DASHBOARD['panels'], 'id');
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('has the panels the monitoring doc promises', () => {
    const titles = collect(DASHBOARD['panels'], 'title') as string[];
    for (const t of ['Equity per signature', 'Cash per signature', 'Sessions by result', 'Session duration p50 / p95', 'LLM latency p95 by model', 'LLM tokens/s by model', 'Orders by status', 'Risk rejections by reason', 'Fills', 'Quote lag', 'Feed clients', 'CPU', 'Memory']) {
      expect(titles).toContain(t);
    }
  });

  it('queries only metrics the registry defines, with labels those metrics have', () => {
    expect(exprs.length).toBeGreaterThan(20);
    const unknown: string[] = [];
    const badLabels: string[] = [];
    for (const expr of exprs) {
      const { metrics: names, labels } = parse(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) {
        const known = defined.get(name);
        if (!known) unknown.push(name);
        else for (const l of labels) if (!known.includes(l) && !names.some((n) => defined.get(n)?.includes(l))) badLabels.push(`${name}: ${l}`);
      }
    }
    expect(unknown).toEqual([]);
    expect(badLabels).toEqual([]);
  });

  it('catches a misspelt metric (the check itself works)', () => {
    expect(parse('sum by (status) (increase(agent_trader_order_total{signature=~"$signature"}[5m]))')).toEqual({ metrics: ['agent_trader_order_total'], labels: ['status', 'signature'] });
    expect(defined.has('agent_trader_order_total')).toBe(false);
  });
});

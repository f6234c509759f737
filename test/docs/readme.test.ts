/** The README is part of the product: its config reference must name every key the schema accepts. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { knownKeysAt } from '../../src/config/errors.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { ROOT } from '../support/cli.js';

const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
const reference = readme.slice(readme.indexOf('## Config'), readme.indexOf('## Architecture'));

const sample = {
  models: [
    { agent: { kind: 'llm' } },
    { agent: { kind: 'rules', params: {} } },
    { agent: { kind: 'replay' } },
  ],
  broker: { fees: { cn: {}, us: {} }, alpaca: {}, futu: {}, bridge: {}, eastmoney: {} },
  risk_control: { live_ramp: {} },
  date_range: {},
  data_source: { source_urls: {} },
  alerts: { channels: [{ type: 'wecom' }, { type: 'dingtalk' }, { type: 'feishu' }, { type: 'email' }, { type: 'webhook' }, { type: 'telegram' }] },
};

const sections: { path: (string | number)[]; prefix: string }[] = [
  { path: [], prefix: '' },
  ...['schedule', 'data_source', 'broker', 'risk_control', 'execution', 'agent_config', 'log', 'date_range', 'server', 'monitor', 'alerts', 'calendar'].map(
    (s) => ({ path: [s], prefix: '' }),
  ),
  { path: ['broker', 'fees', 'cn'], prefix: 'fees.cn.' },
  { path: ['broker', 'fees', 'us'], prefix: 'fees.us.' },
  { path: ['broker', 'alpaca'], prefix: 'alpaca.' },
  { path: ['broker', 'futu'], prefix: 'futu.' },
  { path: ['broker', 'bridge'], prefix: 'bridge.' },
  { path: ['broker', 'eastmoney'], prefix: 'eastmoney.' },
  { path: ['risk_control', 'live_ramp'], prefix: 'live_ramp.' },
  { path: ['models', 0], prefix: '' },
  { path: ['models', 0, 'agent'], prefix: '' },
  { path: ['models', 1, 'agent'], prefix: '' },
  { path: ['models', 1, 'agent', 'params'], prefix: 'params.' },
  { path: ['models', 2, 'agent'], prefix: '' },
  { path: ['models', 0, 'agent', 'search'], prefix: 'search.' },
  { path: ['data_source', 'source_urls'], prefix: 'source_urls.' },
  { path: ['alerts', 'rate_limit'], prefix: 'rate_limit.' },
  { path: ['alerts', 'retries'], prefix: 'retries.' },
  ...[0, 1, 2, 3, 4, 5].map((i) => ({ path: ['alerts', 'channels', i], prefix: '' })),
];

describe('README config reference', () => {
  it.each(sections)('documents every key at $path', ({ path, prefix }) => {
    const keys = knownKeysAt(ConfigSchema, path, sample);
    expect(keys, `schema keys at ${path.join('.')}`).toBeDefined();
    // A key is documented by its own row, or by rows of its sub-keys (`fees.cn.commission_rate`).
    const documented = (k: string) => reference.includes(`\`${prefix}${k}\``) || reference.includes(`\`${prefix}${k}.`);
    const missing = keys!.filter((k) => k !== 'kind' && !documented(k));
    expect(missing).toEqual([]);
  });

  it('gives the two commands a new user types', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
  });
});

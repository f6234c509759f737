/** Preflight against the real machine: real files, a real occupied port, a real local HTTP server as the broker. */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { preflight } from '../../src/config/preflight.js';
import { ROOT } from '../support/cli.js';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A listening TCP server (the port is taken while it runs). */
async function occupied(): Promise<number> {
  const s = createServer();
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
  closers.push(() => new Promise((done) => s.close(() => done())));
  return (s.address() as AddressInfo).port;
}

/** A port nothing listens on: taken, then released. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((done) => s.close(() => done()));
  return port;
}

let broker: Server;
let brokerUrl: string;
beforeAll(async () => {
  // A broker that wants credentials: any answer means it is reachable.
  broker = createHttpServer((_req, res) => res.writeHead(401).end('{"message":"unauthorized"}'));
  await new Promise<void>((done) => broker.listen(0, '127.0.0.1', done));
  closers.push(() => new Promise((done) => broker.close(() => done())));
  brokerUrl = `http://127.0.0.1:${(broker.address() as AddressInfo).port}/v2`;
});

const sample = (f: string) => join(ROOT, 'data/sample', f);
const rules = { name: 'EW', signature: 'ew', agent: { kind: 'rules' } };
const llm = (signature: string, keyEnv: string, enabled = true) => ({
  name: signature,
  signature,
  enabled,
  agent: { kind: 'llm', basemodel: 'm', base_url: 'http://127.0.0.1:9/v1', api_key_env: keyEnv },
});
const config = (raw: Record<string, unknown>) => parseConfig({ models: [rules], ...raw }, 'test', { baseDir: ROOT });

describe('preflight', () => {
  it('passes a config this machine can run', async () => {
    const c = config({ mode: 'paper', market: 'us', frequency: 'hourly', data_source: { type: 'replay', bars_file: sample('us_hourly.jsonl'), benchmark_file: sample('QQQ_60min.json') }, server: { port: await closedPort() } });
    expect(await preflight(c, { env: {} })).toEqual([]);
  });

  it('lists every problem at once: variables, files of the wrong market and interval, the port, the broker', async () => {
    const port = await occupied();
    const down = `http://127.0.0.1:${await closedPort()}/v2`;
    const c = config({
      mode: 'paper',
      market: 'us',
      frequency: 'hourly',
      data_source: { type: 'alpaca', key_env: 'PF_KEY', secret_env: 'PF_SECRET', bars_file: sample('cn_daily.jsonl'), benchmark_file: sample('sse50_index_daily.json') },
      broker: { type: 'alpaca', api_key_env: 'PF_KEY', api_secret_env: 'PF_SECRET', base_url: down },
      server: { port },
      models: [rules, llm('gpt', 'PF_LLM_KEY'), llm('off', 'PF_UNUSED', false), { name: 'R', signature: 'r', agent: { kind: 'replay', log_file: join(ROOT, 'nope.jsonl') } }],
    });
    const problems = await preflight(c, { env: { PF_KEY: 'k', PF_SECRET: '  ' } });
    expect(problems).toEqual([
      'data_source.secret_env: environment variable PF_SECRET is empty',
      'broker.api_secret_env: environment variable PF_SECRET is empty',
      'models[1].agent.api_key_env: environment variable PF_LLM_KEY is not set',
      `models[3].agent.log_file: file not found: ${join(ROOT, 'nope.jsonl')}`,
      'data_source.bars_file: market "us", but data/sample/cn_daily.jsonl holds cn (A-share) bars (600519.SH, 601318.SH, 600036.SH, ...)',
      'data_source.bars_file: frequency "hourly", but data/sample/cn_daily.jsonl holds daily bars ("Time Series (Daily)") (600519.SH, 601318.SH, 600036.SH, ...)',
      'data_source.benchmark_file: market "us", but data/sample/sse50_index_daily.json holds cn (A-share) bars (000016.SH)',
      `server.port: 127.0.0.1:${port} is in use (another agent-trader process?); stop it, or set server.port (0 = any free port)`,
      `broker.base_url: cannot reach ${down}: connection refused`,
    ]);
    // The values of variables are never shown, nor is the unused one named.
    expect(problems.join('\n')).not.toContain('PF_UNUSED');
  });

  it('a reachable broker passes whatever it answers; a live broker without an adapter is refused; live Alpaca asks for the account', async () => {
    const paper = config({ mode: 'paper', market: 'us', frequency: 'hourly', data_source: { type: 'replay', bars_file: sample('us_hourly.jsonl') }, broker: { type: 'alpaca', api_key_env: 'K', api_secret_env: 'S', base_url: brokerUrl }, server: { port: 0 } });
    expect(await preflight(paper, { env: { K: 'k', S: 's' } })).toEqual([]);
    const futu = config({ ...paper, mode: 'live', broker: { type: 'futu', base_url: brokerUrl } });
    expect(await preflight(futu, { env: {} })).toEqual(['broker.futu is required for type futu (at least trd_market: HK, US, CN or HKCC)']);
    // Futu OpenD not running there: connecting is tried through the adapter the run uses, and fails with a reason.
    const closed = await closedPort();
    const noOpenD = config({ ...paper, mode: 'live', broker: { type: 'futu', futu: { websocket_port: closed, trd_market: 'US' } } });
    const problems = await preflight(noOpenD, { env: {}, timeoutMs: 500 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^broker: Futu OpenD did not answer the account: /);
    // This broker answers 401 to everything: live on Alpaca is more than an answer (test/config/live-gate.test.ts).
    const live = config({ ...paper, mode: 'live' });
    expect(await preflight(live, { env: { K: 'k', S: 's' } })).toEqual([
      `broker.api_key_env: Alpaca refused the keys in K and S at ${brokerUrl}/v2/account (401); they must be the paper account's keys`,
    ]);
  });

  it('a backtest: its date range inside the bars; no quote source, broker or server checked', async () => {
    const port = await occupied();
    const c = config({
      mode: 'backtest',
      market: 'cn',
      date_range: { from: '2025-10-01', to: '2025-11-19' },
      data_source: { type: 'tushare', token_env: 'PF_TUSHARE', bars_file: sample('cn_daily.jsonl') },
      server: { port },
    });
    expect(await preflight(c, { env: {} })).toEqual([
      'data_source.bars_file: date_range.from 2025-10-01 is before the first bar of data/sample/cn_daily.jsonl (2025-10-09); the bars cover 2025-10-09..2025-11-19',
    ]);
  });
});

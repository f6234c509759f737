/**
 * `run` in paper mode as a real process on quote sources other than the built-in replay: an
 * A-share run whose HTTP source refuses every connection (no network). The process runs on
 * the wall clock; the tests wait for its output, its HTTP answers and its exit, never for a
 * length of time.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReportSchema } from '../../src/report/types.js';
import { ROOT, spawnCli } from '../support/cli.js';
import { HttpTestServer } from '../streams/cn-quotes/helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function writeConfig(config: Record<string, unknown>): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-run-sources-'));
  dirs.push(dir);
  const file = join(dir, 'paper.json');
  await writeFile(file, JSON.stringify({ server: { port: 0 }, state_dir: join(dir, 'state'), ...config }));
  return { dir, file };
}

describe('run: A-share paper with no network', () => {
  it('starts instead of dying, says quotes are missing on /health and the dashboard state, and stops on SIGTERM with its report', async () => {
    const probe = await HttpTestServer.start();
    const refused = probe.url;
    await probe.close(); // nothing listens there now: every connection is refused
    const { dir, file } = await writeConfig({
      mode: 'paper',
      market: 'cn',
      frequency: 'hourly',
      data_source: { type: 'sina', fallback: ['tencent'], symbols: ['600519.SH'], bars_file: join(ROOT, 'data/sample/cn_hourly.jsonl'), source_urls: { sina: refused, tencent: refused } },
      models: [{ name: 'EW', signature: 'ew', agent: { kind: 'rules', strategy: 'equal_weight' } }],
      monitor: { check_interval_seconds: 1 },
    });
    const p = spawnCli(['run', '--config', file]);
    try {
      await p.until(/^quotes missing: no quote source answered the first poll: .*ECONNREFUSED.*; polling goes on with back-off \(next poll \S+\)$/m);
      const [, url] = await p.until(/ {2}health {5}(http:\/\/\S+)\/health/);
      await p.until(/^alert warning QUOTE_SOURCE_DOWN: quotes are missing: failover:sina has not answered for \d+ s/m);
      const health = await fetch(`${url}/health`);
      const body = (await health.json()) as { status: string; clock: Record<string, unknown>; quotes: Record<string, unknown> };
      expect(health.status).toBe(503);
      expect(body).toMatchObject({ status: 'degraded', clock: { running: true, nextSessionAt: expect.any(String) }, quotes: { missing: true, connected: false, lastError: expect.stringContaining('ECONNREFUSED'), nextPollAt: expect.any(String) } });
      const state = (await (await fetch(`${url}/api/state`)).json()) as Record<string, unknown>;
      expect(state).toMatchObject({ quotes: { source: 'failover:sina', missing: true }, nextSessionAt: body.clock['nextSessionAt'] });
    } finally {
      p.child.kill('SIGTERM');
    }
    expect(await p.exit, p.err()).toBe(0);
    expect(p.err()).not.toMatch(/\n\s+at /); // no stack trace
    expect(p.out()).toContain('stopping: SIGTERM');
    ReportSchema.parse(JSON.parse(await readFile(join(dir, 'state', 'report.json'), 'utf8')));
  });
});

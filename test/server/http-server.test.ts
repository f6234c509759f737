import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../src/server/http-server.js';
import { assessHealth, type HealthReport } from '../../src/domain/health.js';
import { EpochVirtualScheduler } from '../../src/streams/virtual-time.js';
import { EPOCH, FeedClient, TOKEN, closeAll, okHealth, sampleState, startHarness } from './helpers.js';

afterEach(closeAll);

const getJson = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
};

describe('assessHealth (pure)', () => {
  const base = okHealth();
  const cases: [string, HealthReport, string, number, string[]][] = [
    ['all good', base, 'ok', 200, []],
    ['still starting', { ...base, starting: true, clock: { running: false } }, 'starting', 503, ['starting: restoring state and reconciling', 'clock is not running']],
    ['clock stopped', { ...base, clock: { running: false } }, 'degraded', 503, ['clock is not running']],
    ['broker down', { ...base, broker: { connected: false } }, 'degraded', 503, ['broker is not connected']],
    ['quotes stale', { ...base, quotes: { fresh: false, source: 'sina' } }, 'degraded', 503, ['quotes are stale (source sina)']],
    ['a session failed', { ...base, sessions: { alpha: { status: 'failed' }, beta: { status: 'completed' } } }, 'degraded', 503, ['last session of alpha failed']],
    ['kill switch on is not a fault', { ...base, killSwitch: { active: true, signatures: 'all', reason: 'manual' } }, 'ok', 200, []],
  ];
  it.each(cases)('%s', (_name, report, status, httpStatus, problems) => {
    expect(assessHealth(report)).toEqual({ status, httpStatus, problems });
  });
});

describe('HTTP server', () => {
  it('GET /health answers 200 with the report and its status when ready', async () => {
    const h = await startHarness();
    const { status, headers, body } = await getJson(`${h.server.url}/health`);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(body).toEqual({ ...okHealth(), status: 'ok', problems: [] });
  });

  it('GET /health answers 503 when not ready, and when the report itself fails (without its message)', async () => {
    let report: () => HealthReport = () => ({ ...okHealth(), broker: { connected: false } });
    const errors: string[] = [];
    const h = await startHarness({ health: () => report(), onError: (_e, where) => errors.push(where) });
    const degraded = await getJson(`${h.server.url}/health`);
    expect(degraded.status).toBe(503);
    expect(degraded.body).toMatchObject({ status: 'degraded', problems: ['broker is not connected'], broker: { connected: false } });

    report = () => {
      throw new Error(`cannot reach broker with ${TOKEN}`);
    };
    const failed = await getJson(`${h.server.url}/health`);
    expect(failed).toMatchObject({ status: 503, body: { status: 'degraded', problems: ['health report unavailable'] } });
    expect(JSON.stringify(failed.body)).not.toContain(TOKEN);
    expect(errors).toEqual(['health']);
  });

  it('GET /health is open to everyone, even with trustLoopback off', async () => {
    const h = await startHarness({ token: TOKEN, trustLoopback: false });
    expect((await fetch(`${h.server.url}/health`)).status).toBe(200);
  });

  it('GET /api/state answers the dashboard state (async state functions too), with the server\'s wall clock and feed clients', async () => {
    const queries: string[] = [];
    const h = await startHarness({ state: async (q) => (queries.push(q.toString()), sampleState()) });
    const { status, body } = await getJson(`${h.server.url}/api/state?run=r1`);
    expect(status).toBe(200);
    expect(body).toEqual({ ...sampleState(), server: { wallTime: new Date(EPOCH).toISOString(), feedClients: 0 } });
    expect(queries).toEqual(['run=r1']);
    const c = await FeedClient.connect(h.feedUrl);
    await c.next();
    expect((await getJson(`${h.server.url}/api/state`)).body).toMatchObject({ server: { feedClients: 1 } });
  });

  it('GET /api/state answers 500 without detail when the state does not validate', async () => {
    const errors: string[] = [];
    const h = await startHarness({ state: () => ({ ...sampleState(), accounts: [{ signature: 'x' }] }) as never, onError: (_e, where) => errors.push(where) });
    expect(await getJson(`${h.server.url}/api/state`)).toMatchObject({ status: 500, body: { error: 'state unavailable' } });
    expect(errors).toEqual(['state']);
  });

  it('/api/* needs the token when loopback is not trusted: 401 without, 200 with bearer or ?token=', async () => {
    const h = await startHarness({ token: TOKEN, trustLoopback: false });
    const refused = await getJson(`${h.server.url}/api/state`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect((await fetch(`${h.server.url}/api/state`, { headers: { Authorization: 'Bearer nope-nope-nope' } })).status).toBe(401);
    expect((await fetch(`${h.server.url}/api/state`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${h.server.url}/api/state?token=${TOKEN}`)).status).toBe(200);
  });

  it('/api/* refuses a tokenless loopback request naming a foreign host (DNS rebinding)', async () => {
    const h = await startHarness();
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${h.server.url}/api/state`, { headers: { Host: 'attacker.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it('unknown paths are a 404 in JSON; other methods on built-in routes a 405', async () => {
    const h = await startHarness();
    expect(await getJson(`${h.server.url}/nope`)).toMatchObject({ status: 404, body: { error: 'not found', path: '/nope' } });
    const post = await fetch(`${h.server.url}/health`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('extraRoutes takes the paths it wants, and is told whether the caller passed the /api rule', async () => {
    const seen: boolean[] = [];
    const h = await startHarness({
      token: TOKEN,
      trustLoopback: false,
      extraRoutes: (req, res, ctx) => {
        if (req.url !== '/metrics') return false;
        seen.push(ctx.authorized);
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('up 1\n');
        return true;
      },
    });
    const metrics = await fetch(`${h.server.url}/metrics`);
    expect(await metrics.text()).toBe('up 1\n');
    await fetch(`${h.server.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } }).then((r) => r.text());
    expect(seen).toEqual([false, true]);
    expect((await fetch(`${h.server.url}/other`)).status).toBe(404);
  });

  it('GET / serves the dashboard with a CSP that pins its inline script and style', async () => {
    const h = await startHarness();
    const res = await fetch(`${h.server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).toContain('<title>agent-trader</title>');
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('close() disconnects feed clients and stops listening; a second close is a no-op', async () => {
    const h = await startHarness();
    const c = await FeedClient.connect(h.feedUrl);
    await c.next();
    await h.server.close();
    await h.server.close();
    await c.closed;
    await expect(fetch(`${h.server.url}/health`)).rejects.toThrow();
  });
});

describe('startHttpServer on a port in use', () => {
  it('says which setting to change, and leaves no timer behind', async () => {
    const blocker = createNetServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    const scheduler = new EpochVirtualScheduler(0);
    try {
      await expect(
        startHttpServer({ port, events: new Subject(), scheduler, heartbeatMs: 1000, health: okHealth, state: sampleState }),
      ).rejects.toThrow(`server.port: 127.0.0.1:${port} is in use by another process; pick another port (0 = any free one)`);
      expect(scheduler.actions).toHaveLength(0);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});

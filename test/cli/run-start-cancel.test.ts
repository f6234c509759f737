/**
 * SIGTERM while `run` (paper) is still starting cancels the start: what was opened is closed,
 * the process exits 0 and the state dir opens again. Real processes; each moment of start-up
 * is held by a real peer the test controls (a quote server that never answers, a prompt
 * template behind a FIFO), so the signal lands where it should without waiting on time.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/actors/store/store.js';
import { ROOT, spawnCli } from '../support/cli.js';

const dirs: string[] = [];
const servers: { server: Server; sockets: Set<Socket> }[] = [];
afterEach(async () => {
  for (const { server, sockets } of servers.splice(0)) {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-start-cancel-'));
  dirs.push(dir);
  return dir;
}


describe('run: SIGTERM during start-up', () => {
  it('while waiting for a quote source that never answers: the wait ends, exit 0, the state dir opens', async () => {
    // A Sina quote endpoint that takes every request and never answers it.
    const sockets = new Set<Socket>();
    let asked!: () => void;
    const firstRequest = new Promise<void>((r) => (asked = r));
    const server = createServer(() => asked());
    server.on('connection', (s) => sockets.add(s));
    servers.push({ server, sockets });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/list=`;

    const dir = await tempDir();
    const file = join(dir, 'paper.json');
    await writeFile(
      file,
      JSON.stringify({
        mode: 'paper',
        market: 'cn',
        data_source: { type: 'sina', symbols: ['600519.SH'], source_urls: { sina: url }, request_timeout_seconds: 600 },
        models: [{ name: 'EW', signature: 'ew', agent: { kind: 'rules' } }],
        server: { port: 0 },
        state_dir: join(dir, 'state'),
      }),
    );
    const p = spawnCli(['run', '--config', file]);
    await firstRequest; // the process is inside the quote source's start
    p.child.kill('SIGTERM');
    expect(await p.exited, p.err()).toEqual({ code: 0, signal: null });
    expect(p.err()).toBe('');
    expect(p.out()).toBe('stopping: SIGTERM during start-up\nstart cancelled: everything opened so far is closed\n');
    const store = await openStore(join(dir, 'state', 'state'));
    await store.close();
  });

  it('while the store is open (reading the prompt template): the start completes its step, then everything is closed', async () => {
    const dir = await tempDir();
    const fifo = join(dir, 'prompt.md');
    execFileSync('mkfifo', [fifo]);
    const file = join(dir, 'paper.json');
    await writeFile(
      file,
      JSON.stringify({
        mode: 'paper',
        market: 'us',
        frequency: 'hourly',
        data_source: { type: 'replay', bars_file: join(ROOT, 'data/sample/us_hourly.jsonl'), replay_speed: 1 },
        models: [{ name: 'L', signature: 'llm', agent: { kind: 'llm', basemodel: 'm', base_url: 'http://127.0.0.1:9/v1', prompt_template: fifo } }],
        server: { port: 0 },
        state_dir: join(dir, 'state'),
      }),
    );
    const p = spawnCli(['run', '--config', file]);
    // Opening a FIFO for writing returns once the process opens it to read: its store is open by then.
    const writer = await open(fifo, 'w');
    p.child.kill('SIGTERM');
    await p.until(/^stopping: SIGTERM during start-up$/m);
    await writer.writeFile(await readFile(join(ROOT, 'prompts/us.md'), 'utf8'));
    await writer.close();
    expect(await p.exited, p.err()).toEqual({ code: 0, signal: null });
    expect(p.err()).toBe('');
    expect(p.out()).toBe('stopping: SIGTERM during start-up\nstart cancelled: everything opened so far is closed\n');
    const [run] = await readdir(join(dir, 'state', 'runs'));
    const store = await openStore(join(dir, 'state', 'runs', run!, 'state')); // the lock was released
    await store.close();
  });
});

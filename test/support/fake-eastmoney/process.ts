/**
 * Start the fake EastMoney (server.ts) in a child process and talk to it: its base URL and the
 * session (cookie, validatekey) for the code under test, the control API for the test. `stop()`
 * ends the child it started, by its pid; `restart()` starts a new one on the same port with the
 * state the old one wrote.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ExpiredAs, Fault, FakeEastMoneyState, RequestRecord } from './server.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface FakeEastMoneyProcessOptions {
  readonly cookie?: string;
  readonly validatekey?: string;
  readonly cash?: string;
  readonly startMs?: number;
}

export type FakeState = FakeEastMoneyState & { readonly faults: readonly unknown[] };

export class FakeEastMoneyProcess {
  readonly cookie: string;
  readonly validatekey: string;
  readonly #options: FakeEastMoneyProcessOptions;
  readonly #dir: string;
  #child: ChildProcess;
  #port: number;

  private constructor(child: ChildProcess, port: number, options: FakeEastMoneyProcessOptions, dir: string) {
    this.#child = child;
    this.#port = port;
    this.#options = options;
    this.#dir = dir;
    this.cookie = options.cookie!;
    this.validatekey = options.validatekey!;
  }

  static async start(options: FakeEastMoneyProcessOptions = {}): Promise<FakeEastMoneyProcess> {
    const full = { cookie: 'Uid=fAkEuId0001xyz; Khmc=test; Uuid=52c74f76dfa84ff68296d0696de5f57f; mobileimei=5dfd1623-04dd', validatekey: 'c1bb5b40-d40c-4c6d-a634-ae549b5a8580', ...options };
    const dir = mkdtempSync(join(tmpdir(), 'fake-eastmoney-'));
    const { child, port } = await spawnFake(full, dir, 0);
    return new FakeEastMoneyProcess(child, port, full, dir);
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  async #call<T = unknown>(method: string, what: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}/__control/${what}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`fake control ${method} ${what}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  /** A fresh account and session (the process's own cookie and validatekey), every fault gone. */
  reset(options: { cash?: string; startMs?: number } = {}): Promise<unknown> {
    return this.#call('POST', 'reset', { cookie: this.cookie, validatekey: this.validatekey, ...(options.cash !== undefined ? { cash: options.cash } : {}), ...(options.startMs !== undefined ? { start_ms: options.startMs } : {}) });
  }

  state(): Promise<FakeState> {
    return this.#call<FakeState>('GET', 'state');
  }

  /** The requests the routes received (not the control API's). */
  async requests(path?: string): Promise<RequestRecord[]> {
    const all = (await this.state()).requests;
    return path === undefined ? all : all.filter((r) => r.path === path);
  }

  price(symbol: string, price?: string, prevClose?: string): Promise<unknown> {
    return this.#call('POST', 'price', { symbol, ...(price !== undefined ? { price } : {}), ...(prevClose !== undefined ? { prev_close: prevClose } : {}) });
  }

  clock(atMs: number): Promise<unknown> {
    return this.#call('POST', 'clock', { at_ms: atMs });
  }

  mode(mode: { fill?: 'auto' | 'manual'; revoke?: 'immediate' | 'pending'; market_hours?: boolean }): Promise<unknown> {
    return this.#call('POST', 'mode', mode);
  }

  fill(wtbh: string, qty?: number, price?: string): Promise<Record<string, string>> {
    return this.#call('POST', 'fill', { wtbh, ...(qty !== undefined ? { qty } : {}), ...(price !== undefined ? { price } : {}) });
  }

  exchangeCancel(wtbh: string): Promise<Record<string, string>> {
    return this.#call('POST', 'exchange-cancel', { wtbh });
  }

  reject(wtbh: string): Promise<Record<string, string>> {
    return this.#call('POST', 'reject', { wtbh });
  }

  /** The next `count` requests to `path` (`*`: any route) get `fault`. */
  fault(path: string, fault: Fault, count = 1): Promise<unknown> {
    return this.#call('POST', 'faults', { path, count, fault });
  }

  clearFaults(): Promise<unknown> {
    return this.#call('DELETE', 'faults');
  }

  expire(how: ExpiredAs = 'redirect'): Promise<unknown> {
    return this.#call('POST', 'expire', { how });
  }

  session(cookie: string, validatekey: string): Promise<unknown> {
    return this.#call('POST', 'session', { cookie, validatekey });
  }

  externalOrder(order: { symbol: string; side: 'buy' | 'sell'; qty: number; price: string }): Promise<Record<string, string>> {
    return this.#call('POST', 'external-order', order);
  }

  position(symbol: string, qty: number, options: { sellable?: number; cost?: string } = {}): Promise<unknown> {
    return this.#call('POST', 'position', { symbol, qty, ...options });
  }

  cash(cash: string): Promise<unknown> {
    return this.#call('POST', 'cash', { cash });
  }

  /** Follow a replay server (ws://): its trades set the prices, its clock the fake's. */
  follow(url: string): Promise<unknown> {
    return this.#call('POST', 'follow', { url });
  }

  drop(): Promise<unknown> {
    return this.#call('POST', 'drop');
  }

  /** End the child (SIGTERM; it writes its state) and wait for it; the port is then closed. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  /** Start again after `stop()`, on the same port, from the state the old process wrote. */
  async start(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) throw new Error('the fake EastMoney is still running');
    const { child, port } = await spawnFake(this.#options, this.#dir, this.#port);
    this.#child = child;
    this.#port = port;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stop and remove the state directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

async function spawnFake(options: FakeEastMoneyProcessOptions, dir: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      FAKE_EASTMONEY_COOKIE: options.cookie,
      FAKE_EASTMONEY_VALIDATEKEY: options.validatekey,
      FAKE_EASTMONEY_STATE_FILE: join(dir, 'state.json'),
      FAKE_EASTMONEY_PORT: String(port),
      ...(options.cash ? { FAKE_EASTMONEY_CASH: options.cash } : {}),
      ...(options.startMs !== undefined ? { FAKE_EASTMONEY_START_MS: String(options.startMs) } : {}),
    },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const listening = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      lines.close();
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`the fake EastMoney exited (${String(code)}) before listening: ${err}`)));
  });
  return { child, port: listening };
}

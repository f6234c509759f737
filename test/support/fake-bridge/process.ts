/**
 * Start the fake terminal bridge (server.ts) in a child process and talk to it: its URL for the
 * code under test, and the control API for the test (prices, fills, cancels, faults, the clock).
 * `stop()` ends the child it started, by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Columns, Fault, RequestRecord } from './server.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface FakeBridgeProcessOptions {
  readonly client?: string;
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
  readonly cash?: string;
  readonly startMs?: number;
  readonly columns?: Columns;
}

/** What GET /__control/state answers. */
export interface FakeBridgeState {
  readonly now_ms: number;
  readonly prepared: boolean;
  readonly cash: string;
  readonly available: string;
  readonly holdings: Record<string, { qty: number; sellable: number }>;
  readonly entrusts: readonly { entrust_no: string; code: string; side: 'buy' | 'sell'; qty: number; price: string; filled: number; state: string }[];
  readonly trades: number;
  readonly requests: readonly RequestRecord[];
  readonly held: number;
}

export class FakeBridgeProcess {
  readonly url: string;
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(options: FakeBridgeProcessOptions = {}): Promise<FakeBridgeProcess> {
    const set = (name: string, value: string | number | undefined) => (value !== undefined ? { [name]: String(value) } : {});
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...set('FAKE_BRIDGE_CLIENT', options.client),
        ...set('FAKE_BRIDGE_USER', options.user),
        ...set('FAKE_BRIDGE_PASSWORD', options.password),
        ...set('FAKE_BRIDGE_TOKEN', options.token),
        ...set('FAKE_BRIDGE_CASH', options.cash),
        ...set('FAKE_BRIDGE_START_MS', options.startMs),
        ...set('FAKE_BRIDGE_COLUMNS', options.columns),
      },
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        lines.close();
        resolve((JSON.parse(line) as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`the fake bridge exited (${String(code)}) before listening: ${err}`)));
    });
    return new FakeBridgeProcess(child, port);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  async #call<T = unknown>(method: string, what: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/__control/${what}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`fake bridge control ${method} ${what}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  state(): Promise<FakeBridgeState> {
    return this.#call<FakeBridgeState>('GET', 'state');
  }

  price(symbol: string, price: string | undefined, prevClose?: string): Promise<unknown> {
    return this.#call('POST', 'price', { symbol, ...(price !== undefined ? { price } : {}), ...(prevClose !== undefined ? { prev_close: prevClose } : {}) });
  }

  clock(atMs: number): Promise<unknown> {
    return this.#call('POST', 'clock', { at_ms: atMs });
  }

  mode(mode: { fill?: 'manual' | 'auto'; cancel?: 'immediate' | 'pending'; columns?: Columns }): Promise<unknown> {
    return this.#call('POST', 'mode', mode);
  }

  fill(entrustNo: string, qty?: number, price?: string): Promise<Record<string, unknown>> {
    return this.#call('POST', 'fill', { entrust_no: entrustNo, ...(qty !== undefined ? { qty } : {}), ...(price !== undefined ? { price } : {}) });
  }

  confirmCancel(entrustNo: string): Promise<unknown> {
    return this.#call('POST', 'confirm-cancel', { entrust_no: entrustNo });
  }

  exchangeCancel(entrustNo: string): Promise<unknown> {
    return this.#call('POST', 'exchange-cancel', { entrust_no: entrustNo });
  }

  reject(entrustNo: string, reason?: string): Promise<unknown> {
    return this.#call('POST', 'reject', { entrust_no: entrustNo, ...(reason !== undefined ? { reason } : {}) });
  }

  /** The next `count` requests to `path` (`*`: any route) get `fault`. */
  fault(path: string, fault: Fault, count = 1): Promise<unknown> {
    return this.#call('POST', 'faults', { path, fault, count });
  }

  clearFaults(): Promise<unknown> {
    return this.#call('DELETE', 'faults');
  }

  externalOrder(order: { security: string; side: 'buy' | 'sell'; price: string; amount: number }): Promise<{ entrust_no: string }> {
    return this.#call('POST', 'external-order', order);
  }

  position(security: string, qty: number, options: { sellable?: number; cost?: string } = {}): Promise<unknown> {
    return this.#call('POST', 'position', { security, qty, ...options });
  }

  cash(cash: string): Promise<unknown> {
    return this.#call('POST', 'cash', { cash });
  }

  restart(): Promise<unknown> {
    return this.#call('POST', 'restart');
  }

  nextDay(atMs?: number): Promise<unknown> {
    return this.#call('POST', 'next-day', atMs !== undefined ? { at_ms: atMs } : {});
  }

  follow(url: string): Promise<unknown> {
    return this.#call('POST', 'follow', { url });
  }

  /** End the child (SIGTERM) and wait for it. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }
}

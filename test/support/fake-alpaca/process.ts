/**
 * Start the fake Alpaca (server.ts) in a child process and talk to it: its REST and stream URLs
 * for the code under test, and the control API for the test (prices, faults, fills, the stream).
 * `stop()` ends the child it started, by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Fault, RequestRecord } from './server.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface FakeAlpacaProcessOptions {
  readonly key?: string;
  readonly secret?: string;
  readonly cash?: string;
  readonly startMs?: number;
  readonly textFrames?: boolean;
}

/** What GET /__control/state answers. */
export interface FakeState {
  readonly now_ms: number;
  readonly cash: string;
  readonly positions: Record<string, number>;
  readonly orders: readonly (Record<string, unknown> & { id: string; client_order_id: string; status: string; filled_qty: string })[];
  readonly activities: number;
  readonly requests: readonly RequestRecord[];
  readonly held: number;
  readonly stream: { readonly connections: number; readonly open: number; readonly listening: number; readonly pings: number; readonly frames: readonly unknown[] };
}

export class FakeAlpacaProcess {
  readonly key: string;
  readonly secret: string;
  readonly baseUrl: string;
  readonly streamUrl: string;
  readonly #child: ChildProcess;
  #stderr = '';

  private constructor(child: ChildProcess, port: number, key: string, secret: string) {
    this.#child = child;
    this.key = key;
    this.secret = secret;
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.streamUrl = `ws://127.0.0.1:${port}/stream`;
    child.stderr?.on('data', (d: Buffer) => (this.#stderr += d.toString()));
  }

  static async start(options: FakeAlpacaProcessOptions = {}): Promise<FakeAlpacaProcess> {
    const key = options.key ?? 'PKFAKEKEY0001';
    const secret = options.secret ?? 'fake-secret-0001';
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        FAKE_ALPACA_KEY: key,
        FAKE_ALPACA_SECRET: secret,
        ...(options.cash ? { FAKE_ALPACA_CASH: options.cash } : {}),
        ...(options.startMs !== undefined ? { FAKE_ALPACA_START_MS: String(options.startMs) } : {}),
        ...(options.textFrames ? { FAKE_ALPACA_TEXT_FRAMES: '1' } : {}),
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
      child.once('exit', (code) => reject(new Error(`the fake Alpaca exited (${String(code)}) before listening: ${err}`)));
    });
    return new FakeAlpacaProcess(child, port, key, secret);
  }

  /** The child's pid (a drill may signal it). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  get stderr(): string {
    return this.#stderr;
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

  state(): Promise<FakeState> {
    return this.#call<FakeState>('GET', 'state');
  }

  price(symbol: string, price: string): Promise<unknown> {
    return this.#call('POST', 'price', { symbol, price });
  }

  clock(atMs: number): Promise<unknown> {
    return this.#call('POST', 'clock', { at_ms: atMs });
  }

  mode(fill: 'auto' | 'manual'): Promise<unknown> {
    return this.#call('POST', 'mode', { fill });
  }

  credentials(key: string, secret: string): Promise<unknown> {
    return this.#call('POST', 'credentials', { key, secret });
  }

  /** The next `count` requests `method path` (a trailing `*` matches a prefix) get `fault`. */
  fault(method: string, path: string, fault: Fault, count = 1): Promise<unknown> {
    return this.#call('POST', 'faults', { method, path, count, fault });
  }

  clearFaults(): Promise<unknown> {
    return this.#call('DELETE', 'faults');
  }

  fill(clientOrderId: string, qty?: number, price?: string): Promise<Record<string, unknown>> {
    return this.#call('POST', 'fill', { client_order_id: clientOrderId, ...(qty !== undefined ? { qty } : {}), ...(price !== undefined ? { price } : {}) });
  }

  end(clientOrderId: string, status: 'canceled' | 'expired' | 'rejected'): Promise<Record<string, unknown>> {
    return this.#call('POST', 'end', { client_order_id: clientOrderId, status });
  }

  externalOrder(order: { symbol: string; side: 'buy' | 'sell'; qty: number; price?: string; client_order_id?: string }): Promise<Record<string, unknown>> {
    return this.#call('POST', 'external-order', order);
  }

  /** Shares appear (qty > 0) or go (qty < 0) without an order. */
  positionChange(symbol: string, qty: number, price?: string): Promise<unknown> {
    return this.#call('POST', 'position', { symbol, qty, ...(price !== undefined ? { price } : {}) });
  }

  stream(settings: { hold?: boolean; refuse?: boolean; answer_pings?: boolean }): Promise<unknown> {
    return this.#call('POST', 'stream', settings);
  }

  /** Send the held updates by index in this order (repeats allowed); default all, in order. */
  release(sequence?: readonly number[]): Promise<unknown> {
    return this.#call('POST', 'stream/release', sequence ? { sequence } : {});
  }

  /** Follow a replay server (ws://): its trades set the fill prices, its clock the fake's (quotes.ts). */
  follow(url: string): Promise<unknown> {
    return this.#call('POST', 'follow', { url });
  }

  dropStream(): Promise<unknown> {
    return this.#call('POST', 'stream/drop');
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

/**
 * Start the fake Futu OpenD (server.ts) in a child process and talk to it: its WebSocket URL for
 * the code under test, the control API for the test. `stop()` ends the child it started, by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { FakeAccountSpec, FakeFault, FakeRequestRecord } from './server.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface FakeFutuProcessOptions {
  /** null: OpenD has no websocket key. */
  readonly websocketKey?: string | null;
  readonly tradePassword?: string;
  readonly startMs?: number;
  readonly accounts?: readonly FakeAccountSpec[];
}

export interface FakeFutuOrder {
  readonly order_id: string;
  readonly acc_id: string;
  readonly symbol: string;
  readonly side: number;
  readonly qty: number;
  readonly price?: string;
  readonly status: number;
  readonly fill_qty: number;
  readonly remark?: string;
}

export interface FakeFutuState {
  readonly now_ms: number;
  readonly unlocked: boolean;
  readonly connections: { readonly total: number; readonly open: number; readonly initialized: number; readonly subscribed: number };
  readonly quote_subscriptions: readonly (readonly string[])[];
  readonly pushes_sent: number;
  readonly quote_pushes_sent: number;
  readonly refused: number;
  readonly held: number;
  readonly accounts: readonly { readonly acc_id: string; readonly trd_env: number; readonly cash: string; readonly positions: Record<string, { qty: number; can_sell: number }> }[];
  readonly orders: readonly FakeFutuOrder[];
  readonly fills: readonly { readonly fill_id: string; readonly order_id: string; readonly qty: number; readonly price: string }[];
  readonly requests: readonly FakeRequestRecord[];
}

export class FakeFutuProcess {
  readonly websocketKey: string | undefined;
  readonly tradePassword: string;
  readonly url: string;
  readonly #base: string;
  readonly #child: ChildProcess;
  #stderr = '';

  private constructor(child: ChildProcess, port: number, websocketKey: string | undefined, tradePassword: string) {
    this.#child = child;
    this.websocketKey = websocketKey;
    this.tradePassword = tradePassword;
    this.url = `ws://127.0.0.1:${port}`;
    this.#base = `http://127.0.0.1:${port}/__control`;
    child.stderr?.on('data', (d: Buffer) => (this.#stderr += d.toString()));
  }

  static async start(options: FakeFutuProcessOptions = {}): Promise<FakeFutuProcess> {
    const websocketKey = options.websocketKey === null ? undefined : (options.websocketKey ?? 'fake-ws-key-0001');
    const tradePassword = options.tradePassword ?? '314159';
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...(websocketKey !== undefined ? { FAKE_FUTU_WS_KEY: websocketKey } : {}),
        FAKE_FUTU_TRADE_PWD: tradePassword,
        ...(options.startMs !== undefined ? { FAKE_FUTU_START_MS: String(options.startMs) } : {}),
        ...(options.accounts ? { FAKE_FUTU_ACCOUNTS: JSON.stringify(options.accounts) } : {}),
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
      child.once('exit', (code) => reject(new Error(`the fake OpenD exited (${String(code)}) before listening: ${err}`)));
    });
    return new FakeFutuProcess(child, port, websocketKey, tradePassword);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get stderr(): string {
    return this.#stderr;
  }

  async #call<T = unknown>(method: string, what: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.#base}/${what}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`fake OpenD control ${method} ${what}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  state(): Promise<FakeFutuState> {
    return this.#call<FakeFutuState>('GET', 'state');
  }
  price(symbol: string, price: string): Promise<unknown> {
    return this.#call('POST', 'price', { symbol, price });
  }
  clock(atMs: number): Promise<unknown> {
    return this.#call('POST', 'clock', { at_ms: atMs });
  }
  mode(m: { fill?: 'immediate' | 'manual'; slow_cancel?: boolean; quote_timestamps?: boolean }): Promise<unknown> {
    return this.#call('POST', 'mode', m);
  }
  credentials(c: { websocket_key?: string; trade_password?: string }): Promise<unknown> {
    return this.#call('POST', 'credentials', c);
  }
  fill(remark: string, qty?: number, price?: string): Promise<Record<string, unknown>> {
    return this.#call('POST', 'fill', { remark, ...(qty !== undefined ? { qty } : {}), ...(price !== undefined ? { price } : {}) });
  }
  cancel(remark: string): Promise<Record<string, unknown>> {
    return this.#call('POST', 'cancel', { remark });
  }
  reject(remark: string, message?: string): Promise<Record<string, unknown>> {
    return this.#call('POST', 'reject', { remark, ...(message !== undefined ? { message } : {}) });
  }
  fault(cmd: number, fault: FakeFault, count = 1): Promise<unknown> {
    return this.#call('POST', 'fault', { cmd, count, fault });
  }
  clearFaults(): Promise<unknown> {
    return this.#call('DELETE', 'faults');
  }
  release(): Promise<{ released: number }> {
    return this.#call('POST', 'release');
  }
  dupPushes(count: number): Promise<unknown> {
    return this.#call('POST', 'dup-pushes', { count });
  }
  restart(): Promise<unknown> {
    return this.#call('POST', 'restart');
  }
  refuse(on: boolean): Promise<unknown> {
    return this.#call('POST', 'refuse', { on });
  }
  raw(hex: string): Promise<unknown> {
    return this.#call('POST', 'raw', { hex });
  }
  push(cmd: number, hex = ''): Promise<unknown> {
    return this.#call('POST', 'push', { cmd, hex });
  }
  externalOrder(o: { acc_id: string; symbol: string; side: 'buy' | 'sell'; qty: number; price?: string; remark?: string }): Promise<Record<string, unknown>> {
    return this.#call('POST', 'external-order', o);
  }
  position(p: { acc_id: string; symbol: string; qty: number; price?: string; today?: boolean }): Promise<unknown> {
    return this.#call('POST', 'position', p);
  }
  follow(url: string): Promise<unknown> {
    return this.#call('POST', 'follow', { url });
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }
}

/**
 * One WebSocket to Futu OpenD's `websocket_port`, on `ws` and the vendored protos (our own client:
 * futu-api's needs a global WebSocket, runs its timeouts on wall-clock setTimeout and never
 * settles a reply without a body):
 *
 *   open -> InitWebSocket (cmd 1, c2s {websocketKey: md5hex(key), programmingLanguage}) -> s2c {connID}
 *        -> `onSession` (the adapter: GetAccList, UnlockTrade in the real env, SubAccPush)
 *        -> 'listening'
 *
 * Requests are correlated with their reply by the frame's section (a serial of this object, never
 * reused). Each has a deadline on the INJECTED scheduler: no reply in time is
 * VenueUnavailable(outcomeKnown=false), as is a drop while it waits (it may have been carried
 * out); a request that cannot be sent at all (not connected) is VenueUnavailable(outcomeKnown=true).
 * A reply's failure (header error, retType) is classed by errors.ts.
 *
 * Pushes (section 0) come out of `pushes$` as {cmd, s2c}; OpenD's cmd-2 push (its end of this
 * WebSocket going away) is handled as a drop. A frame that does not parse, a push of a cmd we do
 * not speak, a reply nobody waits for: an event `malformed`, and the connection goes on.
 *
 * Lifecycle: a drop is retried after `backoffDelay(n)` on the scheduler (n = consecutive
 * failures, reset once listening), for ever; every new connection does the handshake and the
 * session again and then says 'listening' (the cue to catch up by polling). A refused handshake
 * (wrong websocket key) or a VenueHalted from the session (wrong trade password) is final:
 * 'halted', no reconnect. Keep-alive: a KeepAlive (cmd 1004, c2s {time}: seconds on the
 * scheduler's clock) every `keepAliveIntervalMs`; its reply missing its deadline means the
 * connection is dead (half-open): it is terminated and handled as a drop.
 */
import { createHash } from 'node:crypto';
import { filter, map, Subject, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import WebSocket from 'ws';
import { backoffDelay, type ReconnectOptions } from '../../../streams/alpaca-quotes.js';
import { VenueHalted, VenueUnavailable, type VenueError } from '../venue-adapter.js';
import { futuError, type FutuFailure } from './errors.js';
import { decodeReply, encodeRequest, FrameError } from './frame.js';
import { cmdName, FUTU_CMDS, futuProtos, type FutuCmdName } from './protos.js';

export interface FutuConnectionOptions {
  /** ws://host:websocket_port (wss:// when OpenD has a websocket certificate). */
  readonly url: string;
  /** OpenD's websocket key (its `websocket_key`), sent as its md5; undefined when OpenD has none. */
  readonly websocketKey?: string | undefined;
  readonly scheduler: SchedulerLike;
  /** A request's deadline; default 10 000 ms. */
  readonly requestTimeoutMs?: number;
  /** `false` turns KeepAlive off; default every 10 000 ms. */
  readonly keepAliveIntervalMs?: number | false;
  readonly reconnect?: ReconnectOptions;
  /** Opening handshake timeout (a `ws` option, wall clock); default 10 000 ms. */
  readonly openTimeoutMs?: number;
  /** Run after each handshake, before 'listening'. A VenueHalted from it is final; any other error is a drop. */
  readonly onSession?: (connection: FutuConnection) => Promise<void>;
}

export type FutuConnectionEvent =
  /** Listening on the n-th connection (1 = the first). */
  | { readonly type: 'listening'; readonly connection: number; readonly connID: string }
  | { readonly type: 'disconnected'; readonly connection: number; readonly reason: string }
  | { readonly type: 'retrying'; readonly attempt: number; readonly delayMs: number }
  /** Final: the key or the trade password was refused. */
  | { readonly type: 'halted'; readonly message: string }
  | { readonly type: 'malformed'; readonly reason: string };

export interface FutuPush {
  readonly cmd: number;
  /** The Response's s2c, 64-bit integers as strings. */
  readonly s2c: Record<string, unknown>;
}

export interface RequestOptions {
  /** Fill `c2s.packetID` {connID, serialNo} (PlaceOrder, ModifyOrder: OpenD refuses a replayed one). */
  readonly packetID?: boolean;
  readonly timeoutMs?: number;
}

type Status = 'idle' | 'connecting' | 'handshaking' | 'session' | 'ready' | 'reconnecting' | 'halted' | 'closed';

interface Pending {
  readonly name: FutuCmdName;
  readonly ws: WebSocket;
  readonly resolve: (s2c: Record<string, unknown>) => void;
  readonly reject: (e: VenueError) => void;
  readonly deadline: Subscription;
}

const md5hex = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

export class FutuConnection {
  readonly #o: FutuConnectionOptions;
  readonly #timeoutMs: number;
  readonly #events = new Subject<FutuConnectionEvent>();
  readonly #pushes = new Subject<FutuPush>();
  readonly events$ = this.#events.asObservable();
  readonly pushes$ = this.#pushes.asObservable();
  readonly #pending = new Map<number, Pending>();
  #status: Status = 'idle';
  #ws: WebSocket | undefined;
  #connID = '0';
  #serial = 0;
  #connections = 0;
  #failures = 0;
  #retry: Subscription | undefined;
  #keepAlive: Subscription | undefined;
  #first: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #firstDone: Promise<void> | undefined;

  constructor(options: FutuConnectionOptions) {
    this.#o = options;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  get status(): Status {
    return this.#status;
  }

  /** OpenD's id of the current connection (from the handshake). */
  get connID(): string {
    return this.#connID;
  }

  /** The pushes of one cmd. */
  pushesOf(cmd: number): Observable<Record<string, unknown>> {
    return this.#pushes.pipe(
      filter((p) => p.cmd === cmd),
      map((p) => p.s2c),
    );
  }

  /** Connect; resolves when first listening, rejects with VenueHalted if the key or the session is refused. */
  start(): Promise<void> {
    if (this.#firstDone) return this.#firstDone;
    this.#firstDone = new Promise<void>((resolve, reject) => (this.#first = { resolve, reject }));
    this.#open();
    return this.#firstDone;
  }

  /** Stop for good: no reconnect; pending requests fail; streams complete. */
  close(): void {
    if (this.#status === 'closed') return;
    this.#status = 'closed';
    this.#retry?.unsubscribe();
    this.#stopKeepAlive();
    const ws = this.#ws;
    this.#ws = undefined;
    this.#failPending(new VenueUnavailable('the connection to Futu OpenD was closed before the reply', false));
    ws?.terminate();
    this.#first?.reject(new VenueUnavailable('the connection to Futu OpenD was closed before it was listening', true));
    this.#first = undefined;
    this.#events.complete();
    this.#pushes.complete();
  }

  /**
   * Send `{c2s}` as `name`'s Request; resolves with the reply's s2c ({} when it has none).
   * Allowed once the handshake is done (the session's own requests included).
   */
  request(name: FutuCmdName, c2s: Record<string, unknown>, options: RequestOptions = {}): Promise<Record<string, unknown>> {
    if (this.#status === 'halted') return Promise.reject(new VenueHalted(`Futu OpenD: trading is halted (the session was refused); ${name} not sent`));
    if (this.#status !== 'session' && this.#status !== 'ready') return Promise.reject(new VenueUnavailable(`Futu OpenD is not connected (${this.#status}); ${name} not sent`, true));
    return this.#send(this.#ws!, name, c2s, options);
  }

  #send(ws: WebSocket, name: FutuCmdName, c2s: Record<string, unknown>, options: RequestOptions): Promise<Record<string, unknown>> {
    const section = ++this.#serial;
    const body = options.packetID ? { ...c2s, packetID: { connID: this.#connID, serialNo: section } } : c2s;
    let bytes: Buffer;
    try {
      bytes = encodeRequest({ cmd: FUTU_CMDS[name], section: BigInt(section), body: futuProtos().encodeRequest(name, { c2s: body }) });
    } catch (e) {
      // Our own request does not fit its proto: nothing was sent, and sending again will not help.
      return Promise.reject(new VenueUnavailable(`Futu OpenD: ${name} could not be encoded (${(e as Error).message}); not sent`, true));
    }
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
      const deadline = this.#o.scheduler.schedule(() => {
        if (this.#pending.get(section)?.deadline !== deadline) return;
        this.#pending.delete(section);
        reject(new VenueUnavailable(`Futu OpenD: no reply to ${name} within ${timeoutMs} ms (it may have been carried out)`, false));
      }, timeoutMs);
      this.#pending.set(section, { name, ws, resolve, reject, deadline });
      const failed = (err: Error): void => {
        const p = this.#pending.get(section);
        if (!p) return;
        this.#pending.delete(section);
        p.deadline.unsubscribe();
        // A send that fails part-way may have reached OpenD: the outcome is unknown.
        reject(new VenueUnavailable(`Futu OpenD: sending ${name} failed (${err.message})`, false));
      };
      try {
        ws.send(bytes, { binary: true }, (err) => err && failed(err));
      } catch (e) {
        failed(e as Error);
      }
    });
  }

  #open(): void {
    this.#connections++;
    const n = this.#connections;
    this.#status = 'connecting';
    const ws = new WebSocket(this.#o.url, { handshakeTimeout: this.#o.openTimeoutMs ?? 10_000 });
    this.#ws = ws;
    let reason = '';
    ws.on('open', () => {
      if (this.#ws !== ws) return;
      this.#status = 'handshaking';
      void this.#handshake(ws, n);
    });
    ws.on('message', (data, isBinary) => {
      if (this.#ws !== ws) return;
      if (!isBinary) {
        this.#malformed('a text frame (OpenD sends binary frames only)');
        return;
      }
      this.#onFrame(ws, toBytes(data));
    });
    ws.on('error', (e) => (reason = e.message));
    ws.on('close', (code) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      this.#stopKeepAlive();
      const why = reason || `closed with code ${code}`;
      this.#failPending(new VenueUnavailable(`Futu OpenD: the connection dropped (${why}) before the reply (it may have been carried out)`, false), ws);
      if (this.#status === 'closed' || this.#status === 'halted') return;
      this.#events.next({ type: 'disconnected', connection: n, reason: why });
      this.#reconnect();
    });
  }

  async #handshake(ws: WebSocket, n: number): Promise<void> {
    try {
      const s2c = await this.#send(ws, 'InitWebSocket', { websocketKey: this.#o.websocketKey ? md5hex(this.#o.websocketKey) : '', programmingLanguage: 'JavaScript' }, {});
      if (this.#ws !== ws) return;
      this.#connID = typeof s2c['connID'] === 'string' ? s2c['connID'] : String(s2c['connID'] ?? '0');
      this.#status = 'session';
      this.#startKeepAlive(ws);
      await this.#o.onSession?.(this);
      if (this.#ws !== ws || this.#status !== 'session') return;
      this.#status = 'ready';
      this.#failures = 0;
      this.#events.next({ type: 'listening', connection: n, connID: this.#connID });
      this.#first?.resolve();
      this.#first = undefined;
    } catch (e) {
      if (this.#ws !== ws) return;
      if (e instanceof VenueHalted) return this.#halt(ws, e);
      // a timeout, a refused read, a drop: try again on a new connection
      ws.terminate();
    }
  }

  #halt(ws: WebSocket, e: VenueHalted): void {
    this.#status = 'halted';
    this.#stopKeepAlive();
    this.#ws = undefined;
    this.#failPending(e);
    ws.terminate();
    this.#events.next({ type: 'halted', message: e.message });
    this.#first?.reject(e);
    this.#first = undefined;
  }

  #reconnect(): void {
    this.#failures++;
    const delayMs = backoffDelay(this.#failures, this.#o.reconnect);
    this.#status = 'reconnecting';
    this.#events.next({ type: 'retrying', attempt: this.#failures, delayMs });
    this.#retry = this.#o.scheduler.schedule(() => {
      if (this.#status === 'reconnecting') this.#open();
    }, delayMs);
  }

  #onFrame(ws: WebSocket, data: Uint8Array): void {
    let frame;
    try {
      frame = decodeReply(data);
    } catch (e) {
      this.#malformed(e instanceof FrameError ? e.message : String(e));
      return;
    }
    if (frame.section !== 0n) {
      const section = Number(frame.section);
      const p = this.#pending.get(section);
      if (!p) {
        this.#malformed(`a reply (cmd ${frame.cmd}, section ${frame.section}) to no request waiting (late, after its deadline?)`);
        return;
      }
      this.#pending.delete(section);
      p.deadline.unsubscribe();
      this.#settle(p, frame);
      return;
    }
    if (frame.cmd === FUTU_CMDS.OpenDisconnect) {
      this.#events.next({ type: 'malformed', reason: 'OpenD says this WebSocket is disconnected (cmd 2): reconnecting' });
      ws.terminate();
      return;
    }
    const name = cmdName(frame.cmd);
    if (!name) {
      this.#malformed(`a push of cmd ${frame.cmd}, which this client does not speak`);
      return;
    }
    if (frame.error !== 0) {
      this.#malformed(`a push of ${name} with header error ${frame.error} ${JSON.stringify(frame.errmsg)}`);
      return;
    }
    let res: Record<string, unknown>;
    try {
      res = futuProtos().decodeResponse(name, frame.body);
    } catch (e) {
      this.#malformed(`a push of ${name} that does not decode: ${(e as Error).message}`);
      return;
    }
    if (res['retType'] !== 0) {
      this.#malformed(`a push of ${name} with retType ${String(res['retType'])}: ${String(res['retMsg'] ?? '')}`);
      return;
    }
    this.#pushes.next({ cmd: frame.cmd, s2c: (res['s2c'] as Record<string, unknown> | undefined) ?? {} });
  }

  #settle(p: Pending, frame: { cmd: number; error: number; errmsg: string; body: Uint8Array }): void {
    if (frame.cmd !== FUTU_CMDS[p.name]) {
      p.reject(new VenueUnavailable(`Futu OpenD answered ${p.name} with a reply of cmd ${frame.cmd} (outcome unknown)`, false));
      return;
    }
    let res: Record<string, unknown> | undefined;
    let undecodable: string | undefined;
    try {
      res = futuProtos().decodeResponse(p.name, frame.body);
    } catch (e) {
      undecodable = (e as Error).message;
    }
    const failure: FutuFailure = {
      cmd: p.name,
      retType: typeof res?.['retType'] === 'number' ? res['retType'] : undefined,
      retMsg: typeof res?.['retMsg'] === 'string' ? res['retMsg'] : undefined,
      errCode: typeof res?.['errCode'] === 'number' ? res['errCode'] : undefined,
      headerError: frame.error !== 0 ? frame.error : undefined,
      headerMsg: frame.error !== 0 ? frame.errmsg : undefined,
    };
    if (frame.error !== 0) return p.reject(futuError(failure));
    if (!res) {
      // An empty body fails here too (retType is required): futu-api never settles such a reply.
      return p.reject(p.name === 'InitWebSocket' ? futuError(failure) : new VenueUnavailable(`Futu OpenD: a reply to ${p.name} that does not decode (${undecodable}); outcome unknown`, false));
    }
    if (res['retType'] !== 0) return p.reject(futuError(failure));
    p.resolve((res['s2c'] as Record<string, unknown> | undefined) ?? {});
  }

  #malformed(reason: string): void {
    this.#events.next({ type: 'malformed', reason });
  }

  /** Fail the requests waiting (on `ws` only, when given). */
  #failPending(e: VenueError, ws?: WebSocket): void {
    for (const [section, p] of this.#pending) {
      if (ws && p.ws !== ws) continue;
      this.#pending.delete(section);
      p.deadline.unsubscribe();
      p.reject(e);
    }
  }

  #startKeepAlive(ws: WebSocket): void {
    const every = this.#o.keepAliveIntervalMs ?? 10_000;
    if (every === false) return;
    const next = (): void => {
      this.#keepAlive = this.#o.scheduler.schedule(() => {
        if (this.#ws !== ws) return;
        this.#send(ws, 'KeepAlive', { time: Math.floor(this.#o.scheduler.now() / 1000) }, {}).catch((e: unknown) => {
          // no answer in time: a dead peer (a refusal is an answer, so the link is alive)
          if (this.#ws === ws && e instanceof VenueUnavailable && !e.outcomeKnown && /no reply/.test(e.message)) ws.terminate();
        });
        next();
      }, every);
    };
    next();
  }

  #stopKeepAlive(): void {
    this.#keepAlive?.unsubscribe();
    this.#keepAlive = undefined;
  }
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return new Uint8Array(data);
}

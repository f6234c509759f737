/**
 * Test support for the alert channels: real servers on 127.0.0.1 (port 0) speaking the real
 * protocols, which record what arrives and answer what the test says.
 *
 * - HttpSink: node:http; each request is recorded (method, path and query as sent,
 *   headers, body) and answered by `reply` (a status, JSON, headers) or held ('hang') until
 *   the sink closes. `next()` is a promise of the next request not yet taken: tests wait on
 *   it, never on wall time.
 * - SmtpSink: smtp-server, plain text with AUTH allowed (no TLS on loopback); records the
 *   envelope, the login and the raw message; `onData` decides the answer.
 * - Virtual time: an EpochVirtualScheduler; `advance` moves it and then waits until the
 *   dispatcher has no request in flight.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAuthentication } from 'smtp-server';
import type { Alert } from '../../../src/actors/monitor/channels/channel.js';
import { EpochVirtualScheduler } from '../../../src/streams/virtual-time.js';

/** 2026-01-05 14:30:00 UTC. */
export const EPOCH = Date.UTC(2026, 0, 5, 14, 30);

export const newScheduler = (): EpochVirtualScheduler => new EpochVirtualScheduler(EPOCH);

export function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    type: 'monitor.alert',
    level: 'critical',
    code: 'BROKER_DISCONNECTED',
    message: 'broker connection lost',
    tsEvent: EPOCH,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------
// HTTP

export interface RecordedRequest {
  readonly method: string;
  /** Path and query exactly as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export type Reply =
  | { readonly status?: number; readonly json?: unknown; readonly text?: string; readonly headers?: Record<string, string> }
  | 'hang';

export class HttpSink {
  readonly requests: RecordedRequest[] = [];
  /** What to answer; default 200 `{"errcode":0,"errmsg":"ok"}`. */
  reply: (req: RecordedRequest, index: number) => Reply = () => ({ json: { errcode: 0, errmsg: 'ok' } });
  readonly #server: Server;
  readonly #held: ServerResponse[] = [];
  #taken = 0;
  #waiters: (() => void)[] = [];

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(reply?: HttpSink['reply']): Promise<HttpSink> {
    const sink = new HttpSink(createServer());
    if (reply) sink.reply = reply;
    sink.#server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => sink.#answer({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }, res));
    });
    await new Promise<void>((resolve, reject) => {
      sink.#server.once('error', reject);
      sink.#server.listen(0, '127.0.0.1', () => resolve());
    });
    return sink;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The next request not yet taken (already arrived, or the next to arrive). */
  async next(): Promise<RecordedRequest> {
    while (this.requests.length <= this.#taken) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.requests[this.#taken++]!;
  }

  async close(): Promise<void> {
    for (const res of this.#held) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #answer(req: RecordedRequest, res: ServerResponse): void {
    const index = this.requests.length;
    this.requests.push(req);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
    const r = this.reply(req, index);
    if (r === 'hang') {
      this.#held.push(res);
      return;
    }
    const body = r.json !== undefined ? JSON.stringify(r.json) : (r.text ?? '');
    res.writeHead(r.status ?? 200, { 'Content-Type': r.json !== undefined ? 'application/json' : 'text/plain', ...r.headers });
    res.end(body);
  }
}

// ---------------------------------------------------------------------------
// SMTP

export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  /** Who logged in, if anyone. */
  readonly user?: string;
  readonly password?: string;
  /** The message as sent, CRLF line ends. */
  readonly raw: string;
}

/** What the server answers to DATA: accept, refuse with an SMTP code, or never answer. */
export type DataAnswer = 'ok' | { readonly code: number; readonly message: string } | 'hang';

export class SmtpSink {
  readonly mails: ReceivedMail[] = [];
  /** Login attempts, accepted or not. */
  readonly logins: { user: string; password: string }[] = [];
  onData: (index: number) => DataAnswer = () => 'ok';
  /** Accept this login; anything else is refused with 535 and `authFailure`. */
  credentials: { user: string; password: string } | undefined;
  authFailure = 'Invalid username or password';
  #dataCalls = 0;
  #waiters: (() => void)[] = [];
  readonly #server: SMTPServer;

  private constructor(requireAuth: boolean) {
    this.#server = new SMTPServer({
      secure: false,
      // Loopback only; AUTH over plain text is what a test server can offer without a certificate.
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authOptional: !requireAuth,
      logger: false,
      // No reverse DNS of the client: nothing beyond loopback.
      disableReverseLookup: true,
      closeTimeout: 50,
      onAuth: (auth: SMTPServerAuthentication, _session, callback) => {
        const user = auth.username ?? '';
        const password = auth.password ?? '';
        this.logins.push({ user, password });
        if (this.credentials && user === this.credentials.user && password === this.credentials.password) callback(null, { user });
        else callback(Object.assign(new Error(this.authFailure), { responseCode: 535 }));
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const index = this.#dataCalls++;
          const login = this.logins.at(-1);
          this.mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            ...(session.user !== undefined && login ? { user: login.user, password: login.password } : {}),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          const waiters = this.#waiters;
          this.#waiters = [];
          for (const w of waiters) w();
          const answer = this.onData(index);
          if (answer === 'hang') return;
          if (answer === 'ok') callback();
          else callback(Object.assign(new Error(answer.message), { responseCode: answer.code }));
        });
      },
    });
  }

  static async start(options: { requireAuth?: boolean } = {}): Promise<SmtpSink> {
    const sink = new SmtpSink(options.requireAuth ?? false);
    await new Promise<void>((resolve, reject) => {
      sink.#server.server.once('error', reject);
      sink.#server.listen(0, '127.0.0.1', () => resolve());
    });
    return sink;
  }

  get port(): number {
    return (this.#server.server.address() as AddressInfo).port;
  }

  /** Resolves once `count` messages have arrived (answered or not). */
  async received(count: number): Promise<void> {
    while (this.mails.length < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Headers (unfolded, names lower-cased) and body of a raw RFC 5322 message. */
export function parseMail(raw: string): { headers: Record<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.slice(split + 4);
  if (/quoted-printable/i.test(headers['content-transfer-encoding'] ?? '')) body = decodeQuotedPrintable(body);
  return { headers, body: body.replace(/\r\n/g, '\n') };
}

function decodeQuotedPrintable(text: string): string {
  const joined = text.replace(/=\r\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const ch = joined[i]!;
    if (ch === '=' && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

// ---------------------------------------------------------------------------
// Time

/** Move virtual time by `ms`, then wait until nothing is in flight. */
export async function advance(scheduler: EpochVirtualScheduler, settled: () => Promise<void>, ms: number): Promise<void> {
  scheduler.advanceTo(scheduler.now() + ms);
  await settled();
}

/** Every string in `texts` free of every secret. */
export function expectNoSecrets(texts: readonly string[], secrets: readonly string[]): string[] {
  const leaks: string[] = [];
  for (const t of texts) for (const s of secrets) if (t.includes(s) || t.includes(encodeURIComponent(s))) leaks.push(`${s} in: ${t}`);
  return leaks;
}

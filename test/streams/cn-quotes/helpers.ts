/**
 * Test support for the A-share quote adapters: a real HTTP server on 127.0.0.1 (port 0)
 * that records every request and answers what the test says (bytes, a status, or nothing
 * at all until it closes), and a hand-written GBK encoder for the few Chinese characters
 * the fixtures use (Node decodes GBK but cannot encode it).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';
import type { Quote } from '../../../src/domain/quotes.js';
import type { QuoteFeed } from '../../../src/streams/quote-feed.js';

export interface RecordedRequest {
  readonly method: string;
  /** Path and query as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export type Reply = { readonly status?: number; readonly body?: string | Uint8Array; readonly contentType?: string } | 'hang';

export class HttpTestServer {
  readonly requests: RecordedRequest[] = [];
  /** What to answer; replace it any time. Default: 404. */
  reply: (req: RecordedRequest) => Reply = () => ({ status: 404, body: 'not found' });
  readonly #server: Server;
  readonly #hanging: ServerResponse[] = [];

  private constructor(server: Server) {
    this.#server = server;
  }

  /** On `port` (default 0: any free one): a test can take a refused port back. */
  static async start(reply?: (req: RecordedRequest) => Reply, port = 0): Promise<HttpTestServer> {
    const server = createServer();
    const self = new HttpTestServer(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => self.#answer({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }, res));
    });
    if (reply) self.reply = reply;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Requests held without an answer ('hang'). */
  get hanging(): number {
    return this.#hanging.filter((r) => !r.destroyed && !r.writableEnded).length;
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #answer(req: RecordedRequest, res: ServerResponse): void {
    this.requests.push(req);
    const reply = this.reply(req);
    if (reply === 'hang') {
      this.#hanging.push(res);
      return;
    }
    res.writeHead(reply.status ?? 200, { 'Content-Type': reply.contentType ?? 'text/plain' });
    res.end(reply.body ?? '');
  }
}

/** Real GBK code points (GB 2312 rows) of the characters the fixtures use. */
const GBK: Readonly<Record<string, readonly number[]>> = {
  贵: [0xb9, 0xf3],
  州: [0xd6, 0xdd],
  茅: [0xc3, 0xa9],
  台: [0xcc, 0xa8],
  平: [0xc6, 0xbd],
  安: [0xb0, 0xb2],
  银: [0xd2, 0xf8],
  行: [0xd0, 0xd0],
  万: [0xcd, 0xf2],
  科: [0xbf, 0xc6],
  Ａ: [0xa3, 0xc1],
};

/** Encode `text` as GBK: ASCII as is, the characters above by hand; anything else throws. */
export function gbk(text: string): Buffer {
  const bytes: number[] = [];
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (code < 0x80) bytes.push(code);
    else {
      const pair = GBK[ch];
      if (pair === undefined) throw new Error(`no hand-written GBK for "${ch}"`);
      bytes.push(...pair);
    }
  }
  return Buffer.from(bytes);
}

/** Epoch ms of a wall time in Shanghai. */
export function shanghai(iso: string): number {
  return DateTime.fromISO(iso, { zone: 'Asia/Shanghai' }).toMillis();
}

export { eventually } from '../../support/eventually.js';

/** Everything a feed delivers. */
export function record(feed: QuoteFeed): { quotes: Quote[]; completed: () => boolean; error: () => unknown } {
  const quotes: Quote[] = [];
  let completed = false;
  let error: unknown;
  feed.quotes.subscribe({ next: (q) => quotes.push(q), complete: () => (completed = true), error: (e) => (error = e) });
  return { quotes, completed: () => completed, error: () => error };
}

/** A Sina A-share record body (33 fields plus the trailing empty one real answers have). */
export function sinaFields(f: { name: string; open: string; prev: string; price: string; date: string; time: string; status?: string }): string {
  // Five bid and five ask levels, volume then price.
  const book = Array.from({ length: 10 }, (_, i) => [String((i + 1) * 100), f.price]).flat();
  return [f.name, f.open, f.prev, f.price, f.price, f.price, f.price, f.price, '2564127', '3672395021.000', ...book, f.date, f.time, f.status ?? '00', ''].join(',');
}

/** A Tencent A-share record body: 50 fields, the ones we read set, the rest realistic filler. */
export function tencentFields(f: { market: string; name: string; code: string; price: string; prev: string; open: string; volume: string; time: string; flag?: string }): string {
  const v: string[] = Array(50).fill('0.00');
  v[0] = f.market;
  v[1] = f.name;
  v[2] = f.code;
  v[3] = f.price;
  v[4] = f.prev;
  v[5] = f.open;
  v[6] = f.volume;
  v[29] = '';
  v[30] = f.time;
  v[35] = `${f.price}/${f.volume}/0`;
  v[40] = f.flag ?? '';
  return v.join('~');
}

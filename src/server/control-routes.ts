/**
 * The control API on the process's HTTP port (src/runtime/control.ts does the work):
 *
 *   GET  /api/control/status | positions | orders
 *   POST /api/control/pause   {"signature": "ew"}
 *   POST /api/control/resume  {"signature": "ew"}
 *   POST /api/control/flatten {"signature": "ew", "symbol"?: "AAPL"}
 *   POST /api/control/reload  {}
 *   POST /api/control/kill    {"signature"?: "ew", "reset"?: true}
 *
 * Access is the /api rule (auth.ts: loopback without a token, anyone else with it). A POST
 * changes what the process does, so it is also kept from browsers steered by another site,
 * whatever it presents: it must be `Content-Type: application/json` (a cross-site page cannot
 * send that without a CORS preflight, which this server never grants), an `Origin` must be this
 * server's own, and a `Sec-Fetch-Site` must be `same-origin` or `none`. Refused: 403.
 *
 * Answers are JSON (README, "Control API"): 200 with `ok: true`; a refusal `ok: false` and
 * `error` (400 bad request, 404 unknown signature, 409 cannot be done now), journalled too.
 * `X-Agent-Trader-Client: cli` names the client in the journal (`cli/loopback`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { CLIENT_NAME, type Who } from '../domain/control.js';
import { InputError } from '../domain/errors.js';
import { ControlRefusal, type Control, type ControlCommand } from '../runtime/control.js';
import type { ExtraRoutes, RouteContext } from './http-server.js';
import { safeJson } from './redact.js';

export const CONTROL_PATH = '/api/control/';
const MAX_BODY = 16 * 1024;

const SignatureBody = z.strictObject({ signature: z.string().min(1) });
const FlattenBody = z.strictObject({ signature: z.string().min(1), symbol: z.string().min(1).optional() });
const KillBody = z.strictObject({ signature: z.string().min(1).optional(), reset: z.boolean().optional() });
const EmptyBody = z.strictObject({});

const READS = new Set(['status', 'positions', 'orders']);
const WRITES = new Set(['pause', 'resume', 'flatten', 'reload', 'kill']);

/** Why a POST is refused as a possible cross-site browser request; undefined when it is not one. */
export function crossSiteRefusal(req: IncomingMessage): string | undefined {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return 'a control command must be sent as Content-Type: application/json';
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return `a control command from another site (Sec-Fetch-Site: ${site}) is refused`;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host.toLowerCase();
    } catch {
      host = undefined;
    }
    if (host === undefined || host !== (req.headers.host ?? '').toLowerCase()) return 'a control command from another origin is refused';
  }
  return undefined;
}

/** A body the route refuses before any command sees it: 400, or 413 when too large. */
class BodyRefusal extends InputError {
  constructor(
    message: string,
    readonly status: 400 | 413 = 400,
  ) {
    super(message);
  }
}

/** Past this much, the connection is cut (a body of 16 KiB to 1 MiB is read to its end and refused with 413). */
const CUT_AT = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > CUT_AT) {
        req.destroy();
        reject(new BodyRefusal(`the body is larger than ${MAX_BODY} bytes`, 413));
        return;
      }
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return reject(new BodyRefusal(`the body is larger than ${MAX_BODY} bytes`, 413));
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new BodyRefusal('the body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw new BodyRefusal(`bad request body: ${r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

export function controlRoutes(control: () => Control | undefined, options: { readonly token?: string | undefined; readonly onError?: (err: unknown) => void } = {}): ExtraRoutes {
  return (req: IncomingMessage, res: ServerResponse, ctx: RouteContext): boolean => {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    if (!path.startsWith(CONTROL_PATH)) return false;
    const command = path.slice(CONTROL_PATH.length);
    const json = (status: number, body: unknown) => {
      const text = safeJson(body, options.token);
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    const isRead = READS.has(command);
    if (!isRead && !WRITES.has(command)) {
      json(404, { ok: false, error: `no control command ${JSON.stringify(command)}; commands: ${[...READS, ...WRITES].join(', ')}` });
      return true;
    }
    const method = isRead ? 'GET' : 'POST';
    if (req.method !== method) {
      res.setHeader('Allow', method);
      json(405, { ok: false, error: `${command} takes ${method}` });
      return true;
    }
    if (!ctx.authorized || ctx.via === undefined) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      json(401, { ok: false, error: 'token required' });
      return true;
    }
    if (!isRead) {
      const refused = crossSiteRefusal(req);
      if (refused) {
        json(403, { ok: false, error: refused });
        return true;
      }
    }
    const c = control();
    if (!c) {
      json(503, { ok: false, error: 'the process is still starting' });
      return true;
    }
    const client = req.headers['x-agent-trader-client'];
    const who: Who = { channel: 'http', auth: ctx.via, ...(typeof client === 'string' && CLIENT_NAME.test(client) ? { client } : {}) };
    const answer = async (): Promise<Record<string, unknown>> => {
      switch (command) {
        case 'status':
          return c.status(who);
        case 'positions':
          return c.positions(who);
        case 'orders':
          return c.orders(who);
      }
      const body = await readBody(req);
      switch (command) {
        case 'pause':
          return c.pause(who, parse(SignatureBody, body).signature);
        case 'resume':
          return c.resume(who, parse(SignatureBody, body).signature);
        case 'flatten': {
          const b = parse(FlattenBody, body);
          return c.flatten(who, b.signature, b.symbol);
        }
        case 'reload':
          parse(EmptyBody, body);
          return c.reload(who);
        default: {
          const b = parse(KillBody, body);
          return c.kill(who, b.signature, b.reset);
        }
      }
    };
    answer().then(
      (a) => json(200, a),
      (err: unknown) => {
        if (err instanceof ControlRefusal) return json(err.status, { command, ok: false, error: err.message, ...err.answer });
        // Refused before the command ran: journalled like any refusal, then answered.
        if (err instanceof BodyRefusal) {
          return void c.refused(command as ControlCommand, who, err.message).then(
            (seq) => json(err.status, { command, ok: false, error: err.message, journal_seq: seq }),
            (e: unknown) => {
              options.onError?.(e);
              json(err.status, { command, ok: false, error: err.message });
            },
          );
        }
        // An InputError's text is for people (no secret in it); anything else stays in the process.
        if (err instanceof InputError) return json(400, { command, ok: false, error: err.message });
        options.onError?.(err);
        json(500, { command, ok: false, error: 'internal error' });
      },
    );
    return true;
  };
}

/**
 * `GET /api/explain/<client-order-id>`: `explain` for a running process, whose LevelDB the
 * CLI cannot open (the process holds its lock). Same access rule as `/api`: loopback, or the
 * server token. Answers the Explanation as JSON, 404 with the reason when there is none.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InputError } from '../domain/errors.js';
import type { Explanation } from '../actors/agents/llm/explain.js';
import type { ExtraRoutes, RouteContext } from './http-server.js';

export const EXPLAIN_PATH = '/api/explain/';

export function explainRoute(explain: (clientOrderId: string) => Promise<Explanation>): ExtraRoutes {
  return (req: IncomingMessage, res: ServerResponse, ctx: RouteContext): boolean => {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    if (!path.startsWith(EXPLAIN_PATH)) return false;
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method !== 'GET') {
      res.writeHead(405, { Allow: 'GET' }).end();
      return true;
    }
    if (!ctx.authorized) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end();
      return true;
    }
    const cid = decodeURIComponent(path.slice(EXPLAIN_PATH.length));
    explain(cid).then(
      (x) => json(200, x),
      // An InputError's text is for people (no secret in it); anything else stays in the process.
      (err: unknown) => (err instanceof InputError ? json(404, { error: err.message }) : json(500, { error: 'explain failed' })),
    );
    return true;
  };
}

/** Several extra routes on one server: the first that takes the request answers it. */
export const routes =
  (...all: ExtraRoutes[]): ExtraRoutes =>
  (req, res, ctx) =>
    all.some((r) => r(req, res, ctx));

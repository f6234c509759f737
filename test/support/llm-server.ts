/**
 * A real local OpenAI-compatible chat-completions server (node:http, 127.0.0.1, port 0)
 * for tests: each model name has a script, a queue of answers taken one per request:
 * a completion (tool calls and/or text, with usage), an HTTP error, a garbage body, or
 * a request held open until the client gives up (slow answer). Every request is
 * recorded (headers and parsed body) so tests can check what the agent sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedCall {
  readonly name: string;
  /** An object (sent as JSON text) or a raw string (sent as is, e.g. broken JSON). */
  readonly arguments: Record<string, unknown> | string;
  readonly id?: string;
}

export type Answer =
  | { readonly kind: 'completion'; readonly content?: string | null; readonly reasoning?: string; readonly calls?: readonly ScriptedCall[]; readonly usage?: { prompt: number; completion: number } }
  | { readonly kind: 'error'; readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | { readonly kind: 'raw'; readonly body: string; readonly contentType?: string }
  /** Never answers: the client must time out / abort. */
  | { readonly kind: 'hang' };

export const say = (content: string, usage = { prompt: 100, completion: 20 }): Answer => ({ kind: 'completion', content, usage });
export const call = (name: string, args: Record<string, unknown> | string, options: { id?: string; content?: string; usage?: { prompt: number; completion: number } } = {}): Answer => ({
  kind: 'completion',
  content: options.content ?? null,
  calls: [{ name, arguments: args, ...(options.id ? { id: options.id } : {}) }],
  usage: options.usage ?? { prompt: 100, completion: 20 },
});
export const calls = (list: readonly ScriptedCall[], content: string | null = null, usage = { prompt: 100, completion: 20 }): Answer => ({ kind: 'completion', content, calls: list, usage });

export interface RecordedRequest {
  readonly model: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: { model: string; messages: { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string }[]; tools?: unknown[]; temperature?: number };
}

export class LlmTestServer {
  readonly requests: RecordedRequest[] = [];
  readonly #scripts = new Map<string, Answer[]>();
  readonly #held = new Set<ServerResponse>();
  #ids = 0;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<LlmTestServer> {
    let self: LlmTestServer | undefined;
    const server = createServer((req, res) => void self!.handle(req, res));
    self = new LlmTestServer(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Queue answers for `model`. */
  script(model: string, ...answers: Answer[]): this {
    this.#scripts.set(model, [...(this.#scripts.get(model) ?? []), ...answers]);
    return this;
  }

  remaining(model: string): number {
    return this.#scripts.get(model)?.length ?? 0;
  }

  requestsFor(model: string): RecordedRequest[] {
    return this.requests.filter((r) => r.model === model);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordedRequest['body'];
    this.requests.push({ model: body.model, headers: req.headers, body });
    const answer = this.#scripts.get(body.model)?.shift();
    if (!answer) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no scripted answer left for ${body.model}` } }));
      return;
    }
    switch (answer.kind) {
      case 'hang':
        this.#held.add(res);
        res.on('close', () => this.#held.delete(res));
        return;
      case 'raw':
        res.writeHead(200, { 'content-type': answer.contentType ?? 'application/json' }).end(answer.body);
        return;
      case 'error':
        res
          .writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
          .end(JSON.stringify(answer.body ?? { error: { message: `scripted ${answer.status}`, type: 'server_error' } }));
        return;
      case 'completion': {
        const usage = answer.usage ?? { prompt: 0, completion: 0 };
        const toolCalls = answer.calls?.map((c) => ({
          id: c.id ?? `call_${++this.#ids}`,
          type: 'function',
          function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
        }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id: `chatcmpl-${++this.#ids}`,
            object: 'chat.completion',
            created: 0,
            model: body.model,
            choices: [
              {
                index: 0,
                message: {
                  role: 'assistant',
                  content: answer.content ?? null,
                  ...(answer.reasoning ? { reasoning_content: answer.reasoning } : {}),
                  ...(toolCalls?.length ? { tool_calls: toolCalls } : {}),
                },
                finish_reason: toolCalls?.length ? 'tool_calls' : 'stop',
              },
            ],
            usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion },
          }),
        );
        return;
      }
    }
  }

  async close(): Promise<void> {
    for (const res of this.#held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

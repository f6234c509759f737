/**
 * One model call through the `openai` client (any OpenAI-compatible endpoint:
 * OpenAI, DeepSeek, Qwen/DashScope, OpenRouter, a local vLLM or llama.cpp server),
 * with our own retries so back-off runs on the injected wall clock:
 *
 * - retried: HTTP 429 (honouring `retry-after` up to 60 s), 5xx, connection errors
 *   and answers that are not a chat completion (garbage bodies), up to `maxRetries`
 *   times, waiting `baseDelayMs * 2^attempt` in between;
 * - not retried: other 4xx (a bad key or a bad request will not get better);
 * - the session deadline (`signal`) aborts the call in flight and any wait.
 *
 * The SDK's own retries are off and its timeout is only a backstop. Error texts
 * are redacted of the API key (some servers echo it) before anyone sees them.
 */
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { TOOL_DEFINITIONS } from './tools.js';
import { sleep, type WallTimers } from './timers.js';
import type { ChatMessage, ToolCall, Usage } from './transcript.js';

export type LlmFailureKind = 'timeout' | 'http' | 'bad_response';

export class LlmCallError extends Error {
  override readonly name = 'LlmCallError';
  constructor(
    readonly kind: LlmFailureKind,
    message: string,
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ChatAnswer {
  readonly message: Extract<ChatMessage, { role: 'assistant' }>;
  readonly usage?: Usage;
  readonly finishReason?: string;
  readonly attempts: number;
}

export interface ChatClientOptions {
  readonly baseUrl: string;
  /** The key's value (read from the env var the config names); absent for a local server. */
  readonly apiKey?: string;
  readonly model: string;
  readonly temperature: number;
  readonly maxRetries: number;
  readonly baseDelayMs: number;
  readonly timers: WallTimers;
  /** Backstop for one HTTP request (the session deadline normally aborts first). */
  readonly requestTimeoutMs: number;
  /** The tools offered; default the base tools. */
  readonly tools?: ChatCompletionTool[];
}

export type ChatCall = (messages: readonly ChatMessage[], signal: AbortSignal) => Promise<ChatAnswer>;

export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

const toParam = (m: ChatMessage): ChatCompletionMessageParam => {
  switch (m.role) {
    case 'assistant':
      return {
        role: 'assistant',
        content: m.content,
        ...(m.tool_calls?.length
          ? { tool_calls: m.tool_calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) }
          : {}),
      };
    case 'tool':
      return { role: 'tool', tool_call_id: m.tool_call_id, content: m.content };
    default:
      return m;
  }
};

/** Read a completion defensively: endpoints differ, and a garbage body must not pass as an answer. */
function readCompletion(raw: unknown): Omit<ChatAnswer, 'attempts'> | string {
  const c = raw as { choices?: unknown; usage?: Record<string, unknown> } | null;
  if (typeof c !== 'object' || c === null || !Array.isArray(c.choices) || c.choices.length === 0) {
    return `not a chat completion: ${JSON.stringify(raw)?.slice(0, 200) ?? String(raw)}`;
  }
  const choice = c.choices[0] as { message?: Record<string, unknown>; finish_reason?: unknown };
  const m = choice.message;
  if (typeof m !== 'object' || m === null) return 'the completion has no message';
  const content = typeof m['content'] === 'string' ? m['content'] : null;
  const reasoning = typeof m['reasoning_content'] === 'string' ? m['reasoning_content'] : typeof m['reasoning'] === 'string' ? m['reasoning'] : undefined;
  const calls: ToolCall[] = [];
  if (m['tool_calls'] !== undefined && m['tool_calls'] !== null) {
    if (!Array.isArray(m['tool_calls'])) return 'tool_calls is not an array';
    for (const [i, tc] of (m['tool_calls'] as unknown[]).entries()) {
      const f = (tc as { function?: { name?: unknown; arguments?: unknown } } | null)?.function;
      const id = (tc as { id?: unknown } | null)?.id;
      calls.push({
        id: typeof id === 'string' && id !== '' ? id : `call_${i}`,
        name: typeof f?.name === 'string' ? f.name : '',
        arguments: typeof f?.arguments === 'string' ? f.arguments : JSON.stringify(f?.arguments ?? null),
      });
    }
  }
  const u = c.usage;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : 0);
  const usage = u && typeof u === 'object' ? { prompt: num(u['prompt_tokens']), completion: num(u['completion_tokens']), total: num(u['total_tokens']) } : undefined;
  return {
    message: { role: 'assistant', content, ...(reasoning !== undefined ? { reasoning } : {}), ...(calls.length ? { tool_calls: calls } : {}) },
    ...(usage ? { usage: { ...usage, total: usage.total || usage.prompt + usage.completion } } : {}),
    ...(typeof choice.finish_reason === 'string' ? { finishReason: choice.finish_reason } : {}),
  };
}

const RETRY_AFTER_CAP_MS = 60_000;

/** System error codes a failed connection carries (somewhere in its `cause` chain), in words. */
const CONNECTION_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
};

/** The endpoint without user:password, for messages. */
function endpointOf(baseUrl: string): string {
  try {
    const u = new URL(baseUrl);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return baseUrl;
  }
}

/** "connection to URL failed: connection refused (ECONNREFUSED)": the SDK's own text is only "Connection error.". */
export function connectionFailure(baseUrl: string, error: unknown): string {
  let code: string | undefined;
  let innermost: unknown = error;
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    innermost = e;
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && code === undefined) code = c;
  }
  const what = code ? `${CONNECTION_CODES[code] ?? 'connection error'} (${code})` : ((innermost as Error)?.message ?? String(innermost));
  return `connection to ${endpointOf(baseUrl)} failed: ${what}`;
}

export function openAiChat(options: ChatClientOptions): ChatCall {
  const client = new OpenAI({
    baseURL: options.baseUrl,
    // Explicit, so the SDK never falls back to OPENAI_API_KEY from the environment.
    apiKey: options.apiKey ?? 'no-key',
    maxRetries: 0,
    timeout: options.requestTimeoutMs,
    logLevel: 'off',
  });
  const clean = (text: string) => redact(text, [options.apiKey]);

  return async (messages, signal) => {
    let attempt = 0;
    for (;;) {
      attempt++;
      let waitMs = options.baseDelayMs * 2 ** (attempt - 1);
      let failure: LlmCallError;
      try {
        const raw: unknown = await client.chat.completions.create(
          { model: options.model, temperature: options.temperature, messages: messages.map(toParam), tools: options.tools ?? TOOL_DEFINITIONS },
          { signal },
        );
        const read = readCompletion(raw);
        if (typeof read !== 'string') return { ...read, attempts: attempt };
        failure = new LlmCallError('bad_response', clean(read), attempt);
      } catch (e) {
        if (signal.aborted) throw new LlmCallError('timeout', 'the session deadline passed while waiting for the model', attempt);
        if (e instanceof OpenAI.APIError && e.status !== undefined) {
          const status = e.status;
          const text = clean(`HTTP ${status}: ${e.message}`);
          if (status !== 429 && status < 500) throw new LlmCallError('http', text, attempt, status);
          const after = Number(e.headers?.get('retry-after'));
          if (status === 429 && Number.isFinite(after) && after > 0) waitMs = Math.max(waitMs, Math.min(after * 1000, RETRY_AFTER_CAP_MS));
          failure = new LlmCallError('http', text, attempt, status);
        } else if (e instanceof SyntaxError || (e instanceof OpenAI.OpenAIError && !(e instanceof OpenAI.APIError))) {
          failure = new LlmCallError('bad_response', clean(e.message), attempt);
        } else {
          failure = new LlmCallError('http', clean(connectionFailure(options.baseUrl, e)), attempt);
        }
      }
      if (attempt > options.maxRetries) throw failure;
      try {
        await sleep(options.timers, waitMs, signal);
      } catch {
        throw new LlmCallError('timeout', `the session deadline passed while backing off after: ${failure.message}`, attempt);
      }
    }
  };
}

/**
 * The audit trail of an LLM session: everything said and done, kept in LevelDB
 * (sublevel `transcripts`, key = session id) and saved after every model answer
 * and before every order intent leaves the agent, so a crash never loses why an
 * order exists, and a restarted process can continue the conversation.
 *
 * It is also the conversation's whole state (messages, tool calls still to run,
 * the trade call waiting for its result): the decider keeps nothing else.
 *
 * Secrets: the API key is never put here (requests are recorded as the messages
 * sent, not as HTTP requests); error texts are redacted before they are stored.
 */
import { z } from 'zod';
import type { Store } from '../../store/store.js';

export const TRANSCRIPT_SUBLEVEL = 'transcripts';

export const ToolCallSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  /** The arguments exactly as the model sent them (a JSON text, maybe not valid). */
  arguments: z.string(),
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

/** A chat message in the OpenAI chat-completions shape (what was sent and received). */
export const ChatMessageSchema = z.discriminatedUnion('role', [
  z.strictObject({ role: z.literal('system'), content: z.string() }),
  z.strictObject({ role: z.literal('user'), content: z.string() }),
  z.strictObject({
    role: z.literal('assistant'),
    content: z.string().nullable(),
    /** Some endpoints (DeepSeek reasoner, Qwen) return their reasoning apart from the content. */
    reasoning: z.string().optional(),
    tool_calls: z.array(ToolCallSchema).optional(),
  }),
  z.strictObject({ role: z.literal('tool'), tool_call_id: z.string(), content: z.string() }),
]);
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const UsageSchema = z.strictObject({ prompt: z.number().int(), completion: z.number().int(), total: z.number().int() });
export type Usage = z.infer<typeof UsageSchema>;

/** One model call (with its retries). */
export const ModelStepSchema = z.strictObject({
  /** 1, 2, ... within the session. */
  step: z.number().int().positive(),
  /** Wall-clock epoch ms when the first attempt was sent. */
  sentAtMs: z.number(),
  /** Wall-clock ms from the first attempt to the answer (or the failure). */
  latencyMs: z.number(),
  attempts: z.number().int().positive(),
  usage: UsageSchema.optional(),
  finishReason: z.string().optional(),
  /** Index in `messages` of the assistant message it produced. */
  messageIndex: z.number().int().optional(),
  /** Why it failed (redacted), when it did. */
  error: z.string().optional(),
});
export type ModelStep = z.infer<typeof ModelStepSchema>;

/** An order intent the model asked for with a buy/sell call. */
export const IntentLinkSchema = z.strictObject({
  /** The session's intent step (agent.decide step) it answered: the order's index in the session is step + 1. */
  intentStep: z.number().int().nonnegative(),
  /** The model step whose answer held the tool call. */
  modelStep: z.number().int().positive(),
  toolCallId: z.string(),
  side: z.enum(['buy', 'sell']),
  symbol: z.string(),
  quantity: z.number().int().positive(),
  /** Known once the result came back. */
  clientOrderId: z.string().optional(),
  status: z.string().optional(),
  reason: z.string().optional(),
});
export type IntentLink = z.infer<typeof IntentLinkSchema>;

export const TranscriptSchema = z.strictObject({
  version: z.literal(1),
  sessionId: z.string(),
  signature: z.string(),
  /** The session instant (ISO, exchange zone). */
  at: z.string(),
  model: z.strictObject({ basemodel: z.string(), baseUrl: z.string(), temperature: z.number() }),
  /** sha256 of the prompt template (first 12 hex), and its file. */
  promptVersion: z.string(),
  promptFile: z.string(),
  startedAtMs: z.number(),
  endedAtMs: z.number().optional(),
  status: z.enum(['running', 'done', 'hold']),
  reason: z.string().optional(),
  summary: z.string().optional(),
  messages: z.array(ChatMessageSchema),
  steps: z.array(ModelStepSchema),
  intents: z.array(IntentLinkSchema),
  /** Tool calls of the last assistant message not run yet. */
  queue: z.array(ToolCallSchema),
  /** The trade call whose order result the next decide brings. */
  awaiting: z.strictObject({ toolCallId: z.string(), intentStep: z.number().int().nonnegative() }).optional(),
  tokens: UsageSchema,
  /** Cost in the configured prices' currency (decimal string), when prices are configured. */
  cost: z.string().optional(),
});
export type Transcript = z.infer<typeof TranscriptSchema>;

export interface TranscriptStore {
  save(transcript: Transcript): Promise<void>;
  load(sessionId: string): Promise<Transcript | undefined>;
  /** Every transcript, by session id (= signature@instant) order; of one signature when given. */
  list(signature?: string): AsyncIterable<Transcript>;
}

/** Transcripts in the process's LevelDB store. */
export function levelTranscripts(store: Store): TranscriptStore {
  return {
    save: (t) => store.putRecord(TRANSCRIPT_SUBLEVEL, t.sessionId, t),
    load: async (sessionId) => {
      const raw = await store.getRecord(TRANSCRIPT_SUBLEVEL, sessionId);
      return raw === undefined ? undefined : TranscriptSchema.parse(raw);
    },
    async *list(signature) {
      const prefix = signature === undefined ? undefined : `${signature}@`;
      for await (const { value } of store.listRecords(TRANSCRIPT_SUBLEVEL, prefix ? { prefix } : {})) {
        yield TranscriptSchema.parse(value);
      }
    },
  };
}

/** Transcripts kept in memory (tests, a dry run). */
export function memoryTranscripts(): TranscriptStore & { readonly all: Map<string, Transcript> } {
  const all = new Map<string, Transcript>();
  return {
    all,
    save: async (t) => {
      all.set(t.sessionId, structuredClone(t));
    },
    load: async (id) => {
      const t = all.get(id);
      return t && structuredClone(t);
    },
    async *list(signature) {
      for (const key of [...all.keys()].sort()) {
        if (signature === undefined || key.startsWith(`${signature}@`)) yield structuredClone(all.get(key)!);
      }
    },
  };
}

/**
 * The LLM agent (`kind: llm`): AI-Trader's tool loop, one model call at a time,
 * inside the session machine's decide/execute steps.
 *
 * Each `agent.decide` continues the session's conversation:
 *  1. the first one builds the system prompt (template + account + prices at the
 *     session instant) and asks the model;
 *  2. info tool calls (prices, history, positions) are answered at once from the
 *     point-in-time view; a buy/sell call becomes the answer to `decide` (an order
 *     intent) and the next `decide`, which carries the order's result, answers it;
 *  3. an answer without tool calls ends the session (done, the text as summary).
 *
 * Every failure ends the session as HOLD (`done` with a reason, never `failed`,
 * never a half-parsed order): the deadline (LLM_TIMEOUT), an endpoint failing after
 * its retries (LLM_HTTP_ERROR), an unknown tool, bad JSON or bad arguments
 * (LLM_BAD_TOOL_CALL: the whole assistant message is refused), `max_steps` model
 * calls without finishing (LLM_MAX_STEPS), the token or cost budget (LLM_BUDGET; the
 * answer that overspent is not acted on). Orders placed earlier in the session stand.
 *
 * The transcript (transcript.ts) is the conversation's only state: it is saved
 * after each model answer and before an intent is returned, and loaded when a
 * restarted process asks to decide a session it has no memory of. If the saved
 * state does not line up with the session's step, the session holds
 * (LLM_RESUME_MISMATCH) rather than guess.
 */
import { Dec, dec } from '../../../domain/money.js';
import type { Message } from '../../../domain/messages.js';
import type { PointInTimeView } from '../../../domain/point-in-time.js';
import type { ReasonCode } from '../../../domain/reasons.js';
import type { LlmObserver } from '../../monitor/metrics.js';
import type { Decider, Decision } from '../agent.js';
import { LlmCallError, redact, type ChatCall } from './chat-client.js';
import { renderPrompt, type PromptTemplate } from './prompt.js';
import { searchTool, type SearchSettings } from './search.js';
import { answerInfoTool, BASE_TOOLS, orderResultText, parseToolCalls, type ToolName } from './tools.js';
import type { WallTimers } from './timers.js';
import type { ChatMessage, Transcript, TranscriptStore } from './transcript.js';

export interface LlmAgentSettings {
  readonly signature: string;
  readonly basemodel: string;
  readonly baseUrl: string;
  readonly temperature: number;
  readonly maxSteps: number;
  /** Wall-clock ms from the session's first decide. */
  readonly deadlineMs: number;
  readonly maxTokensPerSession?: number;
  readonly maxCostPerSession?: string;
  readonly inputCostPerMillion?: string;
  readonly outputCostPerMillion?: string;
  /** The news/search tool, when configured. */
  readonly search?: SearchSettings;
}

export interface LlmAgentDeps {
  readonly chat: ChatCall;
  readonly template: PromptTemplate;
  readonly transcripts: TranscriptStore;
  readonly timers: WallTimers;
  /** Values that must never be stored (the API key). */
  readonly secrets?: readonly string[];
  /** Told about every model call (metrics: latency, tokens). */
  readonly observer?: LlmObserver;
}

export const FIRST_USER_MESSAGE = 'Please analyze and update today\'s positions.';

const MILLION = dec(1_000_000);

function costOf(s: LlmAgentSettings, tokens: Transcript['tokens']): Dec | undefined {
  if (s.inputCostPerMillion === undefined && s.outputCostPerMillion === undefined) return undefined;
  const input = dec(s.inputCostPerMillion ?? '0').times(tokens.prompt).div(MILLION);
  const output = dec(s.outputCostPerMillion ?? '0').times(tokens.completion).div(MILLION);
  return input.plus(output);
}

export function llmDecider(settings: LlmAgentSettings, deps: LlmAgentDeps): Decider {
  /** Live conversations (a finished one is dropped; its transcript stays in the store). */
  const live = new Map<string, { transcript: Transcript }>();
  const clean = (text: string) => redact(text, deps.secrets ?? []);
  const tools: readonly ToolName[] = settings.search ? [...BASE_TOOLS, 'get_information'] : BASE_TOOLS;

  const save = (t: Transcript) => deps.transcripts.save(t);

  function attach(transcript: Transcript) {
    const entry = { transcript };
    live.set(transcript.sessionId, entry);
    return entry;
  }

  /**
   * The session deadline, armed only while one decide is in flight and disarmed when it
   * settles: a wall timer exists only while work waits on it, so it never outlives the
   * session and may keep the process alive (nothing here is unref'd).
   */
  function armDeadline(t: Transcript): { signal: AbortSignal; disarm: () => void } {
    const deadline = new AbortController();
    const remaining = t.startedAtMs + settings.deadlineMs - deps.timers.now();
    if (remaining <= 0) {
      deadline.abort(new Error('deadline'));
      return { signal: deadline.signal, disarm: () => {} };
    }
    const disarm = deps.timers.after(remaining, () => deadline.abort(new Error('deadline')));
    return { signal: deadline.signal, disarm };
  }

  async function finish(t: Transcript, status: 'done' | 'hold', summary: string, reason?: ReasonCode): Promise<Decision> {
    t.status = status;
    t.summary = clean(summary);
    if (reason) t.reason = reason;
    t.endedAtMs = deps.timers.now();
    t.queue = [];
    delete t.awaiting;
    live.delete(t.sessionId);
    await save(t);
    return reason ? { kind: 'done', summary: `HOLD (${reason}): ${t.summary}`, reason } : { kind: 'done', summary: t.summary };
  }

  async function start(request: Message<'agent.decide'>, view: PointInTimeView): Promise<Transcript> {
    const saved = await deps.transcripts.load(request.sessionId);
    if (saved) return saved;
    return {
      version: 1,
      sessionId: request.sessionId,
      signature: request.signature,
      at: request.at,
      model: { basemodel: settings.basemodel, baseUrl: settings.baseUrl, temperature: settings.temperature },
      promptVersion: deps.template.version,
      promptFile: deps.template.file,
      startedAtMs: deps.timers.now(),
      status: 'running',
      messages: [
        { role: 'system', content: renderPrompt(deps.template, request.signature, view, request.account) },
        { role: 'user', content: FIRST_USER_MESSAGE },
      ],
      steps: [],
      intents: [],
      queue: [],
      tokens: { prompt: 0, completion: 0, total: 0 },
    };
  }

  async function decide(request: Message<'agent.decide'>, view: PointInTimeView): Promise<Decision> {
    const known = live.get(request.sessionId);
    const transcript = known?.transcript ?? (await start(request, view));
    if (transcript.status !== 'running') {
      // A restarted process re-asks a session whose transcript already ended: the same answer, nothing attached.
      const t = transcript;
      return t.reason ? { kind: 'done', summary: t.summary ?? '', reason: t.reason as ReasonCode } : { kind: 'done', summary: t.summary ?? '' };
    }
    const t = (known ?? attach(transcript)).transcript;
    const deadline = armDeadline(t);
    try {
      return await converse(request, view, t, deadline.signal);
    } finally {
      deadline.disarm();
    }
  }

  async function converse(request: Message<'agent.decide'>, view: PointInTimeView, t: Transcript, deadline: AbortSignal): Promise<Decision> {

    // 0. The process stopped after the intent was saved and before the session took it: the
    // session asks for the same step again; the same intent (same client order id) is safe to give.
    if (t.awaiting && request.step === t.awaiting.intentStep) {
      const link = t.intents.find((i) => i.intentStep === request.step);
      if (link) return { kind: 'intent', intent: { side: link.side, symbol: link.symbol, quantity: link.quantity, type: 'market' } };
    }

    // 1. The order result of the trade call we answered last time.
    if (t.awaiting) {
      if (request.step !== t.awaiting.intentStep + 1) {
        return finish(t, 'hold', `expected the result of intent ${t.awaiting.intentStep}, got decide step ${request.step}`, 'LLM_RESUME_MISMATCH');
      }
      const result = request.results[t.awaiting.intentStep];
      t.messages.push({ role: 'tool', tool_call_id: t.awaiting.toolCallId, content: orderResultText(result) });
      const link = t.intents.find((i) => i.intentStep === t.awaiting!.intentStep);
      if (link && result) {
        if (result.clientOrderId) link.clientOrderId = result.clientOrderId;
        link.status = result.status;
        if (result.reason) link.reason = result.reason;
      }
      delete t.awaiting;
    } else if (request.step !== t.intents.length) {
      return finish(t, 'hold', `the transcript has ${t.intents.length} intents but the session is at step ${request.step}`, 'LLM_RESUME_MISMATCH');
    }

    for (;;) {
      // 2. Run the calls the model already made, in order; a trade leaves with the session.
      while (t.queue.length > 0) {
        const call = t.queue[0]!;
        const parsed = parseToolCalls([call], tools);
        if (!parsed.ok) return finish(t, 'hold', parsed.error, 'LLM_BAD_TOOL_CALL'); // re-validated after a restore
        const c = parsed.calls[0]!;
        t.queue.shift();
        if (c.name === 'buy' || c.name === 'sell') {
          const modelStep = t.steps.at(-1)?.step ?? 1;
          t.intents.push({ intentStep: request.step, modelStep, toolCallId: c.id, side: c.name, symbol: c.args.symbol, quantity: c.args.amount });
          t.awaiting = { toolCallId: c.id, intentStep: request.step };
          await save(t);
          return { kind: 'intent', intent: { side: c.name, symbol: c.args.symbol, quantity: c.args.amount, type: 'market' } };
        }
        const content =
          c.name === 'get_information' && settings.search
            ? await searchTool(settings.search, c.args.query, view.at, deadline, deps.timers)
            : answerInfoTool(c, view, request.account);
        t.messages.push({ role: 'tool', tool_call_id: c.id, content: clean(content) });
      }

      // 3. Ask the model.
      if (t.steps.length >= settings.maxSteps) {
        return finish(t, 'hold', `no final answer after ${settings.maxSteps} model steps`, 'LLM_MAX_STEPS');
      }
      if (deadline.aborted) {
        return finish(t, 'hold', `the session deadline of ${settings.deadlineMs / 1000} s passed`, 'LLM_TIMEOUT');
      }
      const step = t.steps.length + 1;
      const sentAtMs = deps.timers.now();
      let answer;
      try {
        answer = await deps.chat(t.messages, deadline);
      } catch (e) {
        const err = e instanceof LlmCallError ? e : new LlmCallError('http', (e as Error).message, 1);
        const latencyMs = deps.timers.now() - sentAtMs;
        t.steps.push({ step, sentAtMs, latencyMs, attempts: err.attempts, error: clean(err.message) });
        deps.observer?.observeLlmStep({ signature: settings.signature, model: settings.basemodel, latencyMs, ok: false });
        const reason: ReasonCode = err.kind === 'timeout' ? 'LLM_TIMEOUT' : 'LLM_HTTP_ERROR';
        return finish(t, 'hold', `model step ${step}: ${err.message}`, reason);
      }
      const messageIndex = t.messages.length;
      t.messages.push(answer.message);
      if (answer.usage) {
        t.tokens = {
          prompt: t.tokens.prompt + answer.usage.prompt,
          completion: t.tokens.completion + answer.usage.completion,
          total: t.tokens.total + answer.usage.total,
        };
      }
      const cost = costOf(settings, t.tokens);
      if (cost) t.cost = cost.toFixed();
      const latencyMs = deps.timers.now() - sentAtMs;
      deps.observer?.observeLlmStep({ signature: settings.signature, model: settings.basemodel, latencyMs, usage: answer.usage, ok: true });
      t.steps.push({
        step,
        sentAtMs,
        latencyMs,
        attempts: answer.attempts,
        ...(answer.usage ? { usage: answer.usage } : {}),
        ...(answer.finishReason ? { finishReason: answer.finishReason } : {}),
        messageIndex,
      });

      if (settings.maxTokensPerSession !== undefined && t.tokens.total > settings.maxTokensPerSession) {
        return finish(t, 'hold', `${t.tokens.total} tokens used, budget ${settings.maxTokensPerSession}`, 'LLM_BUDGET');
      }
      if (cost && settings.maxCostPerSession !== undefined && cost.gt(settings.maxCostPerSession)) {
        return finish(t, 'hold', `cost ${cost.toFixed()} spent, budget ${settings.maxCostPerSession}`, 'LLM_BUDGET');
      }
      const calls = answer.message.tool_calls ?? [];
      if (calls.length === 0) return finish(t, 'done', answer.message.content ?? '');
      const parsed = parseToolCalls(calls, tools);
      if (!parsed.ok) return finish(t, 'hold', parsed.error, 'LLM_BAD_TOOL_CALL');
      t.queue = [...calls];
      await save(t);
    }
  }

  /** A decide re-sent for the same step (a session's `resume`) shares the call in flight. */
  const inflight = new Map<string, { step: number; promise: Promise<Decision> }>();
  return {
    decide(request, view) {
      const running = inflight.get(request.sessionId);
      if (running && running.step === request.step) return running.promise;
      const promise = decide(request, view).finally(() => {
        if (inflight.get(request.sessionId)?.promise === promise) inflight.delete(request.sessionId);
      });
      inflight.set(request.sessionId, { step: request.step, promise });
      return promise;
    },
  };
}

/** The model's words around an order: for `explain`. */
export function reasoningFor(t: Transcript, modelStep: number): { content: string | null; reasoning?: string } | undefined {
  const s = t.steps.find((x) => x.step === modelStep);
  const m = s?.messageIndex === undefined ? undefined : (t.messages[s.messageIndex] as ChatMessage | undefined);
  if (!m || m.role !== 'assistant') return undefined;
  return { content: m.content, ...(m.reasoning !== undefined ? { reasoning: m.reasoning } : {}) };
}

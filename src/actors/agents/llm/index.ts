/**
 * Build an `llm` model's decider from the config: the prompt template (the model's
 * own or the market's built-in one), the API key from the environment variable
 * the config names, the chat client with the model's retries and the transcript
 * store of the run.
 */
import type { Config, LlmAgentSpec, ModelConfig } from '../../../config/schema.js';
import { readOptionalSecret } from '../../../config/env.js';
import type { LlmObserver } from '../../monitor/metrics.js';
import type { Decider } from '../agent.js';
import { openAiChat } from './chat-client.js';
import { llmDecider } from './llm-agent.js';
import { BUILT_IN_PROMPTS, loadPromptTemplate } from './prompt.js';
import { realTimers, type WallTimers } from './timers.js';
import { BASE_TOOLS, toolDefinitions } from './tools.js';
import type { TranscriptStore } from './transcript.js';

export interface LlmWiring {
  readonly transcripts: TranscriptStore;
  /** Metrics of every model call. */
  readonly observer?: LlmObserver;
  readonly timers?: WallTimers;
  readonly env?: NodeJS.ProcessEnv;
}

export async function createLlmDecider(model: ModelConfig & { agent: LlmAgentSpec }, config: Config, wiring: LlmWiring): Promise<Decider> {
  const a = model.agent;
  const timers = wiring.timers ?? realTimers;
  const apiKey = readOptionalSecret(a.api_key_env, wiring.env ?? process.env, `models[${model.signature}].agent.api_key_env`);
  const template = await loadPromptTemplate(a.prompt_template ?? BUILT_IN_PROMPTS[config.market]);
  const deadlineMs = a.deadline_seconds * 1000;
  const searchKey = a.search ? readOptionalSecret(a.search.api_key_env, wiring.env ?? process.env, `models[${model.signature}].agent.search.api_key_env`) : undefined;
  const search = a.search
    ? {
        url: a.search.url,
        ...(searchKey ? { apiKey: searchKey } : {}),
        maxResults: a.search.max_results,
        timeoutMs: a.search.timeout_seconds * 1000,
        requireDate: config.mode === 'backtest',
      }
    : undefined;
  const chat = openAiChat({
    baseUrl: a.base_url,
    ...(apiKey !== undefined ? { apiKey } : {}),
    model: a.basemodel,
    temperature: a.temperature,
    maxRetries: a.max_retries ?? config.agent_config.max_retries,
    baseDelayMs: config.agent_config.base_delay_seconds * 1000,
    timers,
    requestTimeoutMs: deadlineMs,
    tools: toolDefinitions(search ? [...BASE_TOOLS, 'get_information'] : BASE_TOOLS),
  });
  const str = (n: number | undefined) => (n === undefined ? undefined : String(n));
  const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));
  return llmDecider(
    {
      signature: model.signature,
      basemodel: a.basemodel,
      baseUrl: a.base_url,
      temperature: a.temperature,
      maxSteps: a.max_steps ?? config.agent_config.max_steps,
      deadlineMs,
      ...optional('maxTokensPerSession', a.max_tokens_per_session),
      ...optional('maxCostPerSession', str(a.max_cost_per_session)),
      ...optional('inputCostPerMillion', str(a.input_cost_per_million)),
      ...optional('outputCostPerMillion', str(a.output_cost_per_million)),
      ...optional('search', search),
    },
    { chat, template, transcripts: wiring.transcripts, timers, ...(wiring.observer ? { observer: wiring.observer } : {}), secrets: [apiKey, searchKey].filter((k): k is string => k !== undefined) },
  );
}

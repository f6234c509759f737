/** The optional news/search tool: offered only when configured, never returns what was published after the session. */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelledBarAt } from '../../../src/actors/brokers/simulated-broker.js';
import { openAiChat } from '../../../src/actors/agents/llm/chat-client.js';
import { llmDecider, type LlmAgentSettings } from '../../../src/actors/agents/llm/llm-agent.js';
import { BUILT_IN_PROMPTS, loadPromptTemplate } from '../../../src/actors/agents/llm/prompt.js';
import { readHits } from '../../../src/actors/agents/llm/search.js';
import { ManualTimers } from '../../../src/actors/agents/llm/timers.js';
import { BASE_TOOLS, toolDefinitions } from '../../../src/actors/agents/llm/tools.js';
import { memoryTranscripts } from '../../../src/actors/agents/llm/transcript.js';
import { loadPriceStore } from '../../../src/actors/market-data/alpha-vantage-file.js';
import type { Message } from '../../../src/domain/messages.js';
import { viewAt } from '../../../src/domain/point-in-time.js';
import { call, LlmTestServer, say } from '../../support/llm-server.js';

const AT = DateTime.fromISO('2025-10-20T09:35:00', { zone: 'Asia/Shanghai' });
const SEARCH_KEY = 'jina-SECRET-key-123';
const NEWS = {
  code: 200,
  data: [
    { title: 'Moutai results', url: 'https://example.com/a', description: 'Q3 profit up', date: '2025-10-18T08:00:00+08:00' },
    { title: 'Tomorrow\u2019s news', url: 'https://example.com/b', description: 'from the future', date: '2025-10-21T08:00:00+08:00' },
    { title: 'Undated page', url: 'https://example.com/c', content: 'no date' },
  ],
};

let llm: LlmTestServer;
let search: { url: string; requests: IncomingMessage[]; close: () => Promise<void> };
beforeAll(async () => {
  llm = await LlmTestServer.start();
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(NEWS));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  search = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/search`, requests, close: () => new Promise((r) => server.close(() => r())) };
});
afterAll(async () => {
  await llm.close();
  await search.close();
});

describe('get_information', () => {
  it('reads hits no later than the instant; undated ones only when dates are not required', () => {
    expect(readHits(NEWS, AT, { maxResults: 5, requireDate: false }).map((h) => h.title)).toEqual(['Moutai results', 'Undated page']);
    expect(readHits(NEWS, AT, { maxResults: 5, requireDate: true }).map((h) => h.title)).toEqual(['Moutai results']);
    expect(readHits({ results: NEWS.data }, AT, { maxResults: 1, requireDate: false })).toHaveLength(1);
    expect(toolDefinitions(BASE_TOOLS).map((t) => (t.type === 'function' ? t.function.name : ''))).not.toContain('get_information');
  });

  it('is offered with a configured search, answers from the endpoint with the key in the header only', async () => {
    const prices = await loadPriceStore(new URL('../../../data/sample/cn_daily.jsonl', import.meta.url), { market: 'cn' });
    const view = viewAt(prices, AT, (s) => labelledBarAt(prices, s, AT));
    const timers = new ManualTimers(0);
    const transcripts = memoryTranscripts();
    const tools = toolDefinitions([...BASE_TOOLS, 'get_information']);
    const settings: LlmAgentSettings = {
      signature: 's',
      basemodel: 'searcher',
      baseUrl: llm.url,
      temperature: 0,
      maxSteps: 5,
      deadlineMs: 60_000,
      search: { url: search.url, apiKey: SEARCH_KEY, maxResults: 5, timeoutMs: 10_000, requireDate: true },
    };
    const decider = llmDecider(settings, {
      chat: openAiChat({ baseUrl: llm.url, model: 'searcher', temperature: 0, maxRetries: 0, baseDelayMs: 1, timers, requestTimeoutMs: 60_000, tools }),
      template: await loadPromptTemplate(BUILT_IN_PROMPTS.cn),
      transcripts,
      timers,
      secrets: [SEARCH_KEY],
    });
    llm.script('searcher', call('get_information', { query: 'Moutai Q3' }), say('Read the news; holding.'));
    const request: Message<'agent.decide'> = {
      type: 'agent.decide',
      sessionId: 's@x',
      signature: 's',
      at: AT.toISO()!,
      step: 0,
      market: { at: AT.toISO()!, quotes: {} },
      account: { signature: 's', cash: '1000', positions: {}, equity: '1000', startOfDayEquity: '1000' },
      results: [],
      replyTo: 'session:x',
    };
    expect(await decider.decide(request, view)).toEqual({ kind: 'done', summary: 'Read the news; holding.' });
    expect(llm.requestsFor('searcher')[0]!.body.tools!.map((t) => (t as { function: { name: string } }).function.name)).toContain('get_information');
    const answer = JSON.parse(llm.requestsFor('searcher')[1]!.body.messages.at(-1)!.content!) as { results: { title: string }[] };
    expect(answer.results.map((r) => r.title)).toEqual(['Moutai results']);
    expect(search.requests[0]!.url).toBe('/search?q=Moutai+Q3');
    expect(search.requests[0]!.headers.authorization).toBe(`Bearer ${SEARCH_KEY}`);
    expect(JSON.stringify([...transcripts.all.values()])).not.toContain(SEARCH_KEY);
  });
});

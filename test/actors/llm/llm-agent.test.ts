/**
 * The LLM decider against a real local OpenAI-compatible server (test/support/llm-server.ts),
 * through the real `openai` client; wall time (deadlines, back-off) on ManualTimers.
 */
import { DateTime } from 'luxon';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/actors/agents/agent.js';
import { labelledBarAt } from '../../../src/actors/brokers/simulated-broker.js';
import { openAiChat } from '../../../src/actors/agents/llm/chat-client.js';
import { llmDecider, type LlmAgentSettings } from '../../../src/actors/agents/llm/llm-agent.js';
import { BUILT_IN_PROMPTS, loadPromptTemplate, type PromptTemplate } from '../../../src/actors/agents/llm/prompt.js';
import { ManualTimers } from '../../../src/actors/agents/llm/timers.js';
import { memoryTranscripts } from '../../../src/actors/agents/llm/transcript.js';
import { loadPriceStore } from '../../../src/actors/market-data/alpha-vantage-file.js';
import type { Message } from '../../../src/domain/messages.js';
import type { OrderResult } from '../../../src/domain/orders.js';
import { viewAt, type PointInTimeView } from '../../../src/domain/point-in-time.js';
import type { PriceStore } from '../../../src/domain/price-store.js';
import { call, calls, LlmTestServer, say } from '../../support/llm-server.js';

const SAMPLE = new URL('../../../data/sample/cn_daily.jsonl', import.meta.url);
const AT = DateTime.fromISO('2025-10-20T09:35:00', { zone: 'Asia/Shanghai' });
const SECRET = 'sk-test-SECRET-0123456789';

let server: LlmTestServer;
let prices: PriceStore;
let template: PromptTemplate;
let view: PointInTimeView;

beforeAll(async () => {
  server = await LlmTestServer.start();
  prices = await loadPriceStore(SAMPLE, { market: 'cn' });
  template = await loadPromptTemplate(BUILT_IN_PROMPTS.cn);
  view = viewAt(prices, AT, (s) => labelledBarAt(prices, s, AT));
});
afterAll(() => server.close());

let modelSeq = 0;
let model: string;
beforeEach(() => {
  model = `m${++modelSeq}`;
});

const account = {
  signature: 'llm-a',
  cash: '100000',
  positions: { '600519.SH': { quantity: 100, sellable: 100, costBasis: '1450' } },
  equity: '245000',
  startOfDayEquity: '245000',
};

function request(step: number, results: OrderResult[] = [], sessionId = `llm-a@${AT.toISO()}`): Message<'agent.decide'> {
  return { type: 'agent.decide', sessionId, signature: 'llm-a', at: AT.toISO()!, step, market: { at: AT.toISO()!, quotes: {} }, account, results, replyTo: 'session:x' };
}

function filled(side: 'buy' | 'sell', symbol: string, quantity: number, cid: string): OrderResult {
  return { clientOrderId: cid, intent: { side, symbol, quantity, type: 'market' }, status: 'filled', filledQuantity: quantity, averagePrice: '10.5', fees: '5' };
}

function setup(overrides: Partial<LlmAgentSettings> = {}, retries = 2) {
  const timers = new ManualTimers(1_000_000);
  const transcripts = memoryTranscripts();
  const settings: LlmAgentSettings = { signature: 'llm-a', basemodel: model, baseUrl: server.url, temperature: 0, maxSteps: 10, deadlineMs: 120_000, ...overrides };
  const make = () =>
    llmDecider(settings, {
      chat: openAiChat({ baseUrl: server.url, apiKey: SECRET, model, temperature: 0, maxRetries: retries, baseDelayMs: 1000, timers, requestTimeoutMs: 600_000 }),
      template,
      transcripts,
      timers,
      secrets: [SECRET],
    });
  return { timers, transcripts, decider: make(), make };
}

/** Wait (on I/O, not on time) until the server has seen `n` requests of the model. */
async function requestsReach(n: number): Promise<void> {
  while (server.requestsFor(model).length < n) await new Promise((r) => setImmediate(r));
}
const decide = (d: ReturnType<typeof setup>['decider'], r: Message<'agent.decide'>) => Promise.resolve(d.decide(r, view));

describe('the tool loop', () => {
  it('answers info tools from the session view, turns buy into an intent and feeds its result back', async () => {
    server.script(
      model,
      call('get_price_local', { symbol: '600519.SH' }, { content: 'Checking Moutai.' }),
      call('buy', { symbol: '601318.SH', amount: 200 }, { content: 'Ping An looks cheap; buying 200.' }),
      say('Bought 200 601318.SH. Holding the rest.'),
    );
    const { decider, transcripts } = setup();
    const first = await decide(decider, request(0));
    expect(first).toEqual({ kind: 'intent', intent: { side: 'buy', symbol: '601318.SH', quantity: 200, type: 'market' } });

    const second = await decide(decider, request(1, [filled('buy', '601318.SH', 200, 'llm-a.20251020T0935.1')]));
    expect(second).toEqual({ kind: 'done', summary: 'Bought 200 601318.SH. Holding the rest.' });

    const reqs = server.requestsFor(model);
    expect(reqs).toHaveLength(3);
    // The system prompt carries the date, the account and prices known at the instant.
    const system = reqs[0]!.body.messages[0]!.content!;
    expect(system).toContain('Today is 2025-10-20 (Monday)');
    expect(system).toContain('600519.SH: 100, sellable 100, cost 1450');
    expect(system).toContain(`600519.SH: ${view.price('600519.SH')!.price.toFixed()}`);
    expect(reqs[0]!.body.tools).toHaveLength(5);
    expect(reqs[0]!.headers.authorization).toBe(`Bearer ${SECRET}`);
    // The price tool's answer, then the order result, went back as tool messages.
    const priceAnswer = JSON.parse(reqs[1]!.body.messages.at(-1)!.content!);
    expect(priceAnswer).toMatchObject({ symbol: '600519.SH', price: view.price('600519.SH')!.price.toFixed() });
    const orderAnswer = JSON.parse(reqs[2]!.body.messages.at(-1)!.content!);
    expect(orderAnswer).toMatchObject({ status: 'filled', filled: 200, client_order_id: 'llm-a.20251020T0935.1', average_price: '10.5' });

    const t = transcripts.all.get(`llm-a@${AT.toISO()}`)!;
    expect(t).toMatchObject({ status: 'done', promptVersion: template.version, tokens: { prompt: 300, completion: 60, total: 360 } });
    expect(t.intents).toEqual([
      expect.objectContaining({ intentStep: 0, modelStep: 2, side: 'buy', symbol: '601318.SH', quantity: 200, clientOrderId: 'llm-a.20251020T0935.1', status: 'filled' }),
    ]);
    expect(JSON.stringify(t)).not.toContain(SECRET);
  });

  it('runs several tool calls of one answer in order, the trade last answered after its result', async () => {
    server.script(
      model,
      calls([
        { name: 'get_positions', arguments: {} },
        { name: 'sell', arguments: { symbol: '600519.SH', amount: 100 } },
        { name: 'buy', arguments: { symbol: '601318.SH', amount: 100 } },
      ]),
      say('Rotated.'),
    );
    const { decider } = setup();
    expect(await decide(decider, request(0))).toMatchObject({ kind: 'intent', intent: { side: 'sell', symbol: '600519.SH' } });
    expect(await decide(decider, request(1, [filled('sell', '600519.SH', 100, 'c1')]))).toMatchObject({ kind: 'intent', intent: { side: 'buy' } });
    expect(server.requestsFor(model)).toHaveLength(1); // no model call between the two trades
    expect(await decide(decider, request(2, [filled('sell', '600519.SH', 100, 'c1'), filled('buy', '601318.SH', 100, 'c2')]))).toEqual({ kind: 'done', summary: 'Rotated.' });
    const msgs = server.requestsFor(model)[1]!.body.messages;
    expect(msgs.filter((m) => m.role === 'tool').map((m) => JSON.parse(m.content!).status ?? 'account')).toEqual(['account', 'filled', 'filled']);
  });

  it('never shows a price from after the session instant', async () => {
    server.script(
      model,
      calls([
        { name: 'get_price_local', arguments: { symbol: '600519.SH', date: '2025-11-03' } },
        { name: 'get_price_history', arguments: { symbol: '600519.SH', bars: 100 } },
        { name: 'get_price_local', arguments: { symbol: '600519.SH', date: '2025-10-17' } },
      ]),
      say('done'),
    );
    const { decider } = setup();
    await decide(decider, request(0));
    const tools = server.requestsFor(model)[1]!.body.messages.filter((m) => m.role === 'tool').map((m) => JSON.parse(m.content!));
    expect(tools[0].error).toMatch(/2025-11-03 is in the future/);
    const history = tools[1].bars as { time: string }[];
    expect(history.length).toBeGreaterThan(3);
    expect(history.every((b) => b.time < '2025-10-20')).toBe(true);
    expect(history.at(-1)!.time).toBe('2025-10-17');
    expect(tools[2].bars).toHaveLength(1);
    expect(tools[2].bars[0].close).toBe(prices.barsAsOf('600519.SH', AT, 1)[0]!.close.toFixed());
  });
});

describe('every failure holds, with its reason', () => {
  const hold = (d: Decision) => (d.kind === 'done' ? d.reason : `intent ${JSON.stringify(d.intent)}`);

  it('an unknown tool: LLM_BAD_TOOL_CALL', async () => {
    server.script(model, call('short_sell', { symbol: 'X', amount: 1 }));
    const { decider, transcripts } = setup();
    const d = await decide(decider, request(0));
    expect(hold(d)).toBe('LLM_BAD_TOOL_CALL');
    expect(d.kind === 'done' && d.summary).toMatch(/unknown tool "short_sell"/);
    expect(transcripts.all.get(`llm-a@${AT.toISO()}`)).toMatchObject({ status: 'hold', reason: 'LLM_BAD_TOOL_CALL' });
  });

  it('invalid JSON arguments: no order from a half-parsed call, even next to a valid one', async () => {
    server.script(
      model,
      calls([
        { name: 'buy', arguments: { symbol: '601318.SH', amount: 100 } },
        { name: 'sell', arguments: '{"symbol": "600519.SH", "amount": 1' },
      ]),
    );
    const { decider } = setup();
    const d = await decide(decider, request(0));
    expect(hold(d)).toBe('LLM_BAD_TOOL_CALL');
    expect(d.kind === 'done' && d.summary).toMatch(/sell \(call .*\): arguments are not valid JSON/);
  });

  it('arguments of the wrong shape: the field and what was expected', async () => {
    server.script(model, call('buy', { symbol: '601318.SH', amount: 12.5 }));
    const d = await decide(setup().decider, request(0));
    expect(hold(d)).toBe('LLM_BAD_TOOL_CALL');
    expect(d.kind === 'done' && d.summary).toMatch(/amount: expected a whole number of shares/);
  });

  it('HTTP 500 after every retry: LLM_HTTP_ERROR, backing off base * 2^attempt on the wall clock', async () => {
    server.script(model, { kind: 'error', status: 500 }, { kind: 'error', status: 502 }, { kind: 'error', status: 503 });
    const { decider, timers, transcripts } = setup({}, 2);
    const start = timers.now();
    const pending = decide(decider, request(0));
    await requestsReach(1);
    while (timers.pending < 2) await new Promise((r) => setImmediate(r)); // deadline + back-off
    timers.advance(999);
    expect(server.requestsFor(model)).toHaveLength(1);
    timers.advance(1);
    await requestsReach(2);
    while (timers.pending < 2) await new Promise((r) => setImmediate(r));
    timers.advance(2000);
    await requestsReach(3);
    const d = await pending;
    expect(hold(d)).toBe('LLM_HTTP_ERROR');
    const step = transcripts.all.get(`llm-a@${AT.toISO()}`)!.steps[0]!;
    expect(step).toMatchObject({ attempts: 3, latencyMs: 3000 });
    expect(step.error).toMatch(/HTTP 503/);
    expect(timers.now() - start).toBe(3000);
  });

  it('429 with retry-after, then an answer: carries on', async () => {
    server.script(model, { kind: 'error', status: 429, headers: { 'retry-after': '5' } }, say('nothing to do'));
    const { decider, timers } = setup({}, 1);
    const pending = decide(decider, request(0));
    await requestsReach(1);
    while (timers.pending < 2) await new Promise((r) => setImmediate(r));
    timers.advance(4999);
    expect(server.requestsFor(model)).toHaveLength(1);
    timers.advance(1);
    expect(await pending).toEqual({ kind: 'done', summary: 'nothing to do' });
  });

  it('401 is not retried, and a key the server echoes is redacted', async () => {
    server.script(model, { kind: 'error', status: 401, body: { error: { message: `Incorrect API key provided: ${SECRET}` } } });
    const { decider, transcripts } = setup({}, 3);
    const d = await decide(decider, request(0));
    expect(hold(d)).toBe('LLM_HTTP_ERROR');
    expect(server.requestsFor(model)).toHaveLength(1);
    expect(d.kind === 'done' && d.summary).toContain('[redacted]');
    expect(JSON.stringify([...transcripts.all.values()])).not.toContain(SECRET);
    expect(JSON.stringify(d)).not.toContain(SECRET);
  });

  it('a garbage body is not an answer', async () => {
    server.script(model, { kind: 'raw', body: '<html>bad gateway</html>', contentType: 'text/html' });
    const d = await decide(setup({}, 0).decider, request(0));
    expect(hold(d)).toBe('LLM_HTTP_ERROR');
    expect(d.kind === 'done' && d.summary).toMatch(/not a chat completion/);
  });

  it('a slow model: the deadline aborts the call, LLM_TIMEOUT', async () => {
    server.script(model, { kind: 'hang' });
    const { decider, timers } = setup({ deadlineMs: 30_000 });
    const pending = decide(decider, request(0));
    await requestsReach(1);
    timers.advance(30_000);
    const d = await pending;
    expect(hold(d)).toBe('LLM_TIMEOUT');
  });

  it('no wall timer outlives a decide: none waits while the order runs, and the deadline still spans the session', async () => {
    server.script(model, call('buy', { symbol: '601318.SH', amount: 200 }), say('never asked'));
    const { decider, timers } = setup({ deadlineMs: 30_000 });
    const first = await decide(decider, request(0));
    expect(first.kind).toBe('intent');
    // Between decides nothing is armed: a process whose session was dropped here can still exit.
    expect(timers.pending).toBe(0);
    timers.advance(30_000); // the order took the whole deadline (wall time)
    const second = await decide(decider, request(1, [filled('buy', '601318.SH', 200, 'llm-a.20251020T0935.1')]));
    expect(hold(second)).toBe('LLM_TIMEOUT');
    expect(server.requestsFor(model)).toHaveLength(1);
    expect(timers.pending).toBe(0);
  });

  it('a refused connection: LLM_HTTP_ERROR naming the endpoint and "connection refused"', async () => {
    const closed = await LlmTestServer.start();
    const url = closed.url;
    await closed.close(); // nothing listens on its port any more
    const timers = new ManualTimers(0);
    const decider = llmDecider(
      { signature: 'llm-a', basemodel: model, baseUrl: url, temperature: 0, maxSteps: 10, deadlineMs: 120_000 },
      { chat: openAiChat({ baseUrl: url, model, temperature: 0, maxRetries: 0, baseDelayMs: 1000, timers, requestTimeoutMs: 600_000 }), template, transcripts: memoryTranscripts(), timers },
    );
    const d = await decide(decider, request(0));
    expect(hold(d)).toBe('LLM_HTTP_ERROR');
    expect(d.kind === 'done' && d.summary).toContain(`connection to ${url} failed: connection refused (ECONNREFUSED)`);
    expect(timers.pending).toBe(0);
  });

  it('a model that never stops: LLM_MAX_STEPS', async () => {
    server.script(model, ...Array.from({ length: 4 }, () => call('get_positions', {})));
    const d = await decide(setup({ maxSteps: 3 }).decider, request(0));
    expect(hold(d)).toBe('LLM_MAX_STEPS');
    expect(server.requestsFor(model)).toHaveLength(3);
  });

  it('a spent token budget: LLM_BUDGET, and the answer that overspent is not acted on', async () => {
    server.script(model, call('get_positions', {}, { usage: { prompt: 600, completion: 100 } }), call('buy', { symbol: '601318.SH', amount: 100 }, { usage: { prompt: 700, completion: 100 } }));
    const d = await decide(setup({ maxTokensPerSession: 1000 }).decider, request(0));
    expect(hold(d)).toBe('LLM_BUDGET');
  });

  it('a spent cost budget: LLM_BUDGET, cost computed exactly from the token prices', async () => {
    server.script(model, call('get_positions', {}, { usage: { prompt: 300_000, completion: 10_000 } }), say('x'));
    const { decider, transcripts } = setup({ maxCostPerSession: '1', inputCostPerMillion: '2.5', outputCostPerMillion: '10' });
    const d = await decide(decider, request(0));
    expect(hold(d)).toBe(undefined); // 0.75 + 0.1 = 0.85 <= 1 after step 1; step 2 adds (100 + 20) tokens
    expect(transcripts.all.get(`llm-a@${AT.toISO()}`)!.cost).toBe('0.85045');
    server.script(model, call('get_positions', {}, { usage: { prompt: 400_000, completion: 10_000 } }));
    const d2 = await decide(setup({ maxCostPerSession: '1', inputCostPerMillion: '2.5', outputCostPerMillion: '10' }).decider, request(0, [], 'llm-a@other'));
    expect(hold(d2)).toBe('LLM_BUDGET');
  });
});

describe('a restart', () => {
  it('continues the conversation from the saved transcript', async () => {
    server.script(model, call('buy', { symbol: '601318.SH', amount: 100 }), say('done after restart'));
    const { decider, make } = setup();
    expect(await decide(decider, request(0))).toMatchObject({ kind: 'intent' });
    const restarted = make();
    expect(await decide(restarted, request(1, [filled('buy', '601318.SH', 100, 'c1')]))).toEqual({ kind: 'done', summary: 'done after restart' });
    expect(JSON.parse(server.requestsFor(model)[1]!.body.messages.at(-1)!.content!)).toMatchObject({ status: 'filled', client_order_id: 'c1' });
  });

  it('gives the same intent again when the session re-asks the step it was answered (stopped before the session took it)', async () => {
    server.script(model, call('buy', { symbol: '601318.SH', amount: 100 }), say('done'));
    const { decider, make } = setup();
    const first = await decide(decider, request(0));
    const restarted = make();
    expect(await decide(restarted, request(0))).toEqual(first);
    expect(server.requestsFor(model)).toHaveLength(1); // the model was not asked again
    expect(await decide(restarted, request(1, [filled('buy', '601318.SH', 100, 'c1')]))).toEqual({ kind: 'done', summary: 'done' });
  });

  it('holds when the saved transcript does not line up with the session', async () => {
    server.script(model, call('buy', { symbol: '601318.SH', amount: 100 }));
    const { decider, make } = setup();
    await decide(decider, request(0));
    const d = await decide(make(), request(3, []));
    expect(d).toMatchObject({ kind: 'done', reason: 'LLM_RESUME_MISMATCH' });
  });

  it('a decide re-sent for the same step shares the call in flight', async () => {
    server.script(model, say('once'));
    const { decider } = setup();
    const [a, b] = await Promise.all([decide(decider, request(0)), decide(decider, request(0))]);
    expect(a).toEqual(b);
    expect(server.requestsFor(model)).toHaveLength(1);
  });
});

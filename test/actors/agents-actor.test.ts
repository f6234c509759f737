import { DateTime } from 'luxon';
import { createActor, fromCallback, setup, type AnyActorLogic } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decider, Decision } from '../../src/actors/agents/agent.js';
import { agentActor } from '../../src/actors/agents/agent-actor.js';
import { aiTraderLabel, loadReplayLog, replayDecider } from '../../src/actors/agents/replay-agent.js';
import { rulesDecider } from '../../src/actors/agents/rules-agent.js';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import type { AnyMessage, Message } from '../../src/domain/messages.js';
import { viewAt, type PointInTimeView } from '../../src/domain/point-in-time.js';
import type { PriceStore } from '../../src/domain/price-store.js';
import { marketDataActor } from '../../src/actors/market-data/market-data-actor.js';
import { AT_MS, engineInput, startHarness, tick, type Harness } from '../support/engine-harness.js';
import { World } from '../support/world.js';
import { AI_TRADER } from '../support/fixtures.js';

const SAMPLE = new URL('../../data/sample/', import.meta.url);
const LOGS = new URL('agent-logs/', AI_TRADER);

/** A tiny system: the actor under test as `agent`, and a recorder as `session:X`. */
function system(agent: AnyActorLogic) {
  const got: AnyMessage[] = [];
  const recorder = fromCallback<AnyMessage>(({ receive }) => receive((m) => got.push(m)));
  const root = setup({ actors: { agent, recorder } }).createMachine({
    invoke: { src: 'agent', id: 'agent', systemId: 'agent' },
    initial: 'on',
    states: {
      on: {
        invoke: { src: 'recorder', id: 'recorder', systemId: 'session:X' },
        on: { 'test.dropSession': 'sessionGone' },
      },
      // The recorder is stopped here (the session is gone); the agent runs on.
      sessionGone: {},
    },
  });
  const errors: unknown[] = [];
  const actor = createActor(root);
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  return { actor, got, errors, agent: () => actor.system.get('agent')! };
}

const CN_AT = '2025-10-27T09:35:00+08:00';

function decide(signature: string, step: number, extra: Partial<Message<'agent.decide'>> = {}): Message<'agent.decide'> {
  return {
    type: 'agent.decide',
    sessionId: 'X',
    signature,
    at: CN_AT,
    step,
    market: { at: CN_AT, quotes: {} },
    account: { signature, cash: '100000', positions: {}, equity: '100000', startOfDayEquity: '100000' },
    results: [],
    replyTo: 'session:X',
    ...extra,
  };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('agent system actor', () => {
  it('routes each decide to the decider of its signature with a view bound to the session instant, and replies to replyTo', async () => {
    const store: PriceStore = await loadPriceStore(new URL('cn_daily.jsonl', SAMPLE));
    const seen: string[] = [];
    const views = (at: DateTime): PointInTimeView => {
      seen.push(at.toISO()!);
      return viewAt(store, at, () => undefined);
    };
    const log = await loadReplayLog(new URL('cn-daily.gpt-5.position.jsonl', LOGS));
    const deciders: Record<string, Decider> = {
      rules: rulesDecider({ strategy: 'equal_weight', params: { lookback: 5, top_n: 5, rebalance_threshold: 0.05, symbols: ['600036.SH', '601318.SH'] } }, { market: 'cn' }),
      replay: replayDecider(log, { labelOf: (t) => aiTraderLabel(t, 'daily', 'cn') }),
    };
    const { got, agent, errors } = system(agentActor(deciders, views, () => 42));
    agent().send(decide('rules', 0));
    agent().send(decide('rules', 1, { results: [] }));
    agent().send(decide('replay', 2, { at: '2025-10-09T09:35:00+08:00' }));
    agent().send(decide('replay', 9, { at: '2025-10-09T09:35:00+08:00' }));
    // Synchronous deciders answer at once, in order.
    expect(got.map((m) => m.type)).toEqual(['agent.intent', 'agent.intent', 'agent.intent', 'agent.done']);
    expect(got[0]).toMatchObject({ type: 'agent.intent', sessionId: 'X', step: 0, tsEvent: 42, intent: { side: 'buy', symbol: '600036.SH' } });
    expect(got[1]).toMatchObject({ step: 1 });
    const third = log.labels.get('2025-10-09')!.actions[2]!;
    expect(got[2]).toMatchObject({ step: 2, intent: { side: third.side, symbol: third.symbol, quantity: third.quantity, type: 'market' } });
    expect(got[3]).toEqual({ type: 'agent.done', sessionId: 'X', summary: 'replayed 9 actions of 2025-10-09', tsEvent: 42 });
    expect(DateTime.fromISO(seen[0]!).toMillis()).toBe(DateTime.fromISO(CN_AT).toMillis());
    expect(errors).toEqual([]);
  });

  it('answers agent.failed for an unknown signature, a throwing decider, a rejecting one and an invalid intent', async () => {
    const deciders: Record<string, Decider> = {
      throws: { decide: () => { throw new Error('boom'); } },
      rejects: { decide: () => Promise.reject(new Error('model unreachable')) },
      bad: { decide: () => ({ kind: 'intent', intent: { side: 'buy', symbol: 'AAPL', quantity: 0, type: 'market' } }) },
    };
    const { got, agent, errors } = system(agentActor(deciders, () => ({}) as PointInTimeView, () => 7));
    agent().send(decide('nobody', 0));
    agent().send(decide('throws', 0));
    agent().send(decide('rejects', 0));
    agent().send(decide('bad', 0));
    agent().send(decide('throws', 0, { at: 'yesterday' }));
    await flush();
    const failed = got.filter((m): m is Message<'agent.failed'> => m.type === 'agent.failed');
    expect(failed).toHaveLength(5);
    expect(failed.map((m) => m.message)).toEqual([
      'no agent for signature "nobody" (known: bad, rejects, throws)',
      'throws: boom',
      expect.stringContaining('invalid order intent'),
      'not an ISO instant: "yesterday"',
      'rejects: model unreachable',
    ]);
    expect(failed.every((m) => m.sessionId === 'X' && m.tsEvent === 7)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('answers an async decider when it resolves, with the step it was asked', async () => {
    let release!: (d: Decision) => void;
    const slow: Decider = { decide: () => new Promise<Decision>((r) => (release = r)) };
    let now = 100;
    const { got, agent } = system(agentActor({ llm: slow }, () => ({}) as PointInTimeView, () => now));
    agent().send(decide('llm', 3));
    await flush();
    expect(got).toEqual([]);
    now = 250;
    release({ kind: 'intent', intent: { side: 'sell', symbol: 'AAPL', quantity: 2, type: 'market' } });
    await flush();
    expect(got).toEqual([
      { type: 'agent.intent', sessionId: 'X', step: 3, intent: { side: 'sell', symbol: 'AAPL', quantity: 2, type: 'market' }, tsEvent: 250 },
    ]);
  });

  it('drops a reply whose session is gone, and one that is ready after the actor stopped', async () => {
    const pending: ((d: Decision) => void)[] = [];
    const slow: Decider = { decide: () => new Promise<Decision>((r) => pending.push(r)) };
    const { actor, got, agent, errors } = system(agentActor({ llm: slow }, () => ({}) as PointInTimeView, () => 0));
    agent().send(decide('llm', 0));
    agent().send(decide('llm', 0, { replyTo: 'session:never-was' }));
    actor.send({ type: 'test.dropSession' });
    expect(actor.system.get('session:X')).toBeUndefined();
    pending.forEach((r) => r({ kind: 'done', summary: 'late' }));
    await flush();
    expect(got).toEqual([]);
    // Stopped actor: a decision ready afterwards goes nowhere and throws nothing.
    agent().send(decide('llm', 1));
    actor.stop();
    pending.at(-1)!({ kind: 'done', summary: 'later' });
    await flush();
    expect(got).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('agent and market data actors in the real engine', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('a replayed A-share day runs through the real session machine with synchronous replies', async () => {
    const store = await loadPriceStore(new URL('cn_daily.jsonl', SAMPLE));
    const views = (at: DateTime) => viewAt(store, at, () => undefined);
    const log = await loadReplayLog(new URL('cn-daily.gpt-5.position.jsonl', LOGS));
    const world = new World(AT_MS, { intents: {} });
    const now = () => world.now;
    const actors = {
      ...world.actors(),
      agent: agentActor({ alpha: replayDecider(log, { labelOf: (t) => aiTraderLabel(t, 'daily', 'cn') }) }, views, now),
      marketData: marketDataActor(views, now),
    };
    harness = await startHarness(world, engineInput(), { actors });
    harness.runtime.send(tick()); // 2025-10-09T09:35:00+08:00
    world.runToEnd();
    await harness.runtime.flush();
    const outcome = harness.runtime.actor.getSnapshot().context.history.find((o) => o.signature === 'alpha')!;
    expect(outcome.status).toBe('completed');
    expect(outcome.summary).toBe('replayed 9 actions of 2025-10-09');
    expect(outcome.results.map((r) => [r.intent.symbol, r.intent.quantity, r.status])).toEqual(
      log.labels.get('2025-10-09')!.actions.map((a) => [a.symbol, a.quantity, 'filled']),
    );
  });
});

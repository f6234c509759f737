/**
 * Focused behaviour of the session machine, on real session actors inside a
 * small actor system of deterministic test actors (see the harness).
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { parseMessage, type SessionStep } from '../../src/domain/messages.js';
import { sessionMachine } from '../../src/machines/session.machine.js';
import { driver, FAILURES, reach, RISK_REJECTION, WAITING_STATES, type WaitingState } from '../support/test-actors/session-driver.js';
import {
  ACCOUNT,
  AT,
  BUDGETS,
  BUY,
  filled,
  orderId,
  queued,
  SELL,
  SESSION_ID,
  SESSION_SYSTEM_ID,
  SIGNATURE,
  SUMMARY,
  sessionInput,
  VIEW,
} from '../support/test-actors/session-fixtures.js';
import { ALL_PEERS, startSessionHarness, type PeerId, type SessionHarness } from '../support/test-actors/session-harness.js';

const start = (overrides: Parameters<typeof sessionInput>[0] = {}, peers: readonly PeerId[] = ALL_PEERS) => {
  const h = startSessionHarness(sessionInput(overrides), { peers });
  return { h, d: driver(h) };
};

const types = (h: SessionHarness) => h.takeEffects().map((e) => `${e.to}:${e.event.type}`);

describe('session: deciding ⇄ executing', () => {
  it('gives each intent its result back before the agent decides again, with the step and the results so far', () => {
    const { h, d } = start({ maxIntents: 3 });
    d.start();
    d.fetched();
    d.account();
    h.takeEffects();

    d.intent(BUY);
    expect(types(h)).toEqual(['clock:clock.schedule', 'risk:risk.check']);
    d.approve();
    expect(types(h)).toEqual(['engine:engine.placeOrder']);
    d.orderResult(filled);
    expect(types(h)).toEqual(['agent:agent.decide', 'clock:clock.schedule']);

    d.intent(SELL);
    d.reject();
    expect(types(h)).toEqual(['clock:clock.schedule', 'risk:risk.check', 'agent:agent.decide', 'clock:clock.schedule']);

    d.intent(BUY);
    d.approve();
    d.orderResult(queued);
    d.done();

    const decides = h.requests('agent', 'agent.decide');
    expect(decides.map((r) => r.step)).toEqual([0, 1, 2, 3]);
    expect(decides.map((r) => r.results.map((x) => `${x.clientOrderId}:${x.status}`))).toEqual([
      [],
      [`${orderId(1)}:filled`],
      [`${orderId(1)}:filled`, `${orderId(2)}:denied`],
      [`${orderId(1)}:filled`, `${orderId(2)}:denied`, `${orderId(3)}:queued`],
    ]);
    for (const r of decides) {
      expect(r).toMatchObject({ sessionId: SESSION_ID, signature: SIGNATURE, at: AT, market: VIEW, account: ACCOUNT, replyTo: SESSION_SYSTEM_ID });
    }
    expect(h.requests('risk', 'risk.check').map((r) => [r.clientOrderId, r.intent])).toEqual([
      [orderId(1), BUY],
      [orderId(2), SELL],
      [orderId(3), BUY],
    ]);
    // only approved intents become orders, each once
    expect(h.requests('engine', 'engine.placeOrder').map((r) => r.order.clientOrderId)).toEqual([orderId(1), orderId(3)]);

    d.recorded();
    const snap = h.snapshot();
    expect(snap.value).toBe('completed');
    expect(snap.output).toEqual({
      sessionId: SESSION_ID,
      signature: SIGNATURE,
      at: AT,
      status: 'completed',
      results: decides[3]!.results,
      summary: SUMMARY,
    });
    expect(h.lastRequest('ledger', 'ledger.recordSession').outcome).toEqual(snap.output);
    expect(h.lastRequest('engine', 'session.finished').outcome).toEqual(snap.output);
    expect(h.errors).toEqual([]);
  });

  it('tells the agent a risk rejection as a denied result with the reason', () => {
    const { h, d } = start({ maxIntents: 2 });
    reach(d, 'executing.checking');
    d.reject('DAILY_LOSS_LIMIT', 'DAILY_LOSS_LIMIT: -3.2% today');
    expect(h.snapshot().value).toBe('deciding');
    expect(h.lastRequest('agent', 'agent.decide').results).toEqual([
      {
        clientOrderId: orderId(1),
        intent: BUY,
        status: 'denied',
        filledQuantity: 0,
        fees: '0',
        reason: 'DAILY_LOSS_LIMIT',
        message: 'DAILY_LOSS_LIMIT: -3.2% today',
      },
    ]);
    expect(h.requests('engine', 'engine.placeOrder')).toEqual([]);
  });

  it('places the order with the market state of the session instant (closed: the order machine decides to reject or queue)', () => {
    const { h, d } = start({ marketOpen: false });
    reach(d, 'executing.ordering');
    const place = h.lastRequest('engine', 'engine.placeOrder');
    expect(place).toMatchObject({ marketOpen: false, nextOpenMs: sessionInput().nextOpenMs, order: { ...BUY, clientOrderId: orderId(1), signature: SIGNATURE } });
  });
});

describe('session: maxIntents', () => {
  it('refuses an intent beyond maxIntents without asking risk, and the agent decides again within the same deadline', () => {
    const { h, d } = start({ maxIntents: 1 });
    reach(d, 'executing.ordering');
    d.orderResult();
    const deadline = h.snapshot().context.deadline;
    h.takeEffects();

    d.intent(SELL);
    expect(h.snapshot().value).toBe('deciding');
    expect(types(h)).toEqual(['agent:agent.decide']); // no risk.check, no new deadline
    const decide = h.lastRequest('agent', 'agent.decide');
    expect(decide.step).toBe(2);
    expect(decide.results.at(-1)).toMatchObject({ intent: SELL, status: 'denied', reason: 'MAX_ORDERS_PER_SESSION' });
    expect(h.snapshot().context.deadline).toEqual(deadline);

    // a runaway agent keeps asking: every ask is refused, and the deciding deadline still ends it
    d.intent(SELL);
    d.intent(SELL);
    expect(h.requests('risk', 'risk.check')).toHaveLength(1);
    d.deadline();
    expect(h.snapshot().value).toBe('failed');
    expect(h.snapshot().context.error).toMatchObject({ step: 'deciding', reason: 'DEADLINE' });
    expect(h.snapshot().context.results.map((r) => r.status)).toEqual(['filled', 'denied', 'denied', 'denied']);
  });

  it('with maxIntents 0 refuses the first intent', () => {
    const { h, d } = start({ maxIntents: 0 });
    reach(d, 'deciding');
    d.intent();
    d.done('nothing to do');
    expect(h.requests('risk', 'risk.check')).toEqual([]);
    expect(h.lastRequest('ledger', 'ledger.recordSession').outcome.results).toMatchObject([{ status: 'denied', reason: 'MAX_ORDERS_PER_SESSION' }]);
  });
});

describe('session: deadlines', () => {
  const cases: { state: WaitingState; step: SessionStep }[] = [
    { state: 'fetching', step: 'fetching' },
    { state: 'analyzing', step: 'analyzing' },
    { state: 'deciding', step: 'deciding' },
    { state: 'executing.checking', step: 'executing' },
    { state: 'executing.ordering', step: 'executing' },
    { state: 'recording', step: 'recording' },
  ];

  it.each(cases)('a deadline in $state fails the session in step $step, alerts and reports', ({ state, step }) => {
    const { h, d } = start();
    reach(d, state);
    const schedule = h.lastRequest('clock', 'clock.schedule');
    expect(schedule.key).toMatch(new RegExp(`^${step}#\\d+$`));
    h.takeEffects();
    d.deadline();
    const snap = h.snapshot();
    expect(snap.value).toBe('failed');
    expect(snap.status).toBe('done');
    const error = { step, reason: 'DEADLINE', message: `${step} did not finish within its budget of ${BUDGETS[`${step}Ms`]} ms (deadline ${schedule.key})` };
    expect(snap.context.error).toEqual(error);
    expect(h.takeEffects()).toEqual([
      {
        to: 'monitor',
        event: {
          type: 'monitor.alert',
          level: 'critical',
          code: 'SESSION_FAILED',
          message: `session ${SESSION_ID} failed in ${step}: DEADLINE: ${error.message}`,
          signature: SIGNATURE,
          sessionId: SESSION_ID,
          tsEvent: schedule.atMs,
        },
      },
      { to: 'engine', event: { type: 'session.finished', outcome: snap.output, tsEvent: schedule.atMs } },
    ]);
    expect(snap.output).toMatchObject({ status: 'failed', reason: 'DEADLINE', error });
  });

  it('a deadline is due the step budget after the event that entered the step', () => {
    const { h, d } = start();
    const started = d.start();
    expect(h.lastRequest('clock', 'clock.schedule')).toEqual({
      type: 'clock.schedule',
      target: SESSION_SYSTEM_ID,
      key: 'fetching#1',
      atMs: started.tsEvent + BUDGETS.fetchingMs,
    });
    const fetched = d.fetched();
    expect(h.lastRequest('clock', 'clock.schedule')).toMatchObject({ key: 'analyzing#2', atMs: fetched.tsEvent + BUDGETS.analyzingMs });
  });

  it('ignores a stale deadline (an earlier step) and one with an unknown key', () => {
    const { h, d } = start();
    d.start();
    const stale = h.lastRequest('clock', 'clock.schedule');
    d.fetched();
    h.takeEffects();
    h.send({ type: 'clock.deadline', key: stale.key, tsEvent: stale.atMs });
    h.send({ type: 'clock.deadline', key: 'analyzing#99', tsEvent: stale.atMs });
    expect(h.snapshot().value).toBe('analyzing');
    expect(h.snapshot().context.error).toBeUndefined();
    expect(h.takeEffects()).toEqual([]);
    d.deadline(); // the current one still works
    expect(h.snapshot().context.error?.step).toBe('analyzing');
  });
});

describe('session: failures reported by the answering actors', () => {
  it.each([
    { state: 'fetching', fail: 'fetchFailed', step: 'fetching', message: `marketData.failed: ${FAILURES.marketData}` },
    { state: 'analyzing', fail: 'accountFailed', step: 'analyzing', message: `ledger.failed: ${FAILURES.ledgerAccount}` },
    { state: 'deciding', fail: 'agentFailed', step: 'deciding', message: `agent.failed: ${FAILURES.agent}` },
    { state: 'recording', fail: 'recordFailed', step: 'recording', message: `ledger.failed: ${FAILURES.ledgerRecord}` },
  ] as const)('$fail in $state fails the session in step $step', ({ state, fail, step, message }) => {
    const { h, d } = start();
    reach(d, state);
    d[fail]();
    expect(h.snapshot().value).toBe('failed');
    expect(h.snapshot().output?.error).toEqual({ step, reason: 'ACTOR_FAILED', message });
    expect(h.lastRequest('monitor', 'monitor.alert')).toMatchObject({ level: 'critical', code: 'SESSION_FAILED' });
  });

  it('fails without an alert when no monitor is in the system', () => {
    const { h, d } = start({}, ALL_PEERS.filter((p) => p !== 'monitor'));
    reach(d, 'fetching');
    d.fetchFailed();
    expect(h.snapshot().value).toBe('failed');
    expect(types(h).slice(-1)).toEqual(['engine:session.finished']);
    expect(h.errors).toEqual([]);
  });

  it('makes a missing required system actor an error of the session actor, seen by its parent', () => {
    const { h, d } = start({}, ALL_PEERS.filter((p) => p !== 'risk'));
    reach(d, 'executing.checking');
    expect(h.snapshot().status).toBe('error');
    expect(h.root.getSnapshot().status).toBe('active'); // the parent got xstate.error.actor.<id> and handled it
    expect(h.errors).toHaveLength(1);
    expect(String(h.errors[0])).toMatch(/no actor with system id "risk" to send risk.check to/);
  });
});

describe('session: messages that are not for it', () => {
  it('ignores replies for another session', () => {
    const { h, d } = start();
    d.start();
    h.takeEffects();
    h.send({ type: 'marketData.fetched', sessionId: 'other@2025-10-09T09:35:00+08:00', view: VIEW, tsEvent: h.now() });
    h.send({ type: 'marketData.failed', sessionId: 'other@2025-10-09T09:35:00+08:00', message: 'x', tsEvent: h.now() });
    expect(h.snapshot().value).toBe('fetching');
    expect(h.snapshot().context.market).toBeUndefined();
    expect(h.takeEffects()).toEqual([]);
  });

  it('ignores risk answers and order results for another session or another order', () => {
    const { h, d } = start({ maxIntents: 2 });
    reach(d, 'executing.checking');
    const other = { sessionId: 'other@x', clientOrderId: orderId(1) };
    h.send({ type: 'risk.approved', ...other, tsEvent: h.now() });
    h.send({ type: 'risk.rejected', sessionId: SESSION_ID, clientOrderId: orderId(2), ...RISK_REJECTION, tsEvent: h.now() });
    expect(h.snapshot().value).toEqual({ executing: 'checking' });
    d.approve();
    h.takeEffects();
    const result = filled({ ...BUY, clientOrderId: orderId(1), signature: SIGNATURE });
    h.send({ type: 'order.result', sessionId: 'other@x', result, tsEvent: h.now() });
    h.send({ type: 'order.result', sessionId: SESSION_ID, result: { ...result, clientOrderId: orderId(2) }, tsEvent: h.now() });
    expect(h.snapshot().value).toEqual({ executing: 'ordering' });
    expect(h.takeEffects()).toEqual([]);
  });

  it('ignores a late answer to an earlier decision step', () => {
    const { h, d } = start({ maxIntents: 2 });
    reach(d, 'executing.ordering');
    d.orderResult();
    // the agent answers step 0 a second time (e.g. after a resume re-asked it)
    h.send({ type: 'agent.intent', sessionId: SESSION_ID, step: 0, intent: BUY, tsEvent: h.now() });
    expect(h.snapshot().value).toBe('deciding');
    expect(h.snapshot().context.intentCount).toBe(1);
    expect(h.requests('risk', 'risk.check')).toHaveLength(1);
  });

  it('skips a disabled agent without asking anyone', () => {
    const { h, d } = start({ enabled: false });
    d.start();
    expect(h.snapshot().value).toBe('skipped');
    expect(types(h)).toEqual(['engine:session.finished']);
    expect(h.snapshot().output).toEqual({ sessionId: SESSION_ID, signature: SIGNATURE, at: AT, status: 'skipped', reason: 'AGENT_DISABLED', results: [] });
  });
});

describe('session: resume', () => {
  const pending: Record<WaitingState, string[]> = {
    fetching: ['marketData:marketData.fetch', 'clock:clock.schedule'],
    analyzing: ['ledger:ledger.getAccount', 'clock:clock.schedule'],
    deciding: ['agent:agent.decide', 'clock:clock.schedule'],
    'executing.checking': ['risk:risk.check', 'clock:clock.schedule'],
    'executing.ordering': ['clock:clock.schedule'], // never a second engine.placeOrder
    recording: ['ledger:ledger.recordSession', 'clock:clock.schedule'],
  };

  it.each(WAITING_STATES)('in %s re-sends exactly the pending request and re-schedules the same deadline', (state) => {
    const { h, d } = start();
    reach(d, state);
    const before = h.sent.slice();
    const deadline = h.snapshot().context.deadline;
    h.takeEffects();
    d.resume();
    const again = h.takeEffects();
    expect(again.map((e) => `${e.to}:${e.event.type}`)).toEqual(pending[state]);
    // the very same messages as the first time
    for (const e of again) {
      expect(before.findLast((b) => b.to === e.to && b.event.type === e.event.type)?.event).toEqual(e.event);
    }
    expect(again.find((e) => e.to === 'clock')?.event).toMatchObject({ ...deadline });
    expect(h.snapshot().context.deadline).toEqual(deadline);
    expect(h.requests('engine', 'engine.placeOrder')).toHaveLength(state === 'executing.ordering' ? 1 : 0);
  });
});

describe('session: persistence', () => {
  it.each(WAITING_STATES)('a snapshot persisted in %s restores from JSON to the same state, and resumes to completion', (state) => {
    const { h, d } = start({ maxIntents: 2 });
    reach(d, state);
    const before = h.snapshot();
    const json = h.persist();
    h.stop();

    const r = startSessionHarness(sessionInput({ maxIntents: 2 }), { snapshot: JSON.parse(json), startMs: before.context.deadline!.atMs - 10_000 });
    const restored = r.snapshot();
    expect(restored.value).toEqual(before.value);
    expect(restored.context).toEqual(JSON.parse(JSON.stringify(before.context)));
    expect(r.takeEffects()).toEqual([]); // a restore runs no actions

    const rd = driver(r);
    rd.resume();
    expect(r.takeEffects().length).toBeGreaterThan(0);
    // finish the session on the restored system
    const finish: Record<WaitingState, () => void> = {
      fetching: () => (rd.fetched(), rd.account(), rd.done(), rd.recorded()),
      analyzing: () => (rd.account(), rd.done(), rd.recorded()),
      deciding: () => (rd.done(), rd.recorded()),
      'executing.checking': () => (rd.approve(), rd.orderResult(), rd.done(), rd.recorded()),
      'executing.ordering': () => {
        // the engine's order actor reports to the restored session (the original request is in the old log)
        r.send({ type: 'order.result', sessionId: SESSION_ID, result: filled({ ...BUY, clientOrderId: orderId(1), signature: SIGNATURE }), tsEvent: r.now() });
        rd.done();
        rd.recorded();
      },
      recording: () => rd.recorded(),
    };
    finish[state]();
    expect(r.snapshot().value).toBe('completed');
    expect(r.errors).toEqual([]);
    // an order is placed only on the way into executing.ordering, never again on resume
    expect(r.requests('engine', 'engine.placeOrder')).toHaveLength(state === 'executing.checking' ? 1 : 0);
    r.stop();
  });

  it('the session snapshot alone round-trips through JSON', () => {
    const { h, d } = start({ maxIntents: 3 });
    reach(d, 'executing.ordering');
    d.orderResult();
    d.intent(SELL);
    const persisted = h.session.getPersistedSnapshot();
    const copy = JSON.parse(JSON.stringify(persisted)) as typeof persisted;
    expect(copy).toEqual(persisted);
    const actor = createActor(sessionMachine, { snapshot: copy, input: sessionInput({ maxIntents: 3 }) });
    expect(actor.getSnapshot().value).toEqual({ executing: 'checking' });
    expect(actor.getSnapshot().context).toEqual(h.snapshot().context);
    expect(actor.getSnapshot().context.clientOrderId).toBe(orderId(2));
  });
});

// The messages the session sends are valid by the shared schemas.
describe('session: message shapes', () => {
  it('every message sent in a full session parses with the domain schemas', () => {
    const { h, d } = start({ maxIntents: 2 });
    reach(d, 'executing.ordering');
    d.orderResult();
    d.intent(SELL);
    d.reject();
    d.resume();
    d.done();
    d.recordFailed();
    for (const { event } of h.sent) expect(parseMessage(event)).toEqual(event);
  });
});

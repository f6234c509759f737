import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor, fromCallback, setup, type AnyActorRef } from 'xstate';
import { Ledger, type LedgerOptions } from '../../src/actors/ledger/ledger.js';
import { ledgerActor } from '../../src/actors/ledger/ledger-actor.js';
import { openStore, type Store } from '../../src/actors/store/store.js';
import { clientOrderId, sessionId } from '../../src/domain/ids.js';
import type { AnyMessage, Message } from '../../src/domain/messages.js';
import { dec } from '../../src/domain/money.js';
import type { PointInTimeView } from '../../src/domain/point-in-time.js';
import { AT, engineInput, startHarness, tick } from '../support/engine-harness.js';
import { World } from '../support/world.js';

const NOW = 1_760_000_000_000;
let root: string;
let store: Store;

const view = (at: DateTime): PointInTimeView => ({
  at,
  symbols: () => ['AAPL'],
  price: (s) => (s === 'AAPL' ? { price: dec('10.00'), at, source: 'open', bar: undefined as never } : undefined),
  bars: () => [],
  previousClose: () => undefined,
  labelledBar: () => undefined,
});

const options = (): LedgerOptions => ({
  market: 'cn',
  frequency: 'daily',
  signatures: [{ signature: 'alpha', initialCash: '100000' }],
  store,
  stateDir: join(root, 'out'),
  view,
  fsync: false,
});

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'agent-trader-ledger-actor-'));
  store = await openStore(join(root, 'state'));
});

afterEach(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

const settle = async (ledger: Ledger) => {
  await ledger.idle();
  await new Promise((r) => setImmediate(r));
};

/** A tiny system: the ledger actor, a probe that keeps what it is sent, and a monitor. */
function system(ledger: Ledger) {
  const probe: AnyMessage[] = [];
  const alerts: Message<'monitor.alert'>[] = [];
  const errors: unknown[] = [];
  const machine = setup({
    actors: {
      ledger: ledgerActor(ledger, () => NOW, { onError: (e) => errors.push(e) }),
      probe: fromCallback<AnyMessage>(({ receive }) => receive((m) => probe.push(m))),
      monitor: fromCallback<AnyMessage>(({ receive }) => receive((m) => m.type === 'monitor.alert' && alerts.push(m))),
    },
  }).createMachine({
    invoke: [
      { src: 'ledger', systemId: 'ledger' },
      { src: 'probe', systemId: 'probe' },
      { src: 'monitor', systemId: 'monitor' },
    ],
  });
  const actor = createActor(machine);
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  const send = (m: AnyMessage) => (actor.system.get('ledger') as AnyActorRef).send(m);
  return { actor, send, probe, alerts, errors };
}

describe('ledger actor', () => {
  it('answers getAccount, applies fills, records sessions (idempotently) and never crashes on errors', async () => {
    const ledger = new Ledger(options());
    const { actor, send, probe, alerts, errors } = system(ledger);
    const sid = sessionId('alpha', AT);
    const cid = clientOrderId('alpha', 'cn', AT, 0);
    const intent = { side: 'buy' as const, symbol: 'AAPL', quantity: 100, type: 'market' as const };

    send({ type: 'ledger.getAccount', sessionId: sid, signature: 'alpha', at: AT, replyTo: 'probe' });
    send({ type: 'ledger.applyFill', signature: 'alpha', clientOrderId: cid, intent, fill: { fillId: `${cid}#1`, quantity: 100, price: '10.00', fee: '5', atMs: NOW } });
    const outcome = {
      sessionId: sid,
      signature: 'alpha',
      at: AT,
      status: 'completed' as const,
      results: [{ clientOrderId: cid, intent, status: 'filled' as const, filledQuantity: 100, averagePrice: '10', fees: '5' }],
    };
    send({ type: 'ledger.recordSession', outcome, replyTo: 'probe' });
    send({ type: 'ledger.recordSession', outcome, replyTo: 'probe' }); // a resume re-asks
    send({ type: 'ledger.getAccount', sessionId: sid, signature: 'alpha', at: AT, replyTo: 'probe' });
    await settle(ledger);

    expect(probe).toEqual([
      {
        type: 'ledger.account',
        sessionId: sid,
        account: { signature: 'alpha', cash: '100000', positions: {}, equity: '100000', startOfDayEquity: '100000' },
        tsEvent: NOW,
      },
      { type: 'ledger.recorded', sessionId: sid, tsEvent: NOW },
      { type: 'ledger.recorded', sessionId: sid, tsEvent: NOW },
      {
        type: 'ledger.account',
        sessionId: sid,
        account: {
          signature: 'alpha',
          cash: '98995',
          positions: { AAPL: { quantity: 100, sellable: 0, costBasis: '1005' } },
          equity: '99995',
          startOfDayEquity: '100000',
        },
        tsEvent: NOW,
      },
    ]);
    const lines = (await readFile(ledger.logFile('alpha'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('{"date": "2025-10-09", "id": 1, "this_action": {"action": "buy", "symbol": "AAPL", "amount": 100}, "positions": {"AAPL": 100, "CASH": 98995.0}}');

    // errors: answered (or alerted), the actor lives on
    probe.length = 0;
    send({ type: 'ledger.getAccount', sessionId: 's-x', signature: 'nobody', at: AT, replyTo: 'probe' });
    send({ type: 'ledger.recordSession', outcome: { ...outcome, sessionId: 's-y', signature: 'nobody' }, replyTo: 'probe' });
    send({
      type: 'ledger.applyFill',
      signature: 'alpha',
      clientOrderId: 'c-2',
      intent: { ...intent, side: 'sell', symbol: 'MSFT' },
      fill: { fillId: 'c-2#1', quantity: 1, price: '1', fee: '0', atMs: NOW },
    });
    await settle(ledger);
    expect(probe).toEqual([
      { type: 'ledger.failed', sessionId: 's-x', message: expect.stringMatching(/^getAccount: .*nobody/), tsEvent: NOW },
      { type: 'ledger.failed', sessionId: 's-y', message: expect.stringMatching(/^recordSession: .*nobody/), tsEvent: NOW },
    ]);
    expect(alerts).toEqual([
      expect.objectContaining({ level: 'critical', code: 'LEDGER_FILL_FAILED', signature: 'alpha', clientOrderId: 'c-2', message: expect.stringMatching(/only 0 held/) }),
    ]);
    expect(errors).toHaveLength(3);
    expect(actor.getSnapshot().status).toBe('active');
    actor.stop();
  });

  it('serves the real engine: a session analyses, trades, and records through the ledger', async () => {
    const ledger = new Ledger(options());
    const world = new World(DateTime.fromISO(AT).toMillis(), { intents: { alpha: [{ side: 'buy', symbol: 'AAPL', quantity: 100, type: 'market' }] } });
    const h = await startHarness(world, engineInput(), { actors: { ...world.actors(), ledger: ledgerActor(ledger, () => world.now) } });
    try {
      h.runtime.send(tick());
      // Run the world's message steps, then let the ledger's I/O finish, until nothing moves (no deadline fires).
      for (let i = 0; i < 100; i++) {
        while (world.step());
        await settle(ledger);
        if (world.pendingCount === 0) break;
      }
      await settle(ledger);
      while (world.step());
      await h.runtime.flush();
      expect(world.alerts).toEqual([]);
      expect(ledger.summary('alpha')).toMatchObject({ fills: 1, orders: 1, sessions: { completed: 1, skipped: 0, failed: 0 }, cash: '99000', equity: '100000' });
      const lines = (await readFile(ledger.logFile('alpha'), 'utf8')).trim().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as { this_action?: unknown }).this_action)).toEqual([undefined, { action: 'buy', symbol: 'AAPL', amount: 100 }]);
      const history = h.runtime.actor.getSnapshot().context.history;
      expect(history.map((o) => [o.signature, o.status])).toEqual([['alpha', 'completed']]);
    } finally {
      await h.close();
    }
  });
});

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { Ledger } from '../../src/actors/ledger/ledger.js';
import { protection } from '../../src/actors/risk/protection.js';
import { openStore } from '../../src/actors/store/store.js';
import { parseConfig } from '../../src/config/load.js';
import type { Message } from '../../src/domain/messages.js';
import { dec } from '../../src/domain/money.js';
import { viewAt } from '../../src/domain/point-in-time.js';
import { PriceStore } from '../../src/domain/price-store.js';
import type { Quote } from '../../src/domain/quotes.js';

/** A ledger holding 100 AAPL bought at 100.00 yesterday, and the protection around it. */
async function setup(halted: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trader-protect-'));
  const store = await openStore(join(dir, 'state'));
  // A backtest config of the default rules agent (no bars are read here).
  const config = parseConfig(
    { mode: 'backtest', market: 'us', frequency: 'daily', models: [{ name: 'rules-equal-weight', signature: 'rules-equal-weight', agent: { kind: 'rules', strategy: 'equal_weight' } }] },
    'test',
  );
  const view = (at: DateTime) => viewAt(PriceStore.from([]), at, () => undefined);
  const ledger = new Ledger({ market: 'us', frequency: 'daily', signatures: [{ signature: 'rules-equal-weight', initialCash: '10000' }], store, stateDir: dir, view });
  const bought = DateTime.fromISO('2025-10-09T10:00:00', { zone: 'America/New_York' });
  await ledger.applyFill({
    signature: 'rules-equal-weight',
    clientOrderId: 'rules-equal-weight.20251009T1000.1',
    intent: { side: 'buy', symbol: 'AAPL', quantity: 10, type: 'market' },
    fill: { fillId: 'f1', quantity: 10, price: '100.00', fee: '0', atMs: bought.toMillis() },
  });
  const now = DateTime.fromISO('2025-10-10T11:00:00', { zone: 'America/New_York' }).toMillis();
  const sent: Message<'engine.placeOrder'>[] = [];
  const alerts: Message<'monitor.alert'>[] = [];
  const guard = protection({
    config,
    ledger,
    now: () => now,
    send: (m) => sent.push(m),
    alert: (a) => alerts.push(a),
    halted: () => halted,
    prevClose: () => dec('100.00'),
  });
  const quotes = new Subject<Quote>();
  guard.watch(quotes);
  const fall = () => quotes.next({ symbol: 'AAPL', price: '91.00', atMs: now, source: 'test' });
  return { sent, alerts, fall, close: () => store.close() };
}

describe('protective orders', () => {
  it('sends a stop-loss sell to the engine with replies to risk', async () => {
    const t = await setup(false);
    t.fall();
    expect(t.sent).toEqual([
      expect.objectContaining({
        type: 'engine.placeOrder',
        replyTo: 'risk',
        marketOpen: true,
        order: expect.objectContaining({ side: 'sell', symbol: 'AAPL', quantity: 10, signature: 'rules-equal-weight' }),
      }),
    ]);
    await t.close();
  });

  it('sends nothing while the kill switch halts the signature, and says so', async () => {
    const t = await setup(true);
    t.fall();
    expect(t.sent).toEqual([]);
    expect(t.alerts).toEqual([expect.objectContaining({ code: 'KILL_SWITCH', level: 'critical' })]);
    await t.close();
  });
});

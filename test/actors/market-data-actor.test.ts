import { readFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { createActor, fromCallback, setup, type AnyActorLogic } from 'xstate';
import { describe, expect, it } from 'vitest';
import { loadPriceStore } from '../../src/actors/market-data/alpha-vantage-file.js';
import { marketDataActor, marketViewAt } from '../../src/actors/market-data/market-data-actor.js';
import type { AnyMessage, Message } from '../../src/domain/messages.js';
import { MarketViewSchema } from '../../src/domain/messages.js';
import { dec } from '../../src/domain/money.js';
import { viewAt } from '../../src/domain/point-in-time.js';
import type { PriceStore } from '../../src/domain/price-store.js';

const SAMPLE = new URL('../../data/sample/', import.meta.url);
const sample = (rel: string) => new URL(rel, SAMPLE);

function system(marketData: AnyActorLogic) {
  const got: AnyMessage[] = [];
  const recorder = fromCallback<AnyMessage>(({ receive }) => receive((m) => got.push(m)));
  const root = setup({ actors: { marketData, recorder } }).createMachine({
    invoke: [
      { src: 'marketData', id: 'marketData', systemId: 'marketData' },
      { src: 'recorder', id: 'recorder', systemId: 'session:X' },
    ],
  });
  const actor = createActor(root).start();
  return { got, marketData: () => actor.system.get('marketData')! };
}

const fetch = (at: string, replyTo = 'session:X'): Message<'marketData.fetch'> => ({
  type: 'marketData.fetch',
  sessionId: 'X',
  signature: 'rules',
  at,
  replyTo,
});

/** `1. buy price` / `4. sell price` of one bar, from the raw file. */
function rawBar(file: string, symbol: string, label: string): Record<string, string> {
  for (const line of readFileSync(sample(file), 'utf8').split('\n')) {
    if (!line.includes(`"${symbol}"`)) continue;
    const doc = JSON.parse(line) as Record<string, unknown>;
    const key = Object.keys(doc).find((k) => k.startsWith('Time Series'))!;
    return (doc[key] as Record<string, Record<string, string>>)[label]!;
  }
  throw new Error(`${symbol} not in ${file}`);
}

const views = (store: PriceStore) => (at: DateTime) => viewAt(store, at, () => undefined);

describe('market data system actor', () => {
  it('answers with the open of the session day for every symbol (A-share daily, 09:35)', async () => {
    const store = await loadPriceStore(sample('cn_daily.jsonl'));
    const { got, marketData } = system(marketDataActor(views(store), () => 1234));
    marketData().send(fetch('2025-10-27T09:35:00+08:00'));
    expect(got).toHaveLength(1);
    const m = got[0] as Message<'marketData.fetched'>;
    expect(m).toMatchObject({ type: 'marketData.fetched', sessionId: 'X', tsEvent: 1234 });
    expect(MarketViewSchema.parse(m.view)).toEqual(m.view);
    expect(m.view.at).toBe('2025-10-27T09:35:00+08:00');
    expect(Object.keys(m.view.quotes).sort()).toEqual(store.symbols());
    for (const [symbol, q] of Object.entries(m.view.quotes)) {
      expect(q.source).toBe('open');
      expect(q.at).toBe('2025-10-27T09:30:00+08:00');
      expect(dec(q.price).eq(rawBar('cn_daily.jsonl', symbol, '2025-10-27')['1. buy price']!)).toBe(true);
    }
  });

  it('gives the close once the bar has ended, with the instant it became known', async () => {
    const store = await loadPriceStore(sample('cn_daily.jsonl'));
    const view = marketViewAt(views(store)(DateTime.fromISO('2025-10-27T15:05:00+08:00', { setZone: true })), '2025-10-27T15:05:00+08:00', ['600519.SH']);
    expect(view).toEqual({
      at: '2025-10-27T15:05:00+08:00',
      quotes: {
        '600519.SH': {
          price: dec(rawBar('cn_daily.jsonl', '600519.SH', '2025-10-27')['4. sell price']!).toFixed(),
          at: '2025-10-27T15:00:00+08:00',
          source: 'close',
        },
      },
    });
  });

  it('US hourly: the open of the bar that started at the full hour, in New York offset, through DST', async () => {
    const store = await loadPriceStore(sample('us_hourly.jsonl'));
    const { got, marketData } = system(marketDataActor(views(store), () => 0, ['AAPL', 'NVDA', 'NOPE']));
    marketData().send(fetch('2025-10-31T14:05:00Z')); // 10:05 EDT
    marketData().send(fetch('2025-11-03T15:05:00Z')); // 10:05 EST
    const [before, after] = got as Message<'marketData.fetched'>[];
    expect(Object.keys(before!.view.quotes)).toEqual(['AAPL', 'NVDA']);
    expect(before!.view.quotes.AAPL).toEqual({
      price: dec(rawBar('us_hourly.jsonl', 'AAPL', '2025-10-31 10:00:00')['1. buy price']!).toFixed(),
      at: '2025-10-31T10:00:00-04:00',
      source: 'open',
    });
    expect(after!.view.quotes.NVDA).toMatchObject({ at: '2025-11-03T10:00:00-05:00', source: 'open' });
  });

  it('fails when nothing is known at the instant, and drops a reply to a session that is gone', async () => {
    const store = await loadPriceStore(sample('cn_daily.jsonl'));
    const { got, marketData } = system(marketDataActor(views(store), () => 5));
    marketData().send(fetch('2025-10-09T09:00:00+08:00')); // before the first bar starts
    marketData().send(fetch('2025-10-27T09:35:00+08:00', 'session:gone'));
    marketData().send(fetch('not a time'));
    expect(got).toEqual([
      { type: 'marketData.failed', sessionId: 'X', message: 'no price known at 2025-10-09T09:00:00+08:00 for any symbol', tsEvent: 5 },
      { type: 'marketData.failed', sessionId: 'X', message: 'not an ISO instant: "not a time"', tsEvent: 5 },
    ]);
  });
});

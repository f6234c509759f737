/**
 * The `marketData` system actor for backtests (and any source that can give a
 * point-in-time view): answers `marketData.fetch` with `marketData.fetched`, a
 * MarketView of what was known at the session instant, or `marketData.failed` when
 * nothing at all was known then.
 *
 * - Quotes: every symbol (the given list, else the view's) with a known price at `at`
 *   (PointInTimeView.price: the open of a bar that has started, or the last close):
 *   `price` as an exact decimal string, `at` when it became known (ISO with the
 *   exchange's offset), `source` 'open' | 'close'. Symbols without a price are left out.
 * - The reply goes to `replyTo` at once (synchronously: virtual time never waits on the
 *   microtask queue), stamped with the injected clock's `now()`; if the asker is gone
 *   it is dropped.
 */
import { DateTime } from 'luxon';
import { fromCallback, type AnyActorRef } from 'xstate';
import type { AnyMessage, MarketView, Message } from '../../domain/messages.js';
import type { PointInTimeView } from '../../domain/point-in-time.js';
import { isoInstant } from '../../domain/schedule.js';

/** The market view at a session instant: undefined when no symbol has a price then. */
export function marketViewAt(view: PointInTimeView, atIso: string, symbols?: readonly string[]): MarketView | undefined {
  const quotes: MarketView['quotes'] = {};
  let n = 0;
  for (const symbol of symbols ?? view.symbols()) {
    const p = view.price(symbol);
    if (!p) continue;
    quotes[symbol] = { price: p.price.toFixed(), at: isoInstant(p.at), source: p.source };
    n++;
  }
  return n === 0 ? undefined : { at: atIso, quotes };
}

export function marketDataActor(views: (at: DateTime) => PointInTimeView, now: () => number, symbols?: readonly string[]) {
  return fromCallback<AnyMessage>(({ receive, system }) => {
    receive((m) => {
      if (m.type !== 'marketData.fetch') return;
      const reply = (r: Message<'marketData.fetched'> | Message<'marketData.failed'>) =>
        (system.get(m.replyTo) as AnyActorRef | undefined)?.send(r);
      const at = DateTime.fromISO(m.at, { setZone: true });
      if (!at.isValid) {
        reply({ type: 'marketData.failed', sessionId: m.sessionId, message: `not an ISO instant: ${JSON.stringify(m.at)}`, tsEvent: now() });
        return;
      }
      let view: MarketView | undefined;
      try {
        view = marketViewAt(views(at), m.at, symbols);
      } catch (e) {
        reply({ type: 'marketData.failed', sessionId: m.sessionId, message: e instanceof Error ? e.message : String(e), tsEvent: now() });
        return;
      }
      if (!view) {
        const which = symbols ? `${symbols.length} symbol${symbols.length === 1 ? '' : 's'} asked` : 'any symbol';
        reply({ type: 'marketData.failed', sessionId: m.sessionId, message: `no price known at ${m.at} for ${which}`, tsEvent: now() });
        return;
      }
      reply({ type: 'marketData.fetched', sessionId: m.sessionId, view, tsEvent: now() });
    });
  });
}

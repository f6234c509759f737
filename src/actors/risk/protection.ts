/**
 * Protective orders in any mode: the stop-loss watcher fed by a quote stream,
 * its sells sent to the engine as orders whose results come back to the `risk`
 * actor (replyTo 'risk'), which hands them to the watcher.
 */
import { DateTime } from 'luxon';
import type { Observable, Subscription } from 'rxjs';
import type { Config } from '../../config/schema.js';
import { isOpenAt, nextOpen } from '../../domain/calendar/index.js';
import { sessionId } from '../../domain/ids.js';
import { MARKETS } from '../../domain/markets.js';
import type { Message } from '../../domain/messages.js';
import type { OrderResult } from '../../domain/orders.js';
import type { Dec } from '../../domain/money.js';
import type { Quote } from '../../domain/quotes.js';
import { stopRatiosFromConfig } from '../../domain/risk/stop-loss.js';
import type { Ledger } from '../ledger/ledger.js';
import { StopLossWatcher } from './stop-loss-watcher.js';

export interface ProtectionDeps {
  readonly config: Config;
  readonly ledger: Ledger;
  readonly now: () => number;
  /** Where protective orders and alerts go (the engine and the monitor, once they exist). */
  readonly send: (message: Message<'engine.placeOrder'>) => void;
  readonly alert: (alert: Message<'monitor.alert'>) => void;
  readonly prevClose?: (symbol: string) => Dec | undefined;
  /** The kill switch: a halted signature gets no protective order either (every new order is refused). */
  readonly halted?: (signature: string) => boolean;
}

export interface Protection {
  readonly watcher: StopLossWatcher;
  /** Feed quotes to the watcher; returns the subscription. */
  watch(quotes: Observable<Quote>): Subscription;
  /**
   * A protective order's result (the risk actor's `onProtectiveResult`): to the watcher, and,
   * once terminal, counted in the signature's orders by the ledger.
   */
  onResult(result: OrderResult): void;
}

/** `<signature>.<yyyyMMddTHHmm>.SL-<symbol>`: the signature part. */
const signatureOf = (clientOrderId: string): string | undefined => /^(.+?)\.\d{8}T\d{4}\./.exec(clientOrderId)?.[1];

export function protection(deps: ProtectionDeps): Protection {
  const { config, now } = deps;
  const market = config.market;
  const watcher = new StopLossWatcher({
    market,
    ratios: stopRatiosFromConfig(config.risk_control),
    signatures: config.models.filter((m) => m.enabled).map((m) => m.signature),
    positions: (signature) => deps.ledger.account(signature).positions,
    now,
    isOpenAt,
    nextOpen,
    ...(deps.prevClose ? { prevClose: deps.prevClose } : {}),
    placeOrder: (signature, intent, reason, atIso, clientOrderId) => {
      if (deps.halted?.(signature)) {
        deps.alert({
          type: 'monitor.alert',
          level: 'critical',
          code: 'KILL_SWITCH',
          message: `${reason} sell of ${intent.quantity} ${intent.symbol} not sent: ${signature} is halted by the kill switch`,
          signature,
          clientOrderId,
          tsEvent: now(),
        });
        return;
      }
      const at = DateTime.fromMillis(now(), { zone: MARKETS[market].zone });
      deps.send({
        type: 'engine.placeOrder',
        sessionId: sessionId(signature, atIso),
        order: { ...intent, clientOrderId, signature },
        replyTo: 'risk',
        marketOpen: isOpenAt(market, at),
        nextOpenMs: nextOpen(market, at).toMillis(),
        tsEvent: now(),
      });
    },
    alert: (a) => deps.alert({ type: 'monitor.alert', ...a, tsEvent: now() }),
  });
  return {
    watcher,
    watch: (quotes) => quotes.subscribe((q) => watcher.onQuote(q)),
    onResult: (result) => {
      watcher.onResult(result);
      const signature = signatureOf(result.clientOrderId);
      if (result.status !== 'queued' && signature !== undefined) {
        deps.ledger.recordProtectiveOrder(signature, result).catch((err: unknown) =>
          deps.alert({
            type: 'monitor.alert',
            level: 'warning',
            code: 'LEDGER_FAILED',
            message: `protective order ${result.clientOrderId} not counted: ${err instanceof Error ? err.message : String(err)}`,
            signature,
            clientOrderId: result.clientOrderId,
            tsEvent: now(),
          }),
        );
      }
    },
  };
}

/**
 * The `risk` system actor until pre-trade risk lands (issue 6): it approves every
 * intent, so the order path (session -> risk -> order -> broker) is the real one
 * and the venue's own rules (lots, T+1, price limits, cash) still refuse what the
 * exchange would. Replaced by the risk actor, never bypassed.
 */
import { fromCallback } from 'xstate';
import type { AnyMessage, Message } from '../../domain/messages.js';

export function approveAllRisk(now: () => number, onProtectiveResult?: (result: Message<'order.result'>['result']) => void) {
  return fromCallback<AnyMessage>(({ receive, system }) => {
    receive((m) => {
      // Results of the stop-loss's own orders (replyTo 'risk') go back to the watcher.
      if (m.type === 'order.result') onProtectiveResult?.(m.result);
      if (m.type !== 'risk.check') return;
      const reply: Message<'risk.approved'> = {
        type: 'risk.approved',
        sessionId: m.sessionId,
        clientOrderId: m.clientOrderId,
        tsEvent: now(),
      };
      system.get(m.replyTo)?.send(reply);
    });
  });
}

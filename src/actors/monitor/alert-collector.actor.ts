/**
 * The `monitor` system actor for backtests: keeps every alert (the report and the
 * CLI show them) and hands each to an optional sink. The paper/live monitor
 * (heartbeats, channels, metrics) arrives with the monitor issue.
 */
import { fromCallback } from 'xstate';
import type { AnyMessage, Message } from '../../domain/messages.js';

export type Alert = Message<'monitor.alert'>;

export function alertCollector(into: Alert[], sink?: (alert: Alert) => void) {
  return fromCallback<AnyMessage>(({ receive }) => {
    receive((m) => {
      if (m.type !== 'monitor.alert') return;
      into.push(m);
      sink?.(m);
    });
  });
}

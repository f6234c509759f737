/**
 * The clock system actor: delivers deadlines. A machine asks
 * `clock.schedule { target, atMs, key }`; when the injected scheduler's time reaches
 * `atMs` the actor sends `clock.deadline { key, tsEvent }` to the actor with system
 * id `target` (if it still exists). Asking again for the same target and key
 * replaces the earlier request, so a `resume` after a restart never doubles a
 * deadline; one already due fires at once.
 */
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { fromCallback } from 'xstate';
import type { AnyMessage, Message } from '../../domain/messages.js';

export function deadlineClock(scheduler: SchedulerLike = asyncScheduler) {
  return fromCallback<AnyMessage>(({ receive, system }) => {
    const pending = new Map<string, Subscription>();
    receive((m) => {
      if (m.type !== 'clock.schedule') return;
      const id = `${m.target}\u0000${m.key}`;
      pending.get(id)?.unsubscribe();
      const delay = Math.max(0, m.atMs - scheduler.now());
      const sub = scheduler.schedule(() => {
        pending.delete(id);
        const event: Message<'clock.deadline'> = { type: 'clock.deadline', key: m.key, tsEvent: scheduler.now() };
        system.get(m.target)?.send(event);
      }, delay);
      pending.set(id, sub);
    });
    return () => {
      for (const sub of pending.values()) sub.unsubscribe();
      pending.clear();
    };
  });
}

/**
 * Run `fn` every `periodMs` on a scheduler, each time as a fresh action. RxJS's own
 * rescheduling (`this.schedule` inside an action, `interval`) chains every new action to
 * the last one on a VirtualTimeScheduler, so a long run would grow a subscription chain
 * without end; fresh actions do not.
 */
import { Subscription, type SchedulerLike } from 'rxjs';

export function repeatOn(scheduler: SchedulerLike, periodMs: number, fn: () => void): Subscription {
  const handle = new Subscription();
  let current: Subscription | undefined;
  const arm = () => {
    current = scheduler.schedule(() => {
      if (handle.closed) return;
      fn();
      if (!handle.closed) arm();
    }, periodMs);
  };
  handle.add(() => current?.unsubscribe());
  arm();
  return handle;
}

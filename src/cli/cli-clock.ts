/**
 * The wall clock of a command that asks a real broker about "today" (`broker`): read here, at the
 * edge. With `AGENT_TRADER_NOW` set (an ISO 8601 instant with its offset, like
 * `2025-11-07T10:00:00+08:00`) the clock starts at that instant and runs on from there: for tests
 * and drills against a fake broker whose day is fixed (its fills' ids and times are read on
 * "today"). Timers (request deadlines) are the real ones either way.
 */
import { DateTime } from 'luxon';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { InputError } from '../domain/errors.js';

export const NOW_ENV = 'AGENT_TRADER_NOW';

export function cliWall(env: NodeJS.ProcessEnv = process.env): SchedulerLike {
  const text = env[NOW_ENV];
  if (text === undefined || text === '') return asyncScheduler;
  const at = DateTime.fromISO(text, { setZone: true });
  if (!at.isValid || !/(Z|[+-]\d{2}:?\d{2})$/.test(text)) throw new InputError(`${NOW_ENV}: expected an instant with its offset (2025-11-07T10:00:00+08:00), got ${JSON.stringify(text)}`);
  const offset = at.toMillis() - asyncScheduler.now();
  return {
    now: () => asyncScheduler.now() + offset,
    schedule: asyncScheduler.schedule.bind(asyncScheduler) as SchedulerLike['schedule'],
  };
}

/** The schedule a config asks for, as the domain's ScheduleSpec. */
import type { ScheduleSpec } from '../domain/schedule.js';
import type { Config } from './schema.js';

export function scheduleSpecOf(config: Config): ScheduleSpec {
  const s = config.schedule;
  return {
    market: config.market,
    frequency: config.frequency,
    triggerTime: s.trigger_time,
    triggerTimes: s.trigger_times,
    timezone: s.timezone,
    closeGraceMinutes: s.close_grace_minutes,
  };
}

/**
 * Failpoints for the crash drills (test/drills): `AGENT_TRADER_FAILPOINT=<where>:<n>` makes
 * the process SIGKILL itself at the n-th time it passes `<where>`, at the worst moment:
 * - `<message type>` (e.g. `broker.fill`, `risk.approved`, `clock.tick`): while the actor
 *   system handles that message, before anything it changes is committed;
 * - `commit`: right after a batch is durable, before its effects (broker calls, feed events,
 *   answers) go out.
 * Unset (always, outside drills) it costs one comparison per message.
 */
import type { InspectionEvent } from 'xstate';
import type { Store } from '../actors/store/store.js';

export interface Failpoint {
  readonly where: string;
  readonly n: number;
}

export function failpointFromEnv(env: NodeJS.ProcessEnv = process.env): Failpoint | undefined {
  const spec = env.AGENT_TRADER_FAILPOINT;
  if (!spec) return undefined;
  const m = /^([A-Za-z.]+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`AGENT_TRADER_FAILPOINT: expected <message type or commit>:<n>, got ${JSON.stringify(spec)}`);
  return { where: m[1]!, n: Number(m[2]) };
}

const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL');
};

/** Arm the failpoint: an inspection observer for message failpoints; a commit hook for `commit`. */
export function armFailpoint(store: Store, fp: Failpoint | undefined): ((e: InspectionEvent) => void) | undefined {
  if (!fp) return undefined;
  let seen = 0;
  if (fp.where === 'commit') {
    store.onCommit(() => {
      if (++seen === fp.n) die();
    });
    return undefined;
  }
  return (e) => {
    if (e.type === '@xstate.event' && e.event.type === fp.where && ++seen === fp.n) die();
  };
}

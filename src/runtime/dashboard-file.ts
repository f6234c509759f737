/**
 * `<run dir>/dashboard.json`: the dashboard's state as the process last drew it, written
 * after every session end and once more when the run stops, so `report --serve DIR`
 * shows a stopped run (or one killed mid-day: its last session end) without the process.
 * Written atomically (temp file, rename); writes never overlap, and a request during a
 * write makes one more write after it (the latest state wins, none is queued behind).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../domain/errors.js';
import { DashboardStateSchema, type DashboardState } from '../domain/dashboard-state.js';

export const DASHBOARD_JSON = 'dashboard.json';

export async function writeDashboardFile(dir: string, state: DashboardState): Promise<void> {
  const file = join(dir, DASHBOARD_JSON);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(DashboardStateSchema.parse(state))}\n`, 'utf8');
  await rename(tmp, file);
}

/** The saved state, or undefined when there is none; a file that does not parse is an error naming it. */
export async function readDashboardFile(dir: string): Promise<DashboardState | undefined> {
  const file = join(dir, DASHBOARD_JSON);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: not JSON (${e instanceof Error ? e.message : String(e)}); the run's dashboard file is damaged (it is written again at the run's next session end)`);
  }
  const parsed = DashboardStateSchema.safeParse(json);
  if (!parsed.success) throw new InputError(`${file}: not a dashboard state (${parsed.error.issues[0]?.path.join('.') || '(root)'}: ${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return parsed.data;
}

/** Coalescing writer: `request()` while a write runs makes exactly one more afterwards. */
export function dashboardWriter(write: () => Promise<void>, onError: (err: unknown) => void) {
  let running: Promise<void> | undefined;
  let again = false;
  const loop = async () => {
    do {
      again = false;
      await write().catch(onError);
    } while (again);
    running = undefined;
  };
  return {
    request(): void {
      if (running) again = true;
      else running = loop();
    },
    /** Resolves when no write is running. */
    async idle(): Promise<void> {
      while (running) await running;
    },
  };
}

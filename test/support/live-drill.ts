/**
 * What the live SIGKILL drills share (test/drills/live-*-sigkill.test.ts): `run` as a real CLI
 * process that, once it says where its built-in replay is, makes the fake broker follow it; and
 * the books a run left in its state directory (shares per client order id, each signature's last
 * position.jsonl record).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openStore } from '../../src/actors/store/store.js';
import { ROOT } from './cli.js';

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `agent-trader <args>` in its own process (through tsx, the source under test). */
export function runFollowing(fake: { follow(url: string): Promise<unknown> }, args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli/main.ts`, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let following = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const url = /^paper run .*?(ws:\/\/127\.0\.0\.1:\d+)/m.exec(stdout)?.[1];
      if (url && !following) {
        following = true;
        void fake.follow(url);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface Books {
  /** Shares booked per client order id. */
  readonly booked: Record<string, number>;
  /** Fill ids booked per client order id. */
  readonly fillIds: Record<string, string[]>;
  /** Each signature's last position.jsonl record. */
  readonly last: Record<string, Record<string, number>>;
}

export async function books(out: string, signatures: readonly string[] = ['ew', 'mom']): Promise<Books> {
  const store = await openStore(join(out, 'state'));
  const booked: Record<string, number> = {};
  const fillIds: Record<string, string[]> = {};
  try {
    for await (const { value } of store.listRecords<{ clientOrderId: string; fill: { quantity: number; fillId: string } }>('ledger-fills')) {
      booked[value.clientOrderId] = (booked[value.clientOrderId] ?? 0) + value.fill.quantity;
      (fillIds[value.clientOrderId] ??= []).push(value.fill.fillId);
    }
  } finally {
    await store.close();
  }
  const last: Record<string, Record<string, number>> = {};
  for (const sig of signatures) {
    const text = await readFile(join(out, sig, 'position.jsonl'), 'utf8').catch(() => '');
    if (text) last[sig] = (JSON.parse(text.trim().split('\n').at(-1)!) as { positions: Record<string, number> }).positions;
  }
  return { booked, fillIds, last };
}

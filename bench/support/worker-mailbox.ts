/** A worker thread (the benches' load generators) whose messages can be awaited by type. */
import { Worker } from 'node:worker_threads';

export interface Mailbox {
  readonly worker: Worker;
  /** The next message of this type (earlier ones of other types wait their turn). */
  next(type: string): Promise<{ type: string; [k: string]: unknown }>;
}

export function startWorker(source: string, workerData: unknown): Mailbox {
  const worker = new Worker(source, { eval: true, workerData });
  const messages: { type: string; [k: string]: unknown }[] = [];
  let wake: (() => void) | undefined;
  worker.on('message', (m: { type: string }) => {
    messages.push(m);
    wake?.();
  });
  return {
    worker,
    async next(type) {
      for (;;) {
        const i = messages.findIndex((m) => m.type === type);
        if (i >= 0) return messages.splice(i, 1)[0]!;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

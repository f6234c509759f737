/**
 * Progress for long commands: a redrawn bar on a terminal, plain lines otherwise
 * (CI logs, pipes), at most one line per `every` share so a log stays short.
 */
export interface Progress {
  /** `keep`: a line worth keeping (it names a problem): printed even between shares, and left standing on a terminal. */
  update(done: number, label?: string, keep?: boolean): void;
  finish(label?: string): void;
}

export function progress(total: number, out: NodeJS.WriteStream = process.stderr, every = 0.1): Progress {
  const width = 30;
  const tty = Boolean(out.isTTY);
  let lastShare = -1;
  const line = (done: number, label = '') => {
    const share = total === 0 ? 1 : Math.min(1, done / total);
    return { share, text: `${String(Math.round(share * 100)).padStart(3)}% ${done}/${total} ${label}`.trimEnd(), bar: share };
  };
  return {
    update(done, label, keep = false) {
      const { share, text, bar } = line(done, label);
      if (tty && keep) {
        out.write(`\r${text}\u001b[K\n`);
      } else if (tty) {
        const filled = Math.round(bar * width);
        out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\u001b[K`);
      } else if (keep || share - lastShare >= every || share === 1) {
        lastShare = share;
        out.write(`${text}\n`);
      }
    },
    finish(label) {
      if (tty) out.write(`\r\u001b[K`);
      if (label) out.write(`${label}\n`);
    },
  };
}

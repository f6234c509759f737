/**
 * A reader that stops early (`agent-trader calendar ... --json | head -c 10`) closes the pipe
 * under us; the next write fails with EPIPE. Like any Unix filter we then stop quietly: no
 * stack trace, and the exit code the command had so far (0 unless it had already failed).
 * Any other stream error is still fatal and shown.
 */
export function endQuietlyOnBrokenPipe(streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(process.exitCode ?? 0);
    });
  }
}

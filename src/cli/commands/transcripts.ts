/**
 * `transcripts [--dir DIR | --config F] [--signature S] [--out FILE]`: export the LLM
 * session transcripts of a run as JSON lines, one session per line, in session order.
 * The file is what people read to audit a run, and what the `replay` agent
 * (`log_file`) replays: the orders each session asked for, without calling a model.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { levelTranscripts } from '../../actors/agents/llm/transcript.js';
import { openRunStore } from '../run-dir.js';
import { runDirOf } from './explain.js';

interface TranscriptsOptions {
  readonly dir?: string;
  readonly config?: string;
  readonly signature?: string;
  readonly out?: string;
}

export function registerTranscriptsCommand(program: Command): void {
  program
    .command('transcripts')
    .description('export LLM session transcripts (JSON lines): for audits, and for the replay agent')
    .option('--dir <dir>', "a run's directory: a backtest's --out, or a paper/live state_dir")
    .option('--config <file>', 'read state_dir from this config (default: config/default.json)')
    .option('--signature <name>', 'only this agent')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (opts: TranscriptsOptions) => {
      const { dir } = await runDirOf(opts);
      const store = await openRunStore(dir);
      const lines: string[] = [];
      try {
        for await (const t of levelTranscripts(store).list(opts.signature)) lines.push(JSON.stringify(t));
      } finally {
        await store.close();
      }
      const text = lines.length ? `${lines.join('\n')}\n` : '';
      if (opts.out) {
        await writeFile(opts.out, text);
        process.stderr.write(`${lines.length} transcripts written to ${opts.out}\n`);
      } else process.stdout.write(text);
    });
}

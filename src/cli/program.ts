/**
 * The one CLI: `npm run cli -- <command> [options]`. Each command lives in its own
 * module under ./commands and registers itself on the program. Exit codes: 0 ok,
 * 2 bad input (InputError: message printed, no stack), 1 anything unexpected.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { InputError } from '../domain/errors.js';
import { registerConfigCommands } from './commands/config.js';
import { registerCalendarCommand } from './commands/calendar.js';
import { registerScheduleCommand } from './commands/schedule.js';
import { registerRunCommand } from './commands/run.js';
import { registerBacktestCommand } from './commands/backtest.js';
import { registerInspectCommand } from './commands/inspect.js';
import { registerReportCommand } from './commands/report.js';
import { registerKillCommand } from './commands/kill.js';
import { registerReplayServerCommand } from './commands/replay-server.js';
import { registerExplainCommand } from './commands/explain.js';
import { registerTranscriptsCommand } from './commands/transcripts.js';

/** The version in package.json, the one source of it. */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return z.object({ version: z.string() }).parse(JSON.parse(text)).version;
}

export function buildProgram(): Command {
  const program = new Command('agent-trader')
    .description('LLM agents and rule strategies trading A-shares and US stocks: backtest, paper, live.')
    .version(packageVersion(), '-V, --version', 'print the version (package.json) and exit')
    .showHelpAfterError()
    .exitOverride();
  registerConfigCommands(program);
  registerCalendarCommand(program);
  registerScheduleCommand(program);
  registerRunCommand(program);
  registerBacktestCommand(program);
  registerInspectCommand(program);
  registerReportCommand(program);
  registerKillCommand(program);
  registerReplayServerCommand(program);
  registerExplainCommand(program);
  registerTranscriptsCommand(program);
  return program;
}

export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander already printed usage/help; help and version are not failures.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0;
    return 2;
  }
  if (err instanceof InputError) {
    process.stderr.write(`error: ${err.message}\n`);
    for (const p of err.problems) process.stderr.write(`  ${p}\n`);
    return 2;
  }
  process.stderr.write(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err);
  }
}

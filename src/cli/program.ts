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
import { registerBrokerCommand } from './commands/broker.js';
import { registerComplianceCommand } from './commands/compliance.js';
import { registerControlCommands } from './commands/control.js';

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
  registerBrokerCommand(program);
  registerComplianceCommand(program);
  registerControlCommands(program);
  unknownOptionsFirst(program);
  return program;
}

/**
 * Commander checks required options before unknown ones, so `calendar --markt us` would say
 * "required option '--market' not specified" and hide the typo. Each command's required
 * options are checked in a preAction hook instead, which runs after the unknown-option check,
 * with commander's own message.
 */
function unknownOptionsFirst(command: Command): void {
  const required = command.options.filter((o) => o.mandatory);
  for (const o of required) o.mandatory = false;
  if (required.length > 0) {
    command.hook('preAction', (hooked) => {
      const missing = required.find((o) => hooked.getOptionValue(o.attributeName()) === undefined);
      if (missing) hooked.error(`error: required option '${missing.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' });
    });
  }
  for (const sub of command.commands) unknownOptionsFirst(sub);
}

/**
 * A problem line the message already says (`file:line: what` when the message is
 * `file:line: what; ...`): printing it again would show the error twice.
 */
function alreadySaid(message: string, problem: string): boolean {
  if (message.includes(problem)) return true;
  const at = /^\S+?: /.exec(problem)?.[0];
  return at !== undefined && message.startsWith(at) && message.includes(problem.slice(at.length));
}

export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander already printed usage/help; help and version are not failures.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0;
    return 2;
  }
  if (err instanceof InputError) {
    process.stderr.write(`error: ${err.message}\n`);
    for (const p of err.problems) if (!alreadySaid(err.message, p)) process.stderr.write(`  ${p}\n`);
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

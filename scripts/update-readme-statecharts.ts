/**
 * Regenerate the statechart diagrams in README.md from the machines.
 *
 *   npx tsx scripts/update-readme-statecharts.ts          rewrite README.md if a diagram changed
 *   npx tsx scripts/update-readme-statecharts.ts --check  exit 1 if one is out of date
 *
 * Each diagram sits between `<!-- statechart:<name>:start -->` and
 * `<!-- statechart:<name>:end -->` as a ```mermaid block made by `machineToMermaid`;
 * everything else in the README is left as it is. test/docs/statecharts.test.ts fails
 * when the README and the machines disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import { machineToMermaid } from '../src/machines/export.js';
import { orderMachine } from '../src/machines/order.machine.js';
import { sessionMachine } from '../src/machines/session.machine.js';

export const README = resolve(fileURLToPath(new URL('..', import.meta.url)), 'README.md');
export const UPDATE_COMMAND = 'npx tsx scripts/update-readme-statecharts.ts';

/** The machines whose diagrams the README shows, by marker name. */
export const README_STATECHARTS: Readonly<Record<string, AnyStateMachine>> = {
  session: sessionMachine,
  order: orderMachine,
};

export const startMarker = (name: string) => `<!-- statechart:${name}:start -->`;
export const endMarker = (name: string) => `<!-- statechart:${name}:end -->`;

/** What goes between the markers of one diagram (without the markers). */
export function statechartBlock(machine: AnyStateMachine): string {
  return ['```mermaid', machineToMermaid(machine), '```'].join('\n');
}

/** The text between a diagram's markers, trimmed; undefined if the markers are missing. */
export function readmeBlock(readme: string, name: string): string | undefined {
  const start = readme.indexOf(startMarker(name));
  const end = readme.indexOf(endMarker(name));
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + startMarker(name).length, end).trim();
}

/** The README with every diagram regenerated. Throws if a marker pair is missing. */
export function updateStatecharts(readme: string, machines = README_STATECHARTS): string {
  let out = readme;
  for (const [name, machine] of Object.entries(machines)) {
    const start = out.indexOf(startMarker(name));
    const end = out.indexOf(endMarker(name));
    if (start < 0 || end < start) {
      throw new Error(`README.md has no "${startMarker(name)}" ... "${endMarker(name)}" pair for the ${name} statechart`);
    }
    out = `${out.slice(0, start + startMarker(name).length)}\n${statechartBlock(machine)}\n${out.slice(end)}`;
  }
  return out;
}

function main(args: readonly string[]): number {
  const before = readFileSync(README, 'utf8');
  const after = updateStatecharts(before);
  if (after === before) {
    process.stdout.write('README.md statecharts are up to date\n');
    return 0;
  }
  if (args.includes('--check')) {
    process.stderr.write(`README.md statecharts are out of date: run ${UPDATE_COMMAND}\n`);
    return 1;
  }
  writeFileSync(README, after);
  process.stdout.write(`README.md statecharts updated (${Object.keys(README_STATECHARTS).join(', ')})\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}

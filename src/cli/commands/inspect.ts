/** `inspect`: a machine's statechart as JSON or as a Mermaid `stateDiagram-v2`. */
import type { Command } from 'commander';
import type { AnyStateMachine } from 'xstate';
import { machineToJson, machineToMermaid } from '../../machines/export.js';

/**
 * The machines `inspect` knows, loaded on demand: the rest of the CLI does not load
 * (or depend on) the machines, and only the asked one is imported.
 */
export const INSPECTABLE_MACHINES = {
  session: async (): Promise<AnyStateMachine> => (await import('../../machines/session.machine.js')).sessionMachine,
  order: async (): Promise<AnyStateMachine> => (await import('../../machines/order.machine.js')).orderMachine,
  engine: async (): Promise<AnyStateMachine> => (await import('../../machines/engine.machine.js')).engineMachine,
} as const;

export type InspectableMachine = keyof typeof INSPECTABLE_MACHINES;
const FORMATS = ['json', 'mermaid'] as const;

interface InspectOptions {
  machine: InspectableMachine;
  format: (typeof FORMATS)[number];
}

export function registerInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('print a statechart (states, transitions, guards, actions, actors) as JSON or as a Mermaid diagram')
    .addOption(
      program
        .createOption('--machine <machine>', 'which machine')
        .choices(Object.keys(INSPECTABLE_MACHINES))
        .makeOptionMandatory(),
    )
    .addOption(program.createOption('--format <format>', 'output format').choices(FORMATS).default('json'))
    .action(async (opts: InspectOptions) => {
      const machine = await INSPECTABLE_MACHINES[opts.machine]();
      const text =
        opts.format === 'mermaid' ? machineToMermaid(machine) : JSON.stringify(machineToJson(machine), null, 2);
      process.stdout.write(`${text}\n`);
    });
}

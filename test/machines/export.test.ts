import { describe, expect, it } from 'vitest';
import {
  and,
  assign,
  createMachine,
  enqueueActions,
  fromCallback,
  not,
  raise,
  sendParent,
  sendTo,
  setup,
  stateIn,
  type AnyStateNode,
} from 'xstate';
import { machineToJson, machineToMermaid, mermaidId, mermaidLabel, type MachineJson } from '../../src/machines/export.js';
import { INSPECTABLE_MACHINES } from '../../src/cli/commands/inspect.js';
import { cli } from '../support/cli.js';

/** A small order-like machine: compound and final states, named / inline / built-in actions, guards. */
const sample = setup({
  types: {} as {
    context: { fills: number };
    events: { type: 'order.place' } | { type: 'broker.fill' } | { type: 'broker.accepted' } | { type: 'order.cancel' } | { type: 'done' };
  },
  actors: { broker: fromCallback(() => {}), unused: fromCallback(() => {}) },
  actions: {
    publish: (_, _p: { status: string }) => {},
    countFill: assign({ fills: ({ context }) => context.fills + 1 }),
  },
  guards: { completes: () => true, isOpen: () => true, unusedGuard: () => true },
}).createMachine({
  id: 'sample',
  initial: 'new',
  context: { fills: 0 },
  states: {
    new: {
      on: {
        'order.place': [
          { guard: 'isOpen', target: 'working', actions: sendTo('broker', { type: 'broker.submit' }) },
          { target: 'rejected', actions: { type: 'publish', params: { status: 'rejected' } } },
        ],
      },
    },
    working: {
      initial: 'submitting',
      entry: enqueueActions(({ enqueue }) => enqueue({ type: 'publish', params: { status: 'working' } })),
      exit: [() => {}, { type: 'publish', params: { status: 'left' } }],
      invoke: { src: 'broker', id: 'brokerLink' },
      on: { 'order.cancel': { target: 'cancelled', actions: sendParent({ type: 'order.cancelled' }) } },
      states: {
        submitting: { on: { 'broker.accepted': 'accepted' } },
        accepted: {
          on: {
            'broker.fill': [
              { guard: and(['completes', not(stateIn('#sample.working.accepted'))]), target: '#sample.filled', actions: ['countFill'] },
              { guard: ({ context }) => context.fills > 0, actions: ['countFill', raise({ type: 'done' })], reenter: true, target: 'accepted' },
              { actions: 'countFill' },
            ],
          },
        },
      },
    },
    filled: { type: 'final' },
    cancelled: { type: 'final' },
    rejected: { type: 'final' },
  },
});

describe('machineToJson', () => {
  it('lists states, transitions, guards and actions by name, in document order', () => {
    const expected: MachineJson = {
      id: 'sample',
      type: 'compound',
      initial: 'new',
      entry: [],
      exit: [],
      transitions: [],
      states: [
        {
          id: 'new',
          type: 'atomic',
          entry: [],
          exit: [],
          transitions: [
            { event: 'order.place', targets: ['working'], guard: 'isOpen', actions: ['sendTo(broker, broker.submit)'] },
            { event: 'order.place', targets: ['rejected'], actions: ['publish'] },
          ],
        },
        {
          id: 'working',
          type: 'compound',
          initial: 'working.submitting',
          entry: ['enqueueActions'],
          exit: ['(inline)', 'publish'],
          invoke: [{ id: 'brokerLink', src: 'broker' }],
          transitions: [{ event: 'order.cancel', targets: ['cancelled'], actions: ['sendParent(order.cancelled)'] }],
        },
        {
          id: 'working.submitting',
          type: 'atomic',
          entry: [],
          exit: [],
          transitions: [{ event: 'broker.accepted', targets: ['working.accepted'], actions: [] }],
        },
        {
          id: 'working.accepted',
          type: 'atomic',
          entry: [],
          exit: [],
          transitions: [
            {
              event: 'broker.fill',
              targets: ['filled'],
              guard: 'and(completes, not(stateIn(#sample.working.accepted)))',
              actions: ['countFill'],
            },
            {
              event: 'broker.fill',
              targets: ['working.accepted'],
              guard: '(inline)',
              actions: ['countFill', 'raise(done)'],
              reenter: true,
            },
            { event: 'broker.fill', targets: [], actions: ['countFill'] },
          ],
        },
        { id: 'filled', type: 'final', entry: [], exit: [], transitions: [] },
        { id: 'cancelled', type: 'final', entry: [], exit: [], transitions: [] },
        { id: 'rejected', type: 'final', entry: [], exit: [], transitions: [] },
      ],
      actors: ['broker', 'unused'],
      guards: ['completes', 'isOpen', 'unusedGuard'],
      actions: ['countFill', 'publish'],
    };
    expect(machineToJson(sample)).toEqual(expected);
    // Stable: the same bytes every time (the README is compared with it).
    expect(JSON.stringify(machineToJson(sample))).toBe(JSON.stringify(expected));
  });

  it('names root-level entry actions and transitions, parallel states and inline actors', () => {
    const m = createMachine({
      id: 'p',
      type: 'parallel',
      entry: ['log', assign({})],
      on: { reset: { actions: 'log' } },
      states: {
        a: { initial: 'x', states: { x: { invoke: { src: fromCallback(() => {}), id: 'cb' } } } },
        b: { initial: 'y', states: { y: { always: { target: '#p.b.y', guard: () => false } } } },
      },
    });
    const json = machineToJson(m);
    expect(json).toMatchObject({ id: 'p', type: 'parallel', entry: ['log', 'assign'] });
    expect(json.initial).toBeUndefined();
    expect(json.transitions).toEqual([{ event: 'reset', targets: [], actions: ['log'] }]);
    expect(json.states.map((s) => `${s.id}:${s.type}`)).toEqual(['a:compound', 'a.x:atomic', 'b:compound', 'b.y:atomic']);
    expect(json.states[1]!.invoke).toEqual([{ id: 'cb', src: '(inline)' }]);
    expect(json.states[3]!.transitions).toEqual([{ event: '(always)', targets: ['b.y'], guard: '(inline)', actions: [] }]);
  });
});

describe('guard parameters', () => {
  it('shows static guard params so edges that differ only by them stay readable', () => {
    const m = setup({ guards: { is: (_: unknown, _p: { status: string }) => true } }).createMachine({
      initial: 'a',
      states: {
        a: {
          on: {
            go: [
              { guard: { type: 'is', params: { status: 'filled' } }, target: 'b' },
              { guard: { type: 'is', params: { status: 'cancelled' } }, target: 'c' },
            ],
          },
        },
        b: {},
        c: {},
      },
    });
    expect(machineToJson(m).states[0]!.transitions.map((t) => t.guard)).toEqual(['is(filled)', 'is(cancelled)']);
  });
});

describe('machineToMermaid', () => {
  it('draws nested states, initial and final markers, and labelled transitions', () => {
    expect(machineToMermaid(sample)).toBe(
      [
        'stateDiagram-v2',
        '  [*] --> new',
        '  new',
        '  state working {',
        '    [*] --> working__submitting',
        '    state "submitting" as working__submitting',
        '    state "accepted" as working__accepted',
        '  }',
        '  filled',
        '  filled --> [*]',
        '  cancelled',
        '  cancelled --> [*]',
        '  rejected',
        '  rejected --> [*]',
        '  new --> working : order.place [isOpen]',
        '  new --> rejected : order.place',
        '  working --> cancelled : order.cancel',
        '  working__submitting --> working__accepted : broker.accepted',
        '  working__accepted --> filled : broker.fill [and(completes, not(stateIn(＃sample.working.accepted)))]',
        '  working__accepted --> working__accepted : broker.fill [(inline)]',
        '  working__accepted --> working__accepted : broker.fill',
      ].join('\n'),
    );
  });

  it('separates parallel regions and draws root transitions from every top-level state', () => {
    const m = setup({}).createMachine({
      id: 'p',
      initial: 'on',
      on: { 'power.cut': '.off' },
      states: {
        on: {
          type: 'parallel',
          states: { a: { initial: 'x', states: { x: {} } }, b: { initial: 'y', states: { y: {} } } },
        },
        off: {},
        done: { type: 'final' },
      },
    });
    expect(machineToMermaid(m)).toBe(
      [
        'stateDiagram-v2',
        '  [*] --> on',
        '  state on {',
        '    state on__a {',
        '      [*] --> on__a__x',
        '      state "x" as on__a__x',
        '    }',
        '    --',
        '    state on__b {',
        '      [*] --> on__b__y',
        '      state "y" as on__b__y',
        '    }',
        '  }',
        '  off',
        '  done',
        '  done --> [*]',
        '  on --> off : power.cut',
        '  off --> off : power.cut',
      ].join('\n'),
    );
  });

  it('keeps ids and labels within what Mermaid parses', () => {
    expect(mermaidId(['executing', 'checking'])).toBe('executing__checking');
    expect(mermaidId(['partially-filled'])).toBe('partially_filled');
    expect(mermaidId(['defaulted'])).toBe('s_defaulted');
    expect(mermaidId(['root'])).toBe('s_root');
    expect(mermaidLabel('a:b;c#d\ne')).toBe('a∶b;c＃d e');
    expect(mermaidLabel('broker.fill [isNewFill]')).toBe('broker.fill [isNewFill]');
  });
});

describe('agent-trader inspect', () => {
  it('prints the order machine as Mermaid', () => {
    const r = cli(['inspect', '--machine', 'order', '--format', 'mermaid']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('stateDiagram-v2\n')).toBe(true);
    for (const s of ['new', 'submitting', 'accepted', 'partially_filled', 'filled', 'cancelling', 'cancelled', 'rejected', 'expired']) {
      expect(r.stdout).toMatch(new RegExp(`^ +${s}$`, 'm'));
    }
  });

  it.each(['session', 'order', 'engine'] as const)('prints the %s machine as JSON listing every state', async (name) => {
    const r = cli(['inspect', '--machine', name, '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as MachineJson;
    const machine = await INSPECTABLE_MACHINES[name]();
    expect(json).toEqual(machineToJson(machine));
    // Every state node of the machine, found independently of the exporter's walk.
    const paths: string[] = [];
    const walk = (node: AnyStateNode) => {
      for (const child of Object.values(node.states) as AnyStateNode[]) {
        paths.push(child.path.join('.'));
        walk(child);
      }
    };
    walk(machine.root);
    expect(json.states.map((s) => s.id).sort()).toEqual(paths.sort());
  });

  it('refuses an unknown machine with exit code 2', () => {
    const r = cli(['inspect', '--machine', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("argument 'nope' is invalid");
  });
});

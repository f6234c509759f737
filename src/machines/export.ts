/**
 * Statechart export: a machine's structure as JSON and as a Mermaid `stateDiagram-v2`.
 *
 * Pure (imports only xstate): it walks `machine.root` and its state nodes
 * (`type`, `initial`, `entry`, `exit`, `invoke`, `transitions`, `always`) and names
 * every action and guard:
 * - a named action / guard (`'publish'`, `{ type: 'publish', params }`) by its name;
 * - an xstate built-in by a readable call (`assign(n)`, `sendTo(broker, broker.submit)`,
 *   `sendParent(order.result)`, `raise(x)`, `spawnChild(order)`, `enqueueActions`,
 *   `and(a, not(b))`, `stateIn(#m.a)`);
 * - an inline function as `(inline)`.
 *
 * Output is deterministic: states in document order (depth first), transitions in the
 * order of the machine config (then `always`), the name lists sorted. The same machine
 * always gives the same bytes, so the README's diagrams are checked by a test.
 *
 * State ids in the JSON are dotted paths from the root (`executing.checking`). In
 * Mermaid they are the path joined with `__` (Mermaid ids cannot take `.`, `-`, `:`),
 * shown with their own key as the label.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

export type StateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface TransitionJson {
  /** The event type; `(always)` for an eventless transition. */
  readonly event: string;
  /** Dotted paths of the targets; empty for a targetless transition (actions only, state kept). */
  readonly targets: readonly string[];
  readonly guard?: string;
  readonly actions: readonly string[];
  /** Only present (true) when the transition re-enters its source. */
  readonly reenter?: true;
}

export interface InvokeJson {
  readonly id: string;
  readonly src: string;
}

export interface StateJson {
  /** Dotted path from the root, e.g. `executing.checking`. */
  readonly id: string;
  readonly type: StateType;
  /** Compound states: the dotted path of the initial child. */
  readonly initial?: string;
  readonly entry: readonly string[];
  readonly exit: readonly string[];
  /** Only present when the state invokes actors. */
  readonly invoke?: readonly InvokeJson[];
  readonly transitions: readonly TransitionJson[];
}

export interface MachineJson {
  readonly id: string;
  readonly type: StateType;
  readonly initial?: string;
  /** The root's own entry / exit actions and transitions (handled in every state). */
  readonly entry: readonly string[];
  readonly exit: readonly string[];
  readonly invoke?: readonly InvokeJson[];
  readonly transitions: readonly TransitionJson[];
  /** Every state below the root, depth first in document order. */
  readonly states: readonly StateJson[];
  /** Actor logic registered in `setup({ actors })`, invoked or spawned by name; sorted. */
  readonly actors: readonly string[];
  /** Guards registered in `setup({ guards })` or referenced by name; sorted. */
  readonly guards: readonly string[];
  /** Actions registered in `setup({ actions })` or referenced by name; sorted. */
  readonly actions: readonly string[];
}

export const INLINE = '(inline)';
export const ALWAYS = '(always)';

// ---------------------------------------------------------------------------------------
// names

type Named = { readonly type: string };
const isNamed = (x: unknown): x is Named =>
  typeof x === 'object' && x !== null && typeof (x as { type?: unknown }).type === 'string';

/** The `type` of an event given as an object (`{ type: 'x' }`); undefined for an expression. */
function eventTypeOf(event: unknown): string | undefined {
  return isNamed(event) ? event.type : undefined;
}

/** Readable name of an xstate built-in action creator's result (a function with a `type`). */
function builtinName(fn: Record<string, unknown>, type: string): string {
  const short = type.slice('xstate.'.length);
  const call = (name: string, ...args: (string | undefined)[]) => {
    const given = args.filter((a): a is string => a !== undefined && a !== '');
    return given.length ? `${name}(${given.join(', ')})` : name;
  };
  switch (type) {
    case 'xstate.assign': {
      const a = fn.assignment;
      return call('assign', typeof a === 'object' && a !== null ? Object.keys(a).join(', ') : undefined);
    }
    case 'xstate.sendTo': {
      const to = fn.to;
      const ev = eventTypeOf(fn.event);
      if (to === '#_parent') return call('sendParent', ev);
      return call('sendTo', typeof to === 'string' ? to : ev !== undefined ? '…' : undefined, ev);
    }
    case 'xstate.raise':
    case 'xstate.emit':
      return call(short, eventTypeOf(fn.event));
    case 'xstate.spawnChild':
      return call('spawnChild', typeof fn.src === 'string' ? fn.src : INLINE);
    case 'xstate.stopChild':
      return call('stopChild', typeof fn.actorRef === 'string' ? fn.actorRef : undefined);
    case 'xstate.cancel':
      return call('cancel', typeof fn.sendId === 'string' ? fn.sendId : undefined);
    default:
      return short; // xstate.log -> log, xstate.enqueueActions -> enqueueActions, ...
  }
}

/** The name of one action as written in a machine config. */
export function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') {
    const t = (action as unknown as { type?: unknown }).type;
    if (typeof t === 'string' && t.startsWith('xstate.')) {
      return builtinName(action as unknown as Record<string, unknown>, t);
    }
    return INLINE;
  }
  if (isNamed(action)) return action.type;
  return INLINE;
}

/** The name of one guard as written in a machine config (`and(a, not(b))` for combinators). */
export function guardName(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const g = guard as unknown as { check?: unknown; guards?: unknown; stateValue?: unknown; name: string };
    if (typeof g.check === 'function' && Array.isArray(g.guards) && ['and', 'or', 'not'].includes(g.name)) {
      return `${g.name}(${(g.guards as unknown[]).map(guardName).join(', ')})`;
    }
    if (typeof g.check === 'function' && 'stateValue' in g) {
      return `stateIn(${typeof g.stateValue === 'string' ? g.stateValue : JSON.stringify(g.stateValue)})`;
    }
    return INLINE;
  }
  if (isNamed(guard)) return guard.type + paramsLabel((guard as { params?: unknown }).params);
  return INLINE;
}

/** `(filled)` for `{ status: 'filled' }`: static params make otherwise identical edges readable. */
function paramsLabel(params: unknown): string {
  if (params === undefined || params === null || typeof params === 'function') return '';
  if (typeof params !== 'object') return `(${String(params)})`;
  const values = Object.values(params as Record<string, unknown>).filter((v) => ['string', 'number', 'boolean'].includes(typeof v));
  return values.length > 0 ? `(${values.join(', ')})` : '';
}

/** Names of guards referenced by name (inside combinators too). */
function namedGuards(guard: unknown, into: Set<string>): void {
  if (typeof guard === 'string') into.add(guard);
  else if (isNamed(guard) && typeof guard !== 'function') into.add(guard.type);
  else if (typeof guard === 'function') {
    const inner = (guard as unknown as { guards?: unknown }).guards;
    if (Array.isArray(inner)) for (const g of inner) namedGuards(g, into);
  }
}

function namedAction(action: unknown): string | undefined {
  if (typeof action === 'string') return action;
  if (typeof action !== 'function' && isNamed(action)) return action.type;
  return undefined;
}

// ---------------------------------------------------------------------------------------
// JSON

const pathOf = (node: AnyStateNode): string => node.path.join('.');

/** Child state nodes in document order. */
const childrenOf = (node: AnyStateNode): AnyStateNode[] =>
  (Object.values(node.states) as AnyStateNode[]).sort((a, b) => a.order - b.order);

function transitionJson(t: AnyTransitionDefinition, event: string): TransitionJson {
  const targets = (t.target ?? []).map((n: AnyStateNode) => pathOf(n));
  return {
    event,
    targets,
    ...(t.guard !== undefined ? { guard: guardName(t.guard) } : {}),
    actions: (t.actions ?? []).map(actionName),
    ...(t.reenter ? { reenter: true as const } : {}),
  };
}

function transitionsOf(node: AnyStateNode): TransitionJson[] {
  const out: TransitionJson[] = [];
  for (const [event, list] of node.transitions) for (const t of list) out.push(transitionJson(t, event));
  for (const t of node.always ?? []) out.push(transitionJson(t, ALWAYS));
  return out;
}

/** The name of invoked logic: xstate names inline logic `xstate.invoke.<n>.<state id>`. */
const invokedName = (src: unknown): string =>
  typeof src === 'string' && !src.startsWith('xstate.invoke.') ? src : INLINE;

function invokeOf(node: AnyStateNode): InvokeJson[] {
  return node.invoke.map((inv) => ({ id: inv.id, src: invokedName(inv.src) }));
}

function initialOf(node: AnyStateNode): string | undefined {
  if (node.type !== 'compound') return undefined;
  const target = node.initial?.target?.[0] as AnyStateNode | undefined;
  return target ? pathOf(target) : undefined;
}

function stateJson(node: AnyStateNode): StateJson {
  const initial = initialOf(node);
  const invoke = invokeOf(node);
  return {
    id: pathOf(node),
    type: node.type,
    ...(initial !== undefined ? { initial } : {}),
    entry: node.entry.map(actionName),
    exit: node.exit.map(actionName),
    ...(invoke.length ? { invoke } : {}),
    transitions: transitionsOf(node),
  };
}

function allNodes(root: AnyStateNode): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  const walk = (n: AnyStateNode) => {
    for (const c of childrenOf(n)) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** The machine's statechart as JSON (see {@link MachineJson}). */
export function machineToJson(machine: AnyStateMachine): MachineJson {
  const root = machine.root as AnyStateNode;
  const nodes = [root, ...allNodes(root)];
  const impl = machine.implementations as {
    actors?: Record<string, unknown>;
    guards?: Record<string, unknown>;
    actions?: Record<string, unknown>;
  };
  const actors = new Set(Object.keys(impl.actors ?? {}));
  const guards = new Set(Object.keys(impl.guards ?? {}));
  const actions = new Set(Object.keys(impl.actions ?? {}));
  const noteAction = (a: unknown) => {
    const n = namedAction(a);
    if (n !== undefined) actions.add(n);
    if (typeof a === 'function') {
      const f = a as unknown as { type?: unknown; src?: unknown };
      if (f.type === 'xstate.spawnChild' && typeof f.src === 'string') actors.add(f.src);
    }
  };
  for (const node of nodes) {
    for (const a of [...node.entry, ...node.exit]) noteAction(a);
    for (const inv of node.invoke) if (invokedName(inv.src) !== INLINE) actors.add(invokedName(inv.src));
    const ts: AnyTransitionDefinition[] = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    for (const t of ts) {
      for (const a of t.actions ?? []) noteAction(a);
      if (t.guard !== undefined) namedGuards(t.guard, guards);
    }
  }
  const initial = initialOf(root);
  const invoke = invokeOf(root);
  const sorted = (s: Set<string>) => [...s].sort();
  return {
    id: machine.id,
    type: root.type,
    ...(initial !== undefined ? { initial } : {}),
    entry: root.entry.map(actionName),
    exit: root.exit.map(actionName),
    ...(invoke.length ? { invoke } : {}),
    transitions: transitionsOf(root),
    states: nodes.slice(1).map(stateJson),
    actors: sorted(actors),
    guards: sorted(guards),
    actions: sorted(actions),
  };
}

// ---------------------------------------------------------------------------------------
// Mermaid

/**
 * A Mermaid state id for a state path. Mermaid's lexer reads an id as `[^:\n\s\-\{]+`,
 * and ids end up in DOM ids and CSS selectors, so only `[A-Za-z0-9_]` is kept; path
 * segments are joined with `__`. Its lexer also matches the keyword `default` as a prefix
 * (case-insensitive, first rule wins), and `root` is the id of its top-level document, so
 * such ids get an `s_` prefix.
 */
export function mermaidId(path: readonly string[]): string {
  const id = path.map((s) => s.replace(/[^A-Za-z0-9_]/g, '_')).join('__');
  return /^default/i.test(id) || id === 'root' || id === '' ? `s_${id}` : id;
}

/**
 * Text usable in a Mermaid transition label. After `:` Mermaid's lexer takes `[^:\n;]+`,
 * so a `:` or `;` would end the label (and a Mermaid entity code like `#58;` contains a
 * `;` itself); `#` starts an entity code. These are replaced with look-alikes:
 * `:` -> `∶` (U+2236), `;` -> `;` (U+037E), `#` -> `＃` (U+FF03); newlines with spaces.
 */
export function mermaidLabel(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/:/g, '∶').replace(/;/g, ';').replace(/#/g, '＃');
}

/** The Mermaid label of a transition: `event [guard]`. */
function edgeLabel(t: TransitionJson): string {
  return mermaidLabel(t.guard !== undefined ? `${t.event} [${t.guard}]` : t.event);
}

/** The machine's statechart as a Mermaid `stateDiagram-v2` (no trailing newline). */
export function machineToMermaid(machine: AnyStateMachine): string {
  const root = machine.root as AnyStateNode;
  const lines: string[] = ['stateDiagram-v2'];
  const pad = (depth: number) => '  '.repeat(depth);

  // 1. Structure: every state declared in its own block, so it belongs to that block
  //    (Mermaid keeps a state in the block where it first appears).
  const declareChildren = (node: AnyStateNode, depth: number) => {
    const children = childrenOf(node);
    const regions = node.type === 'parallel';
    const initial = node.type === 'compound' ? (node.initial?.target?.[0] as AnyStateNode | undefined) : undefined;
    if (initial) lines.push(`${pad(depth)}[*] --> ${mermaidId(initial.path)}`);
    children.forEach((child, i) => {
      if (regions && i > 0) lines.push(`${pad(depth)}--`);
      const id = mermaidId(child.path);
      if (child.type === 'compound' || child.type === 'parallel') {
        lines.push(`${pad(depth)}state ${id} {`);
        declareChildren(child, depth + 1);
        lines.push(`${pad(depth)}}`);
      } else if (child.type === 'history') {
        lines.push(`${pad(depth)}state "${child.history === 'deep' ? 'H*' : 'H'}" as ${id}`);
      } else if (id !== child.key) {
        lines.push(`${pad(depth)}state "${child.key.replace(/"/g, "'")}" as ${id}`);
      } else {
        lines.push(`${pad(depth)}${id}`);
      }
      if (child.type === 'final') lines.push(`${pad(depth)}${id} --> [*]`);
    });
  };
  declareChildren(root, 1);

  // 2. Transitions, all at the top level after every state is placed: a transition
  //    written inside another block would move its states into that block.
  const edges = (sourceIds: readonly string[], node: AnyStateNode) => {
    const defs: [string, AnyTransitionDefinition][] = [
      ...[...node.transitions].flatMap(([event, list]) => list.map((t) => [event, t] as [string, AnyTransitionDefinition])),
      ...(node.always ?? []).map((t) => [ALWAYS, t] as [string, AnyTransitionDefinition]),
    ];
    for (const [event, t] of defs) {
      const label = edgeLabel(transitionJson(t, event));
      const targets = (t.target ?? []) as AnyStateNode[];
      for (const from of sourceIds) {
        // A targetless transition keeps the state: drawn as a self-loop. The root
        // itself cannot be drawn as a target.
        const to = targets.length ? targets.filter((n) => n !== root).map((n) => mermaidId(n.path)) : [from];
        for (const id of to) lines.push(`  ${from} --> ${id} : ${label}`);
      }
    }
  };
  // The root's own transitions are taken in every top-level state.
  const topLevel = childrenOf(root).filter((c) => c.type !== 'final' && c.type !== 'history');
  edges(topLevel.map((c) => mermaidId(c.path)), root);
  for (const node of allNodes(root)) edges([mermaidId(node.path)], node);
  return lines.join('\n');
}

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decimal } from 'decimal.js';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, fromCallback, sendTo, setup } from 'xstate';
import {
  createInspectionRecorder,
  createJsonlFileInspector,
  toJsonSafe,
  type InspectionRecorderOptions,
} from '../../src/actors/store/inspection-recorder.js';

/** A broker stand-in that answers `submit` with `accepted`. */
const broker = fromCallback<{ type: 'submit'; id: string }>(({ receive, sendBack }) => {
  receive((e) => sendBack({ type: 'accepted', id: e.id }));
});

const orderish = setup({
  types: {} as {
    context: { id: string; price: Decimal; at: DateTime; accepted: number };
    events: { type: 'place' } | { type: 'accepted'; id: string };
  },
  actors: { broker },
  actions: { publish: (_, _p: { status: string }) => {} },
}).createMachine({
  id: 'order',
  initial: 'new',
  context: { id: 'o-1', price: new Decimal('10.50'), at: DateTime.fromMillis(0, { zone: 'utc' }), accepted: 0 },
  invoke: { src: 'broker', id: 'broker', systemId: 'broker' },
  states: {
    new: { on: { place: { target: 'submitting', actions: sendTo('broker', ({ context }) => ({ type: 'submit' as const, id: context.id })) } } },
    submitting: {
      on: {
        accepted: {
          target: 'accepted',
          actions: [assign({ accepted: ({ context }) => context.accepted + 1 }), { type: 'publish', params: { status: 'accepted' } }],
        },
      },
    },
    accepted: { type: 'final' },
  },
});

type Line = Record<string, unknown> & { seq: number; type: string; actorId: string };

function run(options?: InspectionRecorderOptions) {
  const raw: string[] = [];
  const actor = createActor(orderish, { systemId: 'order:o-1', inspect: createInspectionRecorder((l) => raw.push(l), options) });
  actor.subscribe({ error: () => {} });
  actor.start();
  actor.send({ type: 'place' });
  const lines = raw.map((l) => JSON.parse(l) as Line);
  return { raw, lines, actor };
}

describe('inspection recorder', () => {
  it('writes one JSON line per inspection event, numbered in order', () => {
    const { raw, lines, actor } = run();
    expect(actor.getSnapshot().value).toBe('accepted');
    expect(raw.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
    expect(new Set(lines.map((l) => l.type))).toEqual(
      new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot', '@xstate.microstep', '@xstate.action']),
    );
  });

  it('names actors by session id, with their id and system id, and events by their sender', () => {
    const { lines, actor } = run();
    const root = actor.sessionId;
    const actors = lines.filter((l) => l.type === '@xstate.actor');
    expect(actors).toEqual([
      { seq: 1, type: '@xstate.actor', rootId: root, actorId: root, id: root, systemId: 'order:o-1' },
      {
        seq: 2,
        type: '@xstate.actor',
        rootId: root,
        actorId: expect.any(String),
        id: 'broker',
        systemId: 'broker',
        parentId: root,
        src: 'broker',
      },
    ]);
    const brokerId = actors[1]!.actorId;
    expect(brokerId).not.toBe(root);

    const submit = lines.find((l) => l.type === '@xstate.event' && (l.event as { type: string }).type === 'submit');
    expect(submit).toMatchObject({ actorId: brokerId, sourceId: root, event: { type: 'submit', id: 'o-1' } });
    const accepted = lines.find((l) => l.type === '@xstate.event' && (l.event as { type: string }).type === 'accepted');
    expect(accepted).toMatchObject({ actorId: root, sourceId: brokerId });
  });

  it('records snapshot value and status without the context by default', () => {
    const { lines, actor } = run();
    const snapshots = lines.filter((l) => l.type === '@xstate.snapshot' && l.actorId === actor.sessionId);
    expect(snapshots.map((l) => l.snapshot)).toEqual([
      { status: 'active', value: 'new' },
      { status: 'active', value: 'submitting' },
      { status: 'done', value: 'accepted' },
    ]);
    const micro = lines.filter((l) => l.type === '@xstate.microstep');
    expect(micro.map((l) => l.transitions)).toEqual([
      [{ eventType: 'place', source: 'order.new', targets: ['order.submitting'] }],
      [{ eventType: 'accepted', source: 'order.submitting', targets: ['order.accepted'] }],
    ]);
  });

  it('records actions with JSON-safe params: actor refs as ids, functions dropped', () => {
    const { lines } = run();
    const actions = lines.filter((l) => l.type === '@xstate.action').map((l) => l.action as { type: string; params: unknown });
    expect(actions.find((a) => a.type === 'publish')).toEqual({ type: 'publish', params: { status: 'accepted' } });
    const send = actions.find((a) => a.type === 'xstate.sendTo');
    expect(send?.params).toMatchObject({ to: { $actor: expect.any(String), id: 'broker', systemId: 'broker' }, event: { type: 'submit' } });
    const spawn = actions.find((a) => a.type === 'xstate.spawnChild');
    expect(spawn?.params).toMatchObject({ id: 'broker', src: 'broker', actorRef: { id: 'broker' } });
    expect(JSON.stringify(actions)).not.toMatch(/_snapshot|mailbox|"system"/); // no raw actor objects
  });

  it('includes the context when asked, as JSON (DateTime and Decimal through toJSON)', () => {
    const always = run({ context: true }).lines.find((l) => l.type === '@xstate.snapshot' && (l.snapshot as { value?: string }).value === 'accepted');
    expect((always!.snapshot as { context: unknown }).context).toEqual({
      id: 'o-1',
      price: '10.5',
      at: '1970-01-01T00:00:00.000Z',
      accepted: 1,
    });
    const small = run({ context: 10 }).lines.filter((l) => l.type === '@xstate.snapshot');
    expect(small.some((l) => 'context' in (l.snapshot as object))).toBe(false);
  });

  it('stamps lines with the injected clock', () => {
    let t = 1000;
    const { lines } = run({ now: () => (t += 1) });
    expect(lines.map((l) => l.time)).toEqual(lines.map((_, i) => 1001 + i));
  });

  it('never throws into the actor system', () => {
    const observer = createInspectionRecorder(() => {
      throw new Error('disk full');
    });
    const actor = createActor(orderish, { inspect: observer });
    actor.start();
    actor.send({ type: 'place' });
    expect(actor.getSnapshot().value).toBe('accepted');
  });
});

describe('toJsonSafe', () => {
  it('bounds depth, breaks cycles and keeps plain values', () => {
    const a: Record<string, unknown> = { n: 1, f: () => 1, s: Symbol('x'), big: 2n, nan: Number.NaN, m: new Map([['k', 1]]) };
    a.self = a;
    expect(toJsonSafe(a)).toEqual({ n: 1, big: '2', nan: 'NaN', m: { k: 1 }, self: '[circular]' });
    expect(toJsonSafe({ a: { b: { c: 1 } } }, 2)).toEqual({ a: { b: '[…]' } });
    expect(toJsonSafe(new Error('boom'))).toEqual({ error: 'Error', message: 'boom' });
  });
});

describe('JSONL file inspector', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('appends every inspection event to the file, one JSON object per line', async () => {
    dir = await mkdtemp(join(tmpdir(), 'agent-trader-inspect-'));
    const file = join(dir, 'logs', 'inspect.jsonl');
    const first = createJsonlFileInspector(file);
    const actor = createActor(orderish, { inspect: first.inspect });
    actor.start();
    actor.send({ type: 'place' });
    await Promise.all([first.close(), first.close()]);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.at(-1)).toMatchObject({ type: '@xstate.snapshot', actorId: actor.sessionId, snapshot: { status: 'done' } });

    // A second recorder appends (a restart keeps the earlier lines).
    const second = createJsonlFileInspector(file);
    createActor(orderish, { inspect: second.inspect }).start();
    await second.close();
    const after = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(after.length).toBeGreaterThan(lines.length);
    expect(JSON.parse(after[lines.length]!)).toMatchObject({ seq: 1, type: '@xstate.actor' });
  });
});

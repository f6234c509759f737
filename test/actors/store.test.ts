import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decimal } from 'decimal.js';
import { DateTime } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECK_JSON_ENV, findNonJson, NonJsonValueError, openStore, type JournalRecord, type Store } from '../../src/actors/store/store.js';
import { InputError } from '../../src/domain/errors.js';
import { ROOT } from '../support/cli.js';

let dir: string;
const opened: Store[] = [];

async function open(at = dir, options: Parameters<typeof openStore>[1] = {}): Promise<Store> {
  const s = await openStore(at, options);
  opened.push(s);
  return s;
}

async function all<T>(it: AsyncIterable<JournalRecord<T>>): Promise<JournalRecord<T>[]> {
  const out: JournalRecord<T>[] = [];
  for await (const r of it) out.push(r);
  return out;
}

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'agent-trader-store-')), 'state');
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  await rm(join(dir, '..'), { recursive: true, force: true });
});

describe('store: snapshots with their records', () => {
  it('saves a snapshot, its journal entries and its records together, and loads them back', async () => {
    const store = await open();
    const snapshot = { status: 'active', value: { executing: 'checking' }, context: { n: 1, error: undefined } };
    await store.saveSnapshot('engine', snapshot, {
      journal: [{ type: 'session.started' }, { type: 'order.placed', id: 'o-1' }],
      puts: [
        { sublevel: 'orders', key: 'o-1', value: { status: 'submitting', qty: 100 } },
        { sublevel: 'ledger', key: 'alpha', value: { cash: '10000.00' } },
      ],
    });
    expect(await store.loadSnapshot('engine')).toEqual({ status: 'active', value: { executing: 'checking' }, context: { n: 1 } });
    expect(await store.loadSnapshot('nope')).toBeUndefined();
    expect(await store.getOrder('o-1')).toEqual({ status: 'submitting', qty: 100 });
    expect(await store.getRecord('ledger', 'alpha')).toEqual({ cash: '10000.00' });
    expect(await all(store.readJournal())).toEqual([
      { seq: 1, entry: { type: 'session.started' } },
      { seq: 2, entry: { type: 'order.placed', id: 'o-1' } },
    ]);
  });

  it('writes nothing when one value of the batch is not JSON: neither the snapshot nor its records', async () => {
    const store = await open(dir, { checkJson: true });
    await store.saveSnapshot('engine', { v: 1 }, { journal: ['first'], puts: [{ sublevel: 'orders', key: 'o-1', value: { v: 1 } }] });

    const attempt = store.saveSnapshot(
      'engine',
      { v: 2 },
      {
        journal: ['second'],
        puts: [
          { sublevel: 'orders', key: 'o-1', value: { v: 2 } },
          { sublevel: 'orders', key: 'o-2', value: { price: new Decimal('10.5') } },
        ],
      },
    );
    await expect(attempt).rejects.toThrow(NonJsonValueError);
    await expect(attempt).rejects.toThrow(/record orders\/o-2 .*\$\.price is a Decimal instance/);

    expect(await store.loadSnapshot('engine')).toEqual({ v: 1 });
    expect(await store.getOrder('o-1')).toEqual({ v: 1 });
    expect(await store.getOrder('o-2')).toBeUndefined();
    expect(store.lastJournalSeq()).toBe(1);
    expect(await all(store.readJournal())).toEqual([{ seq: 1, entry: 'first' }]);

    // A bad snapshot (a function in it) or a bad journal entry: same, nothing written.
    await expect(store.saveSnapshot('engine', { v: 3, f: () => 1 }, { journal: ['third'] })).rejects.toThrow(/\$\.f is a function/);
    await expect(store.saveSnapshot('engine', { v: 4 }, { journal: [DateTime.utc(2025, 1, 2)] })).rejects.toThrow(
      /journal entry 0 .*DateTime instance/,
    );
    expect(await store.loadSnapshot('engine')).toEqual({ v: 1 });
    expect(await all(store.readJournal())).toEqual([{ seq: 1, entry: 'first' }]);

    // The store is still usable, and numbering goes on without a gap.
    await store.saveSnapshot('engine', { v: 5 }, { journal: ['fifth'] });
    expect(await all(store.readJournal())).toEqual([
      { seq: 1, entry: 'first' },
      { seq: 2, entry: 'fifth' },
    ]);
  });

  it('checks values in every test (and every process a test starts): the debug flag is set by vitest.config.ts', async () => {
    expect(process.env[CHECK_JSON_ENV]).toBe('1');
    const store = await open();
    await expect(store.putOrder('o-1', { price: new Decimal('1.5') })).rejects.toThrow(/\$\.price is a Decimal instance/);
  });

  it('without the debug check (production), values are not walked but keys and namespaces still are', async () => {
    const store = await open(dir, { checkJson: false });
    // Not refused: written as JSON.stringify makes it (the walk is what tells a Decimal from its text).
    await store.putOrder('o-1', { price: new Decimal('1.5') });
    expect(await store.getOrder('o-1')).toEqual({ price: '1.5' });
    await expect(store.saveSnapshot('s', {}, { puts: [{ sublevel: 'journal', key: '1', value: 1 }] })).rejects.toThrow(/written only by the store/);
    await expect(store.saveSnapshot('s', {}, { puts: [{ sublevel: 'a!b', key: '1', value: 1 }] })).rejects.toThrow(/namespace/);
    await expect(store.saveSnapshot('', {})).rejects.toThrow(/non-empty string/);
    expect(await store.loadSnapshot('s')).toBeUndefined();
  });

  it('refuses the records it does not own and bad keys', async () => {
    const store = await open();
    await expect(store.saveSnapshot('s', {}, { puts: [{ sublevel: 'journal', key: '1', value: 1 }] })).rejects.toThrow(
      /written only by the store/,
    );
    await expect(store.saveSnapshot('s', {}, { puts: [{ sublevel: 'a!b', key: '1', value: 1 }] })).rejects.toThrow(/namespace/);
    await expect(store.saveSnapshot('', {})).rejects.toThrow(/non-empty string/);
    await expect(store.putOrder('o-1', { at: new Date(0) })).rejects.toThrow(/\$\.at is a Date instance/);
    expect(await store.loadSnapshot('s')).toBeUndefined();
  });
});

describe('store: JSON safety', () => {
  class Money {
    constructor(readonly cents: number) {}
  }
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;

  it.each([
    ['a function', { f: () => 1 }, '$.f'],
    ['a class instance', { m: new Money(1) }, '$.m'],
    ['a luxon DateTime', { at: DateTime.utc(2025, 1, 2) }, '$.at'],
    ['a Decimal', [new Decimal(1)], '$[0]'],
    ['a Date', { d: new Date(0) }, '$.d'],
    ['NaN', { x: Number.NaN }, '$.x'],
    ['Infinity', { x: Infinity }, '$.x'],
    ['a bigint', { x: 1n }, '$.x'],
    ['undefined in an array', [1, undefined], '$[1]'],
    ['a sparse array', [1, , 3], '$[1]'], // eslint-disable-line no-sparse-arrays
    ['a cycle', circular, '$.self'],
    ['a Map', { m: new Map() }, '$.m'],
    ['odd keys', { 'a b': { f: Symbol('s') } }, '$["a b"].f'],
  ])('refuses %s', (_what, value, path) => {
    expect(findNonJson(value)?.[0]).toBe(path);
  });

  it('accepts plain JSON, null-prototype objects and undefined properties', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    expect(findNonJson({ a: [1, 'x', null, true, { b: undefined }], bare, shared: [circular.a, circular.a] })).toBeUndefined();
  });
});

describe('store: journal', () => {
  it('keeps append order across many appends (past 9 and 99) and reads ranges', async () => {
    const store = await open();
    // Not awaited one by one: writes are queued, so numbers follow call order.
    const calls = Array.from({ length: 12 }, (_, i) => store.appendJournal([{ i: 2 * i }, { i: 2 * i + 1 }]));
    const seqs = await Promise.all(calls);
    expect(seqs[0]).toEqual([1, 2]);
    expect(seqs[11]).toEqual([23, 24]);
    const entries = await all(store.readJournal<{ i: number }>());
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(entries.map((e) => e.entry.i)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect((await all(store.readJournal({ from: 9, limit: 3 }))).map((e) => e.seq)).toEqual([9, 10, 11]);
    expect(await all(store.readJournal({ from: 25 }))).toEqual([]);
    expect(await all(store.readJournal({ limit: 0 }))).toEqual([]);
  });

  it('recovers the sequence number from the last key after a reopen', async () => {
    const first = await openStore(dir);
    await first.appendJournal(['a', 'b', 'c']);
    await first.saveSnapshot('k', { v: 1 }, { journal: ['d'] });
    await first.close();

    const again = await open();
    expect(again.lastJournalSeq()).toBe(4);
    expect(await again.appendJournal(['e'])).toEqual([5]);
    expect((await all(again.readJournal())).map((e) => `${e.seq}:${String(e.entry)}`)).toEqual(['1:a', '2:b', '3:c', '4:d', '5:e']);
    expect(await again.loadSnapshot('k')).toEqual({ v: 1 });
  });

  it('starts at 1 in a new directory (created with its parents)', async () => {
    const store = await open(join(dir, 'deeper', 'still'));
    expect(store.lastJournalSeq()).toBe(0);
    expect(await store.appendJournal(['x'])).toEqual([1]);
  });
});

describe('store: orders', () => {
  it('stores orders by client order id and overwrites on update', async () => {
    const store = await open();
    await store.putOrder('alpha-20250102-0935-0', { status: 'new' });
    await store.putOrder('alpha-20250102-0935-0', { status: 'accepted' });
    expect(await store.getOrder('alpha-20250102-0935-0')).toEqual({ status: 'accepted' });
    expect(await store.getOrder('other')).toBeUndefined();
  });
});

describe('store: one owner per state directory', () => {
  const inUse = (d: string) =>
    `state directory ${d} is already in use by another agent-trader process (LevelDB lock held); stop it or use another state_dir`;

  it('refuses a second open in the same process with an InputError, and allows it after close', async () => {
    const first = await openStore(dir);
    const second = openStore(dir);
    await expect(second).rejects.toBeInstanceOf(InputError);
    await expect(second).rejects.toThrow(inUse(dir));
    await first.close();
    const third = await open();
    expect(third.lastJournalSeq()).toBe(0);
  });

  it('says which directory cannot be opened when it is not a directory', async () => {
    await mkdir(join(dir, '..'), { recursive: true });
    const file = join(dir, '..', 'a-file');
    await writeFile(file, 'x');
    const attempt = openStore(file);
    await expect(attempt).rejects.toBeInstanceOf(InputError);
    await expect(attempt).rejects.toThrow(`cannot open the state directory ${file}: `);
  });

  it('refuses a second process with the same message', async () => {
    await open();
    const probe = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/open-store.ts'), dir], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(probe.stderr).toBe('');
    expect(probe.stdout.trim()).toBe(`InputError: ${inUse(dir)}`);
    expect(probe.status).toBe(2);
  });

  it('lets another process open it once it is closed', async () => {
    const store = await openStore(dir);
    await store.close();
    const probe = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/open-store.ts'), dir], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(probe.stdout.trim()).toBe('opened');
  });
});

describe('store: close', () => {
  it('is idempotent, waits for pending writes, and refuses writes afterwards', async () => {
    const store = await openStore(dir);
    const pending = store.appendJournal(['last']);
    await Promise.all([store.close(), store.close()]);
    await expect(pending).resolves.toEqual([1]);
    await store.close();
    await expect(store.appendJournal(['late'])).rejects.toThrow(/closed/);
    const again = await open();
    expect(await all(again.readJournal())).toEqual([{ seq: 1, entry: 'last' }]);
  });
});

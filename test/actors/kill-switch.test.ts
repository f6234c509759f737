import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KILL_SWITCH_FILE, KillSwitch, type KillSwitchState } from '../../src/actors/risk/kill-switch.js';

const T0 = Date.UTC(2025, 9, 9, 5, 0, 0);
let dir: string;
let now = T0;
const clock = () => now;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-trader-kill-'));
  now = T0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kill switch', () => {
  it('is off when no file exists', () => {
    const ks = new KillSwitch(join(dir, 'state'), clock);
    expect(ks.state().active).toBe(false);
    expect(ks.isHalted('alpha')).toBe(false);
  });

  it('survives a restart: a new instance (a new process) reads it halted, and a reset clears it', async () => {
    const stateDir = join(dir, 'state'); // created by the first write
    await new KillSwitch(stateDir, clock).activate({ reason: 'fat finger' });

    const afterRestart = new KillSwitch(stateDir, clock);
    expect(afterRestart.state()).toEqual({ active: true, signatures: 'all', reason: 'fat finger', at: '2025-10-09T05:00:00.000Z' });
    expect(afterRestart.isHalted('alpha')).toBe(true);
    expect(afterRestart.isHalted('anyone')).toBe(true);

    now += 60_000;
    await afterRestart.reset();
    const third = new KillSwitch(stateDir, clock);
    expect(third.state()).toMatchObject({ active: false, signatures: [], at: '2025-10-09T05:01:00.000Z' });
    expect(third.isHalted('alpha')).toBe(false);
  });

  it('writes the documented JSON shape atomically, leaving no temp file behind', async () => {
    const ks = new KillSwitch(dir, clock);
    await ks.activate({ signature: 'alpha', reason: 'r' });
    expect(JSON.parse(await readFile(join(dir, KILL_SWITCH_FILE), 'utf8'))).toEqual({
      active: true,
      signatures: ['alpha'],
      reason: 'r',
      at: '2025-10-09T05:00:00.000Z',
    });
    expect(await readdir(dir)).toEqual([KILL_SWITCH_FILE]);
  });

  it('halts signatures one by one and releases them one by one', async () => {
    const ks = new KillSwitch(dir, clock);
    await ks.activate({ signature: 'alpha', reason: 'a' });
    await ks.activate({ signature: 'beta', reason: 'b' });
    expect(ks.isHalted('alpha') && ks.isHalted('beta')).toBe(true);
    expect(ks.isHalted('gamma')).toBe(false);
    await ks.reset({ signature: 'alpha' });
    expect(ks.state()).toMatchObject({ active: true, signatures: ['beta'] });
    await ks.reset({ signature: 'beta' });
    expect(ks.state().active).toBe(false);
  });

  it('halting one signature while all are halted changes nothing; releasing one of "all" is refused', async () => {
    const ks = new KillSwitch(dir, clock);
    const all = await ks.activate({ reason: 'all' });
    expect(await ks.activate({ signature: 'alpha', reason: 'x' })).toEqual(all);
    await expect(ks.reset({ signature: 'alpha' })).rejects.toThrow(/halts all signatures; it cannot release only alpha/);
    expect(ks.state()).toEqual(all);
  });

  it('fails safe: an unreadable file halts everything until a reset rewrites it', async () => {
    await writeFile(join(dir, KILL_SWITCH_FILE), '{ not json');
    const ks = new KillSwitch(dir, clock);
    expect(ks.isHalted('alpha')).toBe(true);
    expect(ks.state().reason).toMatch(/^kill-switch\.json is unreadable/);
    await ks.reset();
    expect(ks.isHalted('alpha')).toBe(false);
  });

  it('watch reports a change made by another instance, once per change', async () => {
    const ks = new KillSwitch(dir, clock, { pollMs: 20 });
    const seen: KillSwitchState[] = [];
    const stop = ks.watch((s) => seen.push(s));
    try {
      await new KillSwitch(dir, clock).activate({ signature: 'alpha', reason: 'other process' });
      await vi.waitFor(() => expect(seen.map((s) => s.signatures)).toEqual([['alpha']]));
      await new KillSwitch(dir, clock).reset();
      await vi.waitFor(() => expect(seen.map((s) => s.active)).toEqual([true, false]));
    } finally {
      stop();
    }
  });

  it('watch does not throw when the state dir does not exist yet, and still sees the switch thrown later', async () => {
    const stateDir = join(dir, 'not', 'yet');
    const ks = new KillSwitch(stateDir, clock, { pollMs: 20 });
    const seen: KillSwitchState[] = [];
    const stop = ks.watch((s) => seen.push(s));
    try {
      await new KillSwitch(stateDir, clock).activate({ reason: 'late' });
      await vi.waitFor(() => expect(seen).toHaveLength(1));
      expect(seen[0]).toMatchObject({ active: true, signatures: 'all', reason: 'late' });
    } finally {
      stop();
    }
  });
});

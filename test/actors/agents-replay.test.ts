import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { afterAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/actors/agents/agent.js';
import {
  AI_TRADER_LABEL_GRIDS,
  aiTraderLabel,
  initialCash,
  initialPositions,
  loadReplayLog,
  replayDecider,
  replaySpan,
  type ReplayLog,
} from '../../src/actors/agents/replay-agent.js';
import { LABEL_MEANINGS } from '../../src/domain/bars.js';
import { InputError } from '../../src/domain/errors.js';
import type { Frequency, Market } from '../../src/domain/markets.js';
import type { Message } from '../../src/domain/messages.js';
import type { PointInTimeView } from '../../src/domain/point-in-time.js';
import { defaultScheduleSpec, isoInstant, tradingInstants } from '../../src/domain/schedule.js';
import { AI_TRADER } from '../support/fixtures.js';

const LOGS = new URL('agent-logs/', AI_TRADER);
const LOG_FILES = readdirSync(LOGS).filter((f) => f.endsWith('.position.jsonl')).sort();
const logPath = (name: string) => fileURLToPath(new URL(name, LOGS));

const tmp = mkdtempSync(join(tmpdir(), 'replay-log-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tmpFile = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

/** The raw file, read independently of the loader. */
interface RawRecord {
  date: string;
  id: number;
  this_action?: { action: string; symbol: string; amount: number };
  positions: Record<string, number>;
}
const rawRecords = (name: string): RawRecord[] =>
  readFileSync(logPath(name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RawRecord);

const marketOf = (name: string): Market => (name.startsWith('cn-') ? 'cn' : 'us');
const frequencyOf = (name: string): Frequency => (name.includes('-daily.') ? 'daily' : 'hourly');

const NO_VIEW = {} as PointInTimeView;
function decideRequest(at: string, step: number): Message<'agent.decide'> {
  return {
    type: 'agent.decide',
    sessionId: `replay@${at}`,
    signature: 'replay',
    at,
    step,
    market: { at, quotes: {} },
    account: { signature: 'replay', cash: '0', positions: {}, equity: '0', startOfDayEquity: '0' },
    results: [],
    replyTo: `session:replay@${at}`,
  };
}

/** Ask step 0, 1, ... until done (bounded); the intents and the summary. */
async function session(log: ReplayLog, market: Market, frequency: Frequency, at: string) {
  const decider = replayDecider(log, { labelOf: (t) => aiTraderLabel(t, frequency, market) });
  const intents: unknown[] = [];
  for (let step = 0; step < 100; step++) {
    const d: Decision = await decider.decide(decideRequest(at, step), NO_VIEW);
    if (d.kind === 'done') return { intents, summary: d.summary };
    intents.push(d.intent);
  }
  throw new Error('replay never finished');
}

describe('aiTraderLabel (the label grid per market and frequency)', () => {
  const label = (iso: string, frequency: Frequency, market: Market) =>
    aiTraderLabel(DateTime.fromISO(iso, { setZone: true }), frequency, market);

  it('cn daily: the Shanghai date', () => {
    expect(label('2025-10-09T09:35:00+08:00', 'daily', 'cn')).toBe('2025-10-09');
    // The same instant written in UTC is still the Shanghai date.
    expect(label('2025-10-09T01:35:00Z', 'daily', 'cn')).toBe('2025-10-09');
  });

  it('cn hourly: 10:35 / 11:35 / 14:05 / 15:05 -> 10:30 / 11:30 / 14:00 / 15:00 (bar ends)', () => {
    expect(label('2025-10-09T10:35:00+08:00', 'hourly', 'cn')).toBe('2025-10-09 10:30:00');
    expect(label('2025-10-09T11:35:00+08:00', 'hourly', 'cn')).toBe('2025-10-09 11:30:00');
    expect(label('2025-10-09T14:05:00+08:00', 'hourly', 'cn')).toBe('2025-10-09 14:00:00');
    expect(label('2025-10-09T15:05:00+08:00', 'hourly', 'cn')).toBe('2025-10-09 15:00:00');
    // Exactly on a label, and just before one.
    expect(label('2025-10-09T10:30:00+08:00', 'hourly', 'cn')).toBe('2025-10-09 10:30:00');
    expect(label('2025-10-09T10:29:59+08:00', 'hourly', 'cn')).toBeUndefined();
    expect(label('2025-10-09T13:05:00+08:00', 'hourly', 'cn')).toBe('2025-10-09 11:30:00');
    expect(label('2025-10-09T09:35:00+08:00', 'hourly', 'cn')).toBeUndefined();
  });

  it('cn hourly grid is the A-share hourly bar labels of domain/bars.ts', () => {
    const rule = LABEL_MEANINGS.cn['60min'].rule;
    expect(rule.kind).toBe('spans');
    const grid = AI_TRADER_LABEL_GRIDS.cn.hourly;
    expect(grid.kind === 'times' ? [...grid.times] : []).toEqual(rule.kind === 'spans' ? Object.keys(rule.spans).sort() : []);
  });

  it('us daily: the New York date, also late in the UTC day', () => {
    expect(label('2025-10-01T09:35:00-04:00', 'daily', 'us')).toBe('2025-10-01');
    expect(label('2025-10-02T01:00:00Z', 'daily', 'us')).toBe('2025-10-01'); // 21:00 New York
  });

  it('us hourly: 10:05 ... 15:05 -> 10:00 ... 15:00 (bar starts), none before 10:00', () => {
    for (const h of [10, 11, 12, 13, 14, 15]) {
      expect(label(`2025-10-01T${h}:05:00-04:00`, 'hourly', 'us')).toBe(`2025-10-01 ${h}:00:00`);
    }
    expect(label('2025-10-01T09:35:00-04:00', 'hourly', 'us')).toBeUndefined();
    expect(label('2025-10-01T16:00:00-04:00', 'hourly', 'us')).toBe('2025-10-01 15:00:00');
  });

  it('us hourly follows New York time through the DST weeks (UTC instants differ by an hour)', () => {
    // Autumn: 2025-11-02 ends EDT. 10:05 New York is 14:05Z on Friday 10-31 and 15:05Z on Monday 11-03.
    expect(label('2025-10-31T14:05:00Z', 'hourly', 'us')).toBe('2025-10-31 10:00:00');
    expect(label('2025-11-03T15:05:00Z', 'hourly', 'us')).toBe('2025-11-03 10:00:00');
    expect(label('2025-11-03T14:05:00Z', 'hourly', 'us')).toBeUndefined(); // 09:05 EST
    expect(label('2025-10-31T20:05:00Z', 'hourly', 'us')).toBe('2025-10-31 15:00:00'); // 16:05 EDT
    // Spring: 2025-03-09 starts EDT. 15:05 New York is 20:05Z on 03-07 and 19:05Z on 03-10.
    expect(label('2025-03-07T20:05:00Z', 'hourly', 'us')).toBe('2025-03-07 15:00:00');
    expect(label('2025-03-10T19:05:00Z', 'hourly', 'us')).toBe('2025-03-10 15:00:00');
    expect(label('2025-03-10T14:05:00Z', 'hourly', 'us')).toBe('2025-03-10 10:00:00');
    // The schedule's instants of those weeks, whatever their offset, land on the grid.
    const week = tradingInstants(defaultScheduleSpec('us', 'hourly'), '2025-10-30', '2025-11-04');
    const labels = week.map((t) => aiTraderLabel(t, 'hourly', 'us'));
    expect(labels.filter((l) => l?.startsWith('2025-11-03'))).toEqual(
      ['10', '11', '12', '13', '14', '15'].map((h) => `2025-11-03 ${h}:00:00`),
    );
    expect(new Set(week.map((t) => t.offset))).toEqual(new Set([-240, -300]));
  });
});

describe('loadReplayLog on the real AI-Trader logs', () => {
  it('finds the five logs (US hourly and A-share daily of both models, A-share hourly of gpt-5)', () => {
    expect(LOG_FILES).toEqual([
      'cn-60min.gpt-5.position.jsonl',
      'cn-daily.deepseek-chat-v3.1.position.jsonl',
      'cn-daily.gpt-5.position.jsonl',
      'us-60min.deepseek-chat-v3.1.position.jsonl',
      'us-60min.gpt-5.position.jsonl',
    ]);
  });

  for (const name of LOG_FILES) {
    it(`${name}: per label, the actions are the log's buys and sells in id order; id 0 is not an action`, async () => {
      const log = await loadReplayLog(logPath(name));
      const raw = rawRecords(name);
      expect(log.records).toHaveLength(raw.length);
      const expected = new Map<string, { side: string; symbol: string; quantity: number }[]>();
      const noTrades = new Map<string, number>();
      let zero = 0;
      for (const r of [...raw].sort((a, b) => a.id - b.id)) {
        if (!r.this_action) continue;
        const list = expected.get(r.date) ?? [];
        expected.set(r.date, list);
        if (r.this_action.action === 'no_trade') noTrades.set(r.date, (noTrades.get(r.date) ?? 0) + 1);
        else if (r.this_action.amount === 0) zero++;
        else list.push({ side: r.this_action.action, symbol: r.this_action.symbol, quantity: r.this_action.amount });
      }
      expect([...log.labels.keys()]).toEqual([...expected.keys()]);
      for (const [label, actions] of expected) {
        const got = log.labels.get(label)!;
        expect(got.actions.map((a) => ({ side: a.side, symbol: a.symbol, quantity: a.quantity })), label).toEqual(actions);
        expect(got.noTrades, label).toBe(noTrades.get(label) ?? 0);
      }
      expect([...log.labels.values()].reduce((s, l) => s + l.zeroAmount, 0)).toBe(zero);
      // The id-0 record holds the starting cash and is no action.
      expect(raw[0]!.this_action).toBeUndefined();
      expect(initialCash(log).toNumber()).toBe(marketOf(name) === 'cn' ? 100_000 : 10_000);
      expect(initialPositions(log)).toEqual({});
      const total = [...log.labels.values()].reduce((s, l) => s + l.actions.length, 0);
      expect(total).toBe(raw.filter((r) => r.this_action && r.this_action.action !== 'no_trade' && r.this_action.amount > 0).length);
    });

    it(`${name}: every action label is the AI-Trader label of a session of the default schedule`, async () => {
      const log = await loadReplayLog(logPath(name));
      const market = marketOf(name);
      const frequency = frequencyOf(name);
      const span = replaySpan(log)!;
      const instants = tradingInstants(defaultScheduleSpec(market, frequency), span.first.slice(0, 10), span.last.slice(0, 10));
      const scheduled = new Set(instants.map((t) => aiTraderLabel(t, frequency, market)));
      const missing = [...log.labels.keys()].filter((l) => !scheduled.has(l));
      expect(missing).toEqual([]);
    });
  }

  it('counts the one zero-amount sell of the deepseek A-share log apart', async () => {
    const log = await loadReplayLog(logPath('cn-daily.deepseek-chat-v3.1.position.jsonl'));
    expect(log.labels.get('2025-10-16')!.zeroAmount).toBe(1);
    const { summary } = await session(log, 'cn', 'daily', '2025-10-16T09:35:00+08:00');
    expect(summary).toMatch(/^replayed \d+ actions of 2025-10-16 \(1 zero-amount action skipped\)$/);
  });

  it('accepts the US records that carry this_action.price', async () => {
    const log = await loadReplayLog(logPath('us-60min.deepseek-chat-v3.1.position.jsonl'));
    expect(log.records.filter((r) => r.this_action && 'price' in r.this_action)).toHaveLength(4);
  });
});

describe('replayDecider', () => {
  it('replays gpt-5 A-share 2025-10-09 (a daily 09:35 session): its 9 buys in order, then done at the no_trade', async () => {
    const name = 'cn-daily.gpt-5.position.jsonl';
    const log = await loadReplayLog(logPath(name));
    const expected = rawRecords(name)
      .filter((r) => r.date === '2025-10-09' && r.this_action?.action === 'buy')
      .map((r) => ({ side: 'buy', symbol: r.this_action!.symbol, quantity: r.this_action!.amount, type: 'market' }));
    expect(expected).toHaveLength(9);
    expect(expected[0]).toEqual({ side: 'buy', symbol: '600028.SH', quantity: 100, type: 'market' });
    const { intents, summary } = await session(log, 'cn', 'daily', '2025-10-09T09:35:00+08:00');
    expect(intents).toEqual(expected);
    expect(summary).toBe('replayed 9 actions of 2025-10-09');
  });

  it('replays deepseek US 2025-10-30 14:05 EDT: the label 14:00 has no_trade, sell, buy, buy; the no_trade does not end it', async () => {
    const log = await loadReplayLog(logPath('us-60min.deepseek-chat-v3.1.position.jsonl'));
    const { intents, summary } = await session(log, 'us', 'hourly', '2025-10-30T14:05:00-04:00');
    expect(intents).toEqual([
      { side: 'sell', symbol: 'AMD', quantity: 3, type: 'market' },
      { side: 'buy', symbol: 'MSFT', quantity: 2, type: 'market' },
      { side: 'buy', symbol: 'PEP', quantity: 2, type: 'market' },
    ]);
    expect(summary).toBe('replayed 3 actions of 2025-10-30 14:00:00');
  });

  it('replays a US session after the DST change by its New York label', async () => {
    const name = 'us-60min.deepseek-chat-v3.1.position.jsonl';
    const log = await loadReplayLog(logPath(name));
    const raw = rawRecords(name);
    // The first label after 2025-11-02 with a buy or sell.
    const rec = raw.find((r) => r.date >= '2025-11-03' && r.this_action && r.this_action.action !== 'no_trade')!;
    const [date, time] = rec.date.split(' ') as [string, string];
    const at = DateTime.fromISO(`${date}T${time}`, { zone: 'America/New_York' }).plus({ minutes: 5 });
    expect(at.offset).toBe(-300);
    const expected = raw
      .filter((r) => r.date === rec.date && r.this_action && r.this_action.action !== 'no_trade')
      .map((r) => ({ side: r.this_action!.action, symbol: r.this_action!.symbol, quantity: r.this_action!.amount, type: 'market' }));
    expect(rec.date).toBe('2025-11-03 12:00:00');
    expect(expected).toHaveLength(3);
    const { intents } = await session(log, 'us', 'hourly', at.toUTC().toISO()!); // 17:05Z
    expect(intents).toEqual(expected);
  });

  it('answers done for a session with no record, one with only no_trade, and one without a label', async () => {
    const log = await loadReplayLog(logPath('us-60min.gpt-5.position.jsonl'));
    expect((await session(log, 'us', 'hourly', '2025-10-04T10:05:00-04:00')).summary).toBe('no record for 2025-10-04 10:00:00');
    expect(await session(log, 'us', 'hourly', '2025-10-01T11:05:00-04:00')).toEqual({
      intents: [],
      summary: 'replayed 0 actions of 2025-10-01 11:00:00',
    });
    expect((await session(log, 'us', 'hourly', '2025-10-01T09:35:00-04:00')).summary).toMatch(/^no record: .* has no AI-Trader label$/);
  });

  it('answers the same to a re-asked step', async () => {
    const log = await loadReplayLog(logPath('cn-daily.gpt-5.position.jsonl'));
    const decider = replayDecider(log, { labelOf: (t) => aiTraderLabel(t, 'daily', 'cn') });
    const at = isoInstant(DateTime.fromISO('2025-10-09T09:35:00', { zone: 'Asia/Shanghai' }));
    expect(await decider.decide(decideRequest(at, 3), NO_VIEW)).toEqual(await decider.decide(decideRequest(at, 3), NO_VIEW));
  });
});

describe('loadReplayLog refuses bad input', () => {
  const good = '{"date": "2025-10-01", "id": 0, "positions": {"AAPL": 0, "CASH": 10000.0}}';

  async function inputError(p: Promise<unknown>): Promise<InputError> {
    try {
      await p;
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      return e as InputError;
    }
    throw new Error('expected an InputError');
  }

  it('names file:line for a record that breaks the schema', async () => {
    const file = tmpFile('bad.jsonl', `${good}\n{"date": "2025-10-02", "id": 1, "this_action": {"action": "hold", "symbol": "AAPL", "amount": 1}, "positions": {}}\n`);
    const e = await inputError(loadReplayLog(file));
    expect(e.message).toContain(`${file}:2:`);
    expect(e.message).toContain('this_action.action');
  });

  it('names file:line for a line that is not JSON, and for a bad date', async () => {
    const a = tmpFile('notjson.jsonl', `${good}\n\n{oops\n`);
    expect((await inputError(loadReplayLog(a))).message).toContain(`${a}:3: not valid JSON`);
    const b = tmpFile('date.jsonl', '{"date": "2025/10/01", "id": 0, "positions": {}}\n');
    expect((await inputError(loadReplayLog(b))).message).toContain(`${b}:1:`);
  });

  it('refuses a repeated id, a missing file and an empty file', async () => {
    const dup = tmpFile('dup.jsonl', `${good}\n${good}\n`);
    expect((await inputError(loadReplayLog(dup))).message).toContain(`${dup}:2: id 0 repeats (first at line 1)`);
    expect((await inputError(loadReplayLog(join(tmp, 'nope.jsonl')))).message).toContain('replay log not found');
    expect((await inputError(loadReplayLog(tmpFile('empty.jsonl', '\n')))).message).toContain('replay log is empty');
  });

  it('keeps order by id, whatever the line order, and reads the starting positions', async () => {
    const file = tmpFile(
      'order.jsonl',
      [
        '{"date": "2025-10-09", "id": 2, "this_action": {"action": "sell", "symbol": "B", "amount": 5}, "positions": {"A": 10, "CASH": 50.5}}',
        '{"date": "2025-10-08", "id": 0, "positions": {"A": 0, "B": 5, "CASH": 100.25}}',
        '{"date": "2025-10-09", "id": 1, "this_action": {"action": "buy", "symbol": "A", "amount": 10}, "positions": {"A": 10, "B": 5, "CASH": 0.5}}',
      ].join('\n'),
    );
    const log = await loadReplayLog(file);
    expect(log.labels.get('2025-10-09')!.actions.map((a) => a.id)).toEqual([1, 2]);
    expect(initialCash(log).toString()).toBe('100.25');
    expect(initialPositions(log)).toEqual({ B: 5 });
  });

  it('initialCash refuses a log without an id-0 record', async () => {
    const file = tmpFile('noinit.jsonl', '{"date": "2025-10-09", "id": 1, "this_action": {"action": "buy", "symbol": "A", "amount": 1}, "positions": {"CASH": 1}}\n');
    const log = await loadReplayLog(file);
    expect(() => initialCash(log)).toThrow(InputError);
  });
});

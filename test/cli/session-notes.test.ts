/** The per-tick line's notes (pure) and how the progress printer keeps a line that names a problem. */
import { describe, expect, it } from 'vitest';
import { progress } from '../../src/cli/progress.js';
import { sessionNote, tickNotes } from '../../src/cli/session-notes.js';
import type { SessionOutcome } from '../../src/domain/messages.js';
import type { OrderResult } from '../../src/domain/orders.js';

const AT = '2025-10-20T09:35:00+08:00';
const outcome = (o: Partial<SessionOutcome>): SessionOutcome => ({ sessionId: `s@${AT}`, signature: 'a', at: AT, status: 'completed', results: [], ...o });
let ids = 0;
const result = (status: OrderResult['status'], reason?: OrderResult['reason']): OrderResult => ({
  clientOrderId: `c${++ids}`,
  intent: { side: 'buy', symbol: '600519.SH', quantity: 100, type: 'market' },
  status,
  filledQuantity: status === 'filled' ? 100 : 0,
  fees: '0',
  ...(reason ? { reason } : {}),
});

describe('sessionNote', () => {
  it('says nothing of a session that went as meant, or of a disabled agent', () => {
    expect(sessionNote(outcome({ results: [result('filled'), result('queued')] }))).toBeUndefined();
    expect(sessionNote(outcome({ status: 'skipped', reason: 'AGENT_DISABLED' }))).toBeUndefined();
  });

  it('names a HOLD, a failure and orders that did not fill, by reason', () => {
    expect(sessionNote(outcome({ reason: 'LLM_TIMEOUT' }))).toBe('a HOLD LLM_TIMEOUT');
    expect(sessionNote(outcome({ status: 'failed', error: { step: 'deciding', reason: 'DEADLINE', message: 'late' } }))).toBe('a failed DEADLINE');
    expect(sessionNote(outcome({ status: 'skipped', reason: 'PREVIOUS_SESSION_RUNNING' }))).toBe('a skipped PREVIOUS_SESSION_RUNNING');
    const mixed = outcome({
      reason: 'LLM_BAD_TOOL_CALL',
      results: [result('filled'), result('denied', 'KILL_SWITCH'), result('denied', 'KILL_SWITCH'), result('rejected', 'LOT_SIZE'), result('expired')],
    });
    expect(sessionNote(mixed)).toBe('a HOLD LLM_BAD_TOOL_CALL; 4/5 orders not filled: KILL_SWITCH 2, LOT_SIZE 1, expired 1');
    expect(tickNotes([outcome({}), outcome({ signature: 'b', reason: 'LLM_HTTP_ERROR' }), outcome({ signature: 'c', reason: 'LLM_BUDGET' })])).toBe(
      'b HOLD LLM_HTTP_ERROR; c HOLD LLM_BUDGET',
    );
  });
});

describe('progress', () => {
  it('off a terminal prints a kept line even between shares', () => {
    let text = '';
    const out = { isTTY: false, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
    const p = progress(100, out);
    p.update(1, 't1');
    p.update(2, 't2');
    p.update(3, 't3 a HOLD LLM_TIMEOUT', true);
    p.update(4, 't4');
    expect(text).toBe('  1% 1/100 t1\n  3% 3/100 t3 a HOLD LLM_TIMEOUT\n');
  });
});

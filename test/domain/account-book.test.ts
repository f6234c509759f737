import { describe, expect, it } from 'vitest';
import { accountDifferences, bookToExternal, describeDifferences, isEmpty, openExternalBook } from '../../src/domain/account-book.js';
import { dec } from '../../src/domain/money.js';

const sub = (cash: string, positions: Record<string, number> = {}) => ({ cash: dec(cash), positions });

describe('one broker account, several agents, an external book', () => {
  it('opens the external book with what the account holds beyond the agents', () => {
    const book = openExternalBook(sub('50000', { AAPL: 5 }), [sub('10000'), sub('10000')], '2025-11-07T09:30:00.000-05:00');
    expect(book).toEqual({ cash: '30000', positions: { AAPL: 5 }, openedAt: '2025-11-07T09:30:00.000-05:00' });
  });

  it('finds nothing when the account is the agents plus the external book, to the cent', () => {
    const book = openExternalBook(sub('50000', { AAPL: 5 }), [sub('10000'), sub('10000')], 't');
    const after = accountDifferences(sub('49000.004', { AAPL: 9, MSFT: 2 }), [sub('9500', { AAPL: 4 }), sub('9500.004', { MSFT: 2 })], book);
    expect(isEmpty(after)).toBe(true);
  });

  it('books a hand trade to the external book, never to an agent, and says what it booked', () => {
    const book = openExternalBook(sub('50000'), [sub('10000'), sub('10000')], 't');
    // The user sold 3 of an agent's 10 NVDA by hand at 100.
    const broker = sub('50300', { NVDA: 7 });
    const agents = [sub('9000', { NVDA: 10 }), sub('10000')];
    const diffs = accountDifferences(broker, agents.map((a) => ({ ...a })), { ...book, cash: '31000' });
    expect(diffs.positions).toEqual([{ symbol: 'NVDA', ours: 10, broker: 7, difference: -3 }]);
    expect(diffs.cash).toEqual({ ours: '50000', broker: '50300', difference: '300' });
    const next = bookToExternal({ ...book, cash: '31000' }, diffs);
    expect(next.positions).toEqual({ NVDA: -3 });
    expect(next.cash).toBe('31300');
    expect(isEmpty(accountDifferences(broker, agents, next))).toBe(true);
    expect(describeDifferences(diffs)).toEqual(['NVDA: agents + external 10, broker 7 (-3 booked to external)', 'cash: agents + external 50000, broker 50300 (300 booked to external)']);
  });

  it('leaves out symbols with an order of ours open, and cash while any is', () => {
    const book = openExternalBook(sub('50000'), [sub('10000')], 't');
    const diffs = accountDifferences(sub('49000', { AAPL: 4, MSFT: 1 }), [sub('10000')], book, { skipSymbols: new Set(['AAPL']), skipCash: true });
    expect(diffs.positions.map((d) => d.symbol)).toEqual(['MSFT']);
    expect(diffs.cash).toBeUndefined();
  });
});

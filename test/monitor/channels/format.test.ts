import { describe, expect, it } from 'vitest';
import { DIGEST_MAX_ITEMS, mergeNotices, redact, type AlertNotice } from '../../../src/actors/monitor/channels/channel.js';
import { plainText, render, truncateUtf8 } from '../../../src/actors/monitor/channels/format.js';
import { alert, EPOCH } from './helpers.js';

describe('how a notice reads', () => {
  it('says how many repeats an alert stands for and since when', () => {
    const n: AlertNotice = { kind: 'alert', alert: alert({ level: 'warning', code: 'QUOTE_STALE', message: 'AAPL stale', tsEvent: EPOCH + 60_000 }), more: 12, since: EPOCH };
    expect(plainText(render(n))).toBe(
      '[agent-trader] WARNING QUOTE_STALE\nAAPL stale\ntime: 2026-01-05T14:31:00.000Z\n… and 12 more like this since 2026-01-05T14:30:00.000Z',
    );
  });

  it('lists at most 20 alerts in a digest, counts the rest, and takes the highest level', () => {
    const notices: AlertNotice[] = Array.from({ length: 25 }, (_, i) => ({
      kind: 'alert',
      alert: alert({ level: i === 24 ? 'critical' : 'info', code: `C${i}`, message: `line one\nline two ${i}`, tsEvent: EPOCH + i * 1000, ...(i === 0 ? { signature: 'gpt-5' } : {}) }),
      more: i === 1 ? 4 : 0,
    }));
    const digest = mergeNotices(notices, 'rate_limit', EPOCH + 60_000);
    expect(digest).toMatchObject({ level: 'critical', total: 29, omitted: 5 });
    expect(digest.items).toHaveLength(DIGEST_MAX_ITEMS);
    const r = render(digest);
    expect(r.title).toBe('[agent-trader] CRITICAL ALERT_DIGEST');
    expect(r.lines[0]).toBe('29 alerts held back by the rate limit, oldest first:');
    expect(r.lines[1]).toBe('- 2026-01-05T14:30:00.000Z INFO C0: line one line two 0 [gpt-5]');
    expect(r.lines[2]).toBe('- 2026-01-05T14:30:01.000Z INFO C1: line one line two 1 (×5)');
    expect(r.lines.at(-1)).toBe('… and 5 more not listed');
    // Merging a digest again keeps the count.
    expect(mergeNotices([digest, notices[0]!], 'queue_full', EPOCH)).toMatchObject({ total: 30, omitted: 6 });
  });

  it('cuts long text on a character boundary within the byte budget', () => {
    const cut = truncateUtf8('告警'.repeat(100), 100);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(100);
    expect(cut).toMatch(/^(告警)+告?\n… \(truncated\)$/);
    expect(truncateUtf8('short', 100)).toBe('short');
  });

  it('redacts secrets, raw and URL-encoded, but not strings too short to be one', () => {
    expect(redact('token a+b/c= in ?sign=a%2Bb%2Fc%3D', ['a+b/c='])).toBe('token [redacted] in ?sign=[redacted]');
    expect(redact('abc', ['ab'])).toBe('abc');
  });
});

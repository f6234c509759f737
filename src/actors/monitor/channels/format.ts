/**
 * How a notice reads, the same on every channel: a title line
 * `[agent-trader] CRITICAL BROKER_DISCONNECTED` (the email subject, the DingTalk title, the
 * first line elsewhere) and body lines:
 *
 *   Broker connection lost after 3 attempts
 *   signature: gpt-5 · session: s-42 · order: gpt-5-7
 *   time: 2026-01-05T14:30:00.000Z
 *   … and 12 more like this since 2026-01-05T14:25:00.000Z
 *
 * A digest lists its alerts one per line, oldest first, and counts the ones beyond
 * DIGEST_MAX_ITEMS. Times are UTC ISO instants: alerts reach people in several time zones.
 * The alert text is sent as written (no markdown escaping): alerts are our own messages.
 */
import { clip, DIGEST_CODE, type AlertNotice, type DigestReason, type Notice, type AlertLevel } from './channel.js';

/** Every title starts with this: a DingTalk keyword filter can be set to it. */
export const TITLE_PREFIX = '[agent-trader]';

export interface Rendered {
  readonly level: AlertLevel;
  readonly code: string;
  /** `[agent-trader] CRITICAL BROKER_DISCONNECTED` */
  readonly title: string;
  /** The body, without the title. */
  readonly lines: readonly string[];
}

const iso = (ms: number) => new Date(ms).toISOString();

const REASON_TEXT: Readonly<Record<DigestReason, string>> = {
  rate_limit: 'held back by the rate limit',
  queue_full: 'merged because the send queue was full',
  closing: 'still waiting when the process stopped',
};

export function render(n: Notice): Rendered {
  if (n.kind === 'alert') {
    const { alert } = n;
    const lines = [...alert.message.split('\n')];
    const meta = [
      alert.signature !== undefined ? `signature: ${alert.signature}` : undefined,
      alert.sessionId !== undefined ? `session: ${alert.sessionId}` : undefined,
      alert.clientOrderId !== undefined ? `order: ${alert.clientOrderId}` : undefined,
    ].filter((s): s is string => s !== undefined);
    if (meta.length > 0) lines.push(meta.join(' · '));
    lines.push(`time: ${iso(alert.tsEvent)}`);
    if (n.more > 0) lines.push(moreLine(n));
    return { level: alert.level, code: alert.code, title: title(alert.level, alert.code), lines };
  }
  const lines = [`${n.total} alert${n.total === 1 ? '' : 's'} ${REASON_TEXT[n.reason]}, oldest first:`];
  for (const item of n.items) lines.push(itemLine(item));
  if (n.omitted > 0) lines.push(`… and ${n.omitted} more not listed`);
  return { level: n.level, code: DIGEST_CODE, title: title(n.level, DIGEST_CODE), lines };
}

export const title = (level: AlertLevel, code: string): string => `${TITLE_PREFIX} ${level.toUpperCase()} ${code}`;

/** Title and body as plain text. */
export const plainText = (r: Rendered): string => [r.title, ...r.lines].join('\n');

const moreLine = (n: AlertNotice) => `… and ${n.more} more like this${n.since !== undefined ? ` since ${iso(n.since)}` : ''}`;

function itemLine(n: AlertNotice): string {
  const a = n.alert;
  const sig = a.signature !== undefined ? ` [${a.signature}]` : '';
  const times = n.more > 0 ? ` (×${n.more + 1})` : '';
  return `- ${iso(a.tsEvent)} ${a.level.toUpperCase()} ${a.code}: ${clip(a.message.replace(/\s+/g, ' '), 200)}${sig}${times}`;
}

const TRUNCATED = '\n… (truncated)';

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes (never inside a character), with a
 * "… (truncated)" line when cut: the robots refuse longer messages outright.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const budget = maxBytes - Buffer.byteLength(TRUNCATED, 'utf8');
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const b = Buffer.byteLength(ch, 'utf8');
    if (bytes + b > budget) break;
    bytes += b;
    end += ch.length;
  }
  return text.slice(0, end) + TRUNCATED;
}

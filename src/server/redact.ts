/**
 * Last line of defence against secrets leaving the process on the feed, /health or
 * /api/state. Payloads are built from domain messages that hold no secret; this is
 * for the day one slips in anyway (a broker error object, a config echo).
 *
 * Two nets: any object key that looks like a credential has its value replaced,
 * and the configured feed token, should it appear inside any string, is blanked.
 * The key rule is deliberately broad: `promptTokens` is redacted too, so counters
 * meant for people need names without `token` / `key` (e.g. `usage.prompt`).
 */

export const REDACTED = '[redacted]';

/** Object keys whose values never leave the process. */
export const SECRET_KEY = /key|secret|token|password|authorization/i;

const replacer = (key: string, value: unknown): unknown => (key !== '' && SECRET_KEY.test(key) ? REDACTED : value);

/**
 * JSON text of `value` with credential-looking keys redacted and the token (if
 * given and long enough to be a real one) removed from every string.
 */
export function safeJson(value: unknown, token?: string): string {
  const text = JSON.stringify(value, replacer);
  // A short token would match ordinary text; config refuses those anyway.
  if (token !== undefined && token.length >= 8 && text.includes(token)) return text.split(token).join(REDACTED);
  return text;
}

/**
 * URL fields of the config (LLM and broker base_url, quote and replay URLs, search and
 * webhook URLs). A URL must not carry credentials (`https://user:pass@host`): they would be
 * stored, logged and printed by `config show`. ./errors.ts never echoes the user:pass part
 * of a refused value (redactUrlCredentials).
 *
 * Its own module because ./schema.ts and ./alerts-schema.ts both use it and must not
 * import each other.
 */
import { z } from 'zod';

export const URL_CREDENTIALS = 'expected a URL without user:password@ (credentials come from environment variables, like the *_env keys)';

/** False when `s` parses as a URL with a user name or password in it. */
export function hasNoCredentials(s: string): boolean {
  try {
    const u = new URL(s);
    return u.username === '' && u.password === '';
  } catch {
    return true; // not a URL at all: z.url() says so
  }
}

export const httpUrl = () =>
  z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL', abort: true }).refine(hasNoCredentials, { error: URL_CREDENTIALS });
export const wsUrl = () =>
  z.url({ protocol: /^wss?$/, error: 'expected a ws:// or wss:// URL', abort: true }).refine(hasNoCredentials, { error: URL_CREDENTIALS });

/**
 * `scheme://user:pass@host/...` -> `scheme://***@host/...`, in any text. Everything from
 * `://` to the last `@` before the next space goes: over-hiding a path in an error message
 * is harmless, showing a password is not (a malformed URL may hide one behind a `/`).
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(/(:\/\/)[^\s"]*@/g, '$1***@');
}

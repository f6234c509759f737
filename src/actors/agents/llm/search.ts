/**
 * The optional news/search tool (AI-Trader's `get_information(query)`), offered to the model
 * only when the model's config has `search`. One GET `<url>?q=<query>` with
 * `Accept: application/json` (Jina's s.jina.ai answers this way; any endpoint that returns
 * `{data|results: [{title, url, description|snippet|content, date|publishedTime}]}` works,
 * e.g. a self-hosted SearxNG with `format=json` in its URL).
 *
 * No look-ahead: a result dated after the session instant is dropped; in a backtest a result
 * without a date is dropped too (a search engine answers with today's web, which is the
 * future of a past session). The key, if any, goes in the Authorization header only; errors
 * are redacted of it.
 */
import { DateTime } from 'luxon';
import { redact } from './chat-client.js';
import type { WallTimers } from './timers.js';

export interface SearchSettings {
  readonly url: string;
  readonly apiKey?: string;
  readonly maxResults: number;
  readonly timeoutMs: number;
  /** Drop results without a date (backtests). */
  readonly requireDate: boolean;
}

export interface SearchHit {
  readonly title: string;
  readonly url?: string;
  readonly date?: string;
  readonly text: string;
}

const MAX_TEXT = 800;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/** The hits of an answer, dated no later than `at` (pure; exported for tests). */
export function readHits(body: unknown, at: DateTime, settings: Pick<SearchSettings, 'maxResults' | 'requireDate'>): SearchHit[] {
  const root = body as { data?: unknown; results?: unknown } | null;
  const list = Array.isArray(root?.data) ? root.data : Array.isArray(root?.results) ? root.results : Array.isArray(body) ? (body as unknown[]) : [];
  const hits: SearchHit[] = [];
  for (const raw of list) {
    const r = raw as Record<string, unknown>;
    const title = str(r['title']) ?? '(untitled)';
    const text = (str(r['description']) ?? str(r['snippet']) ?? str(r['content']) ?? '').slice(0, MAX_TEXT);
    const dateText = str(r['date']) ?? str(r['publishedTime']) ?? str(r['publishedDate']);
    const date = dateText ? DateTime.fromISO(dateText, { setZone: true }) : undefined;
    if (date?.isValid) {
      if (date > at) continue;
    } else if (settings.requireDate) continue;
    hits.push({ title, ...(str(r['url']) ? { url: str(r['url'])! } : {}), ...(date?.isValid ? { date: date.toISO()! } : {}), text });
    if (hits.length >= settings.maxResults) break;
  }
  return hits;
}

export async function searchTool(settings: SearchSettings, query: string, at: DateTime, signal: AbortSignal, timers: WallTimers): Promise<string> {
  const url = new URL(settings.url);
  url.searchParams.set('q', query);
  const expired = new AbortController();
  const cancel = timers.after(settings.timeoutMs, () => expired.abort(new Error(`no answer within ${settings.timeoutMs / 1000} s`)));
  const timeout = AbortSignal.any([signal, expired.signal]);
  try {
    const res = await fetch(url, {
      headers: { Accept: 'application/json', ...(settings.apiKey ? { Authorization: `Bearer ${settings.apiKey}` } : {}) },
      signal: timeout,
    });
    if (!res.ok) return JSON.stringify({ error: `search failed: HTTP ${res.status}` });
    const hits = readHits(await res.json(), at, settings);
    return JSON.stringify({ query, as_of: at.toISO(), results: hits });
  } catch (e) {
    const why = expired.signal.aborted ? (expired.signal.reason as Error).message : (e as Error).message;
    return JSON.stringify({ error: `search failed: ${redact(why, [settings.apiKey])}` });
  } finally {
    cancel();
  }
}

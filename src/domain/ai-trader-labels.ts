/**
 * AI-Trader's session labels: the `date` of a position.jsonl record and the key of
 * the bar an AI-Trader agent traded at. Pure: the replay agent maps recorded
 * actions to sessions with it, the ledger dates its position.jsonl records with it.
 * (The simulated broker finds the labelled *bar* from the data's own labels,
 * `labelledBarAt` in market-rules.ts, which needs no grid.)
 *
 * The rule: the label of a session instant is the latest label of the market's label
 * grid that is not after the instant, on the same exchange-local day. The grids are
 * DATA (`AI_TRADER_LABEL_GRIDS`), exchange-local wall times:
 *
 * | market | frequency | labels (exchange-local)                      | sessions -> label                         |
 * |--------|-----------|----------------------------------------------|-------------------------------------------|
 * | cn     | daily     | the date `YYYY-MM-DD`                        | 09:35 -> `2025-10-09`                     |
 * | cn     | hourly    | `YYYY-MM-DD HH:mm:ss` at 10:30 11:30 14:00 15:00 (bar ENDS, Asia/Shanghai) | 10:35 -> 10:30, 11:35 -> 11:30, 14:05 -> 14:00, 15:05 -> 15:00 |
 * | us     | daily     | the date `YYYY-MM-DD`                        | 09:35 -> `2025-10-01`                     |
 * | us     | hourly    | `YYYY-MM-DD HH:mm:ss` at 10:00 ... 15:00 (bar STARTS, America/New_York) | 10:05 -> 10:00, ..., 15:05 -> 15:00 |
 *
 * Wall times are read in the exchange zone with luxon, so US labels follow New York
 * time through DST (a 10:05 session is 14:05Z in October and 15:05Z after 2025-11-02;
 * both are labelled `... 10:00:00`). An hourly instant before the day's first label
 * (e.g. a US 09:35 session) has no label: `undefined`.
 */
import type { DateTime } from 'luxon';
import { MARKETS, type Frequency, type Market, type WallTime } from './markets.js';

export type LabelGrid =
  /** One label per exchange day: its date. */
  | { readonly kind: 'date' }
  /** Labels at these exchange-local wall times ("HH:mm", ascending), written `YYYY-MM-DD HH:mm:00`. */
  | { readonly kind: 'times'; readonly times: readonly WallTime[] };

export const AI_TRADER_LABEL_GRIDS: Readonly<Record<Market, Readonly<Record<Frequency, LabelGrid>>>> = {
  cn: {
    daily: { kind: 'date' },
    // The A-share hourly bar labels (bar ends), as in LABEL_MEANINGS.cn['60min'] (domain/bars.ts).
    hourly: { kind: 'times', times: ['10:30', '11:30', '14:00', '15:00'] },
  },
  us: {
    daily: { kind: 'date' },
    // The US hourly bar labels (bar starts) of AI-Trader's NASDAQ-100 data.
    hourly: { kind: 'times', times: ['10:00', '11:00', '12:00', '13:00', '14:00', '15:00'] },
  },
};

const minutesOf = (w: string): number => {
  const [h, m] = w.split(':').map(Number) as [number, number];
  return h * 60 + m;
};

/**
 * The AI-Trader label of a session instant (see the table above), or undefined when
 * the instant lies before the first label of its exchange day (hourly only).
 */
export function aiTraderLabel(
  at: DateTime,
  frequency: Frequency,
  market: Market,
  grids: Readonly<Record<Market, Readonly<Record<Frequency, LabelGrid>>>> = AI_TRADER_LABEL_GRIDS,
): string | undefined {
  const local = at.setZone(MARKETS[market].zone);
  if (!local.isValid) return undefined;
  const date = local.toISODate()!;
  const grid = grids[market][frequency];
  if (grid.kind === 'date') return date;
  // Seconds count: a label is "not after" the instant when label <= instant to the second.
  const secondOfDay = local.hour * 3600 + local.minute * 60 + local.second;
  let label: string | undefined;
  for (const t of grid.times) {
    if (minutesOf(t) * 60 <= secondOfDay && (label === undefined || minutesOf(t) > minutesOf(label))) label = t;
  }
  return label === undefined ? undefined : `${date} ${label}:00`;
}

/**
 * The markets we trade and the facts about them that never change at run time:
 * the exchange's own time zone and its regular session segments (exchange-local
 * wall time). Holidays and early closes live in the calendar tables.
 */
import { z } from 'zod';

export const MarketSchema = z.enum(['cn', 'us']);
export type Market = z.infer<typeof MarketSchema>;

export const FrequencySchema = z.enum(['daily', 'hourly']);
export type Frequency = z.infer<typeof FrequencySchema>;

/** A wall-clock time of day, "HH:mm", in the exchange's zone. */
export type WallTime = `${number}:${number}`;

export interface SessionSegment {
  readonly start: WallTime;
  readonly end: WallTime;
}

export interface MarketFacts {
  readonly name: string;
  /** IANA zone the exchange keeps its hours in. */
  readonly zone: string;
  /** Regular continuous-trading segments, in order; gaps between them are lunch breaks. */
  readonly segments: readonly SessionSegment[];
  /** Close on an early-close day (the US half days); absent where the market has none. */
  readonly earlyClose?: WallTime;
}

export const MARKETS: Readonly<Record<Market, MarketFacts>> = {
  cn: {
    name: 'China A-shares (SSE/SZSE)',
    zone: 'Asia/Shanghai',
    segments: [
      { start: '09:30', end: '11:30' },
      { start: '13:00', end: '15:00' },
    ],
  },
  us: {
    name: 'US equities (NYSE/NASDAQ)',
    zone: 'America/New_York',
    segments: [{ start: '09:30', end: '16:00' }],
    earlyClose: '13:00',
  },
};

/**
 * The prices a run has seen, per symbol, for the dashboard's price charts: one point per
 * minute of the run's clock (the last quote of that minute), the most recent MAX_POINTS
 * kept. A replay streams many quotes a second; a chart needs a few hundred points.
 */
import { DateTime } from 'luxon';
import type { PricePoint } from '../domain/dashboard-state.js';

const BUCKET_MS = 60_000;
export const MAX_POINTS = 600;

export class PriceTrail {
  readonly #series = new Map<string, { bucket: number; atMs: number; price: string }[]>();

  constructor(private readonly zone: string) {}

  observe(symbol: string, atMs: number, price: string): void {
    let s = this.#series.get(symbol);
    if (!s) this.#series.set(symbol, (s = []));
    const bucket = Math.floor(atMs / BUCKET_MS);
    const last = s.at(-1);
    if (last && atMs < last.atMs) return; // out of order (a late quote): the chart moves forward only
    if (last && last.bucket === bucket) {
      last.atMs = atMs;
      last.price = price;
      return;
    }
    s.push({ bucket, atMs, price });
    if (s.length > MAX_POINTS) s.shift();
  }

  symbols(): string[] {
    return [...this.#series.keys()].sort();
  }

  points(symbol: string): PricePoint[] {
    return (this.#series.get(symbol) ?? []).map((p) => ({ time: DateTime.fromMillis(p.atMs, { zone: this.zone }).toISO()!, price: p.price }));
  }
}

/**
 * `withRunDetails`: what the report's trade list, per-symbol PnL and LLM usage are built
 * from, read from a run's store, added to the runs the ledger gave (`signatureRuns`).
 *
 * - Fills: the journal's `ledger.fill` entries, in journal order, which is the order the
 *   ledger applied them (each is committed in the batch that booked it, once per fill id),
 *   so FIFO lots follow the account's own order; a resumed run's journal holds the same.
 * - Last prices: the caller's point-in-time price at the last curve point, for each symbol
 *   the fills leave held.
 * - LLM usage: the transcripts (sublevel `transcripts`) of the signatures named, tokens as
 *   the endpoint reported them and the cost when token prices were configured.
 * Nothing here reads a clock; the result depends only on the store's committed content.
 */
import { DateTime } from 'luxon';
import { sessionInstantOf } from '../domain/ids.js';
import { levelTranscripts } from '../actors/agents/llm/transcript.js';
import type { Store } from '../actors/store/store.js';
import { MARKETS, type Market } from '../domain/markets.js';
import { dec } from '../domain/money.js';
import { instantMillis, type LlmSessionUsage, type SignatureRun, type TradeFill } from './types.js';

export interface RunDetailsOptions {
  readonly market: Market;
  /** The price of `symbol` known at the instant `at` (the run's point-in-time view), or undefined. */
  readonly priceAt: (symbol: string, at: string) => string | undefined;
  /** Signatures of LLM agents: their transcripts give tokens and cost per session. */
  readonly llmSignatures?: readonly string[];
  /**
   * A backtest: a fill is placed at its order's session instant (from its client order id), not at
   * the venue's virtual second it came in, which a restart may move (a resumed order asks again
   * before it is filled): the report stays the same bytes, interrupted or not.
   */
  readonly atSession?: boolean;
}

interface LedgerFillEntry {
  readonly source?: unknown;
  readonly type?: unknown;
  readonly signature: string;
  readonly clientOrderId?: string;
  readonly side: 'buy' | 'sell';
  readonly symbol: string;
  readonly fill: { readonly quantity: number; readonly price: string; readonly fee?: string; readonly atMs: number };
}

const isLedgerFill = (e: unknown): e is LedgerFillEntry =>
  typeof e === 'object' && e !== null && (e as { source?: unknown }).source === 'ledger' && (e as { type?: unknown }).type === 'ledger.fill';

/** Every signature's fills from the journal, in the order the ledger applied them. */
export async function ledgerFills(store: Store, market: Market, atSession = false): Promise<Map<string, TradeFill[]>> {
  const zone = MARKETS[market].zone;
  const out = new Map<string, TradeFill[]>();
  for await (const { entry } of store.readJournal()) {
    if (!isLedgerFill(entry)) continue;
    const list = out.get(entry.signature) ?? [];
    out.set(entry.signature, list);
    list.push({
      at: DateTime.fromMillis((atSession && entry.clientOrderId !== undefined ? sessionInstantOf(entry.clientOrderId, market) : undefined) ?? entry.fill.atMs, { zone }).toISO({ suppressMilliseconds: true })!,
      symbol: entry.symbol,
      side: entry.side,
      quantity: entry.fill.quantity,
      price: dec(entry.fill.price).toFixed(),
      fee: dec(entry.fill.fee ?? '0').toFixed(),
    });
  }
  return out;
}

/** Shares held after the fills, by symbol (those > 0), sorted. */
function held(fills: readonly TradeFill[]): string[] {
  const q = new Map<string, number>();
  for (const f of fills) q.set(f.symbol, (q.get(f.symbol) ?? 0) + (f.side === 'buy' ? f.quantity : -f.quantity));
  return [...q.entries()].filter(([, n]) => n > 0).map(([s]) => s).sort();
}

/** The LLM sessions of one signature, in time order. */
export async function llmUsage(store: Store, signature: string): Promise<LlmSessionUsage[]> {
  const out: LlmSessionUsage[] = [];
  for await (const t of levelTranscripts(store).list(signature)) {
    if (t.signature !== signature) continue;
    out.push({ at: t.at, prompt: t.tokens.prompt, completion: t.tokens.completion, total: t.tokens.total, ...(t.cost !== undefined ? { cost: dec(t.cost).toFixed() } : {}) });
  }
  // Keys are signature@instant text: sort by the instant itself.
  return out.sort((a, b) => instantMillis(a.at) - instantMillis(b.at));
}

/** The runs with `trades`, `lastPrices` and (LLM agents) `llm` added from the store. */
export async function withRunDetails(runs: readonly SignatureRun[], store: Store, options: RunDetailsOptions): Promise<SignatureRun[]> {
  const fills = await ledgerFills(store, options.market, options.atSession);
  const llm = new Set(options.llmSignatures ?? []);
  const out: SignatureRun[] = [];
  for (const run of runs) {
    const trades = fills.get(run.signature) ?? [];
    const last = run.curve.at(-1);
    const lastPrices: Record<string, string> = {};
    if (last) {
      for (const symbol of held(trades)) {
        const p = options.priceAt(symbol, last.at);
        if (p !== undefined) lastPrices[symbol] = dec(p).toFixed();
      }
    }
    out.push({ ...run, trades, lastPrices, ...(llm.has(run.signature) ? { llm: await llmUsage(store, run.signature) } : {}) });
  }
  return out;
}

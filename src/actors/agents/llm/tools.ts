/**
 * The tools an LLM agent gets, as AI-Trader gives them: prices, price history,
 * the account, buy and sell. Info tools are answered here, from the session's
 * point-in-time view and the account the session read, so a tool can never
 * return a price from after the session instant. buy/sell become order intents
 * (the decider sends them through risk and the order machine); their answer is
 * the order's result.
 *
 * Parsing is all-or-nothing: an assistant message whose tool calls are not all
 * known tools with valid JSON arguments is refused as a whole, so no order ever
 * comes from a half-parsed answer.
 */
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';
import type { AccountView } from '../../../domain/messages.js';
import type { OrderResult } from '../../../domain/orders.js';
import type { PointInTimeView } from '../../../domain/point-in-time.js';
import type { ToolCall } from './transcript.js';

const Symbol = z.string().trim().min(1, { error: 'expected a symbol like "600519.SH" or "AAPL"' }).max(20);
const Amount = z.number({ error: 'expected a whole number of shares' }).int({ error: 'expected a whole number of shares' }).positive({
  error: 'expected a positive number of shares',
});
const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected a date YYYY-MM-DD' });

export const TOOL_ARGS = {
  get_price_local: z.strictObject({ symbol: Symbol, date: Day.optional() }),
  get_price_history: z.strictObject({
    symbol: Symbol,
    bars: z.number().int().min(1).max(100, { error: 'expected at most 100 bars' }).optional(),
  }),
  get_positions: z.strictObject({}),
  buy: z.strictObject({ symbol: Symbol, amount: Amount }),
  sell: z.strictObject({ symbol: Symbol, amount: Amount }),
  get_information: z.strictObject({ query: z.string().trim().min(1, { error: 'expected a search query' }).max(300, { error: 'expected a query of at most 300 characters' }) }),
} as const;
export type ToolName = keyof typeof TOOL_ARGS;
export const TRADE_TOOLS = ['buy', 'sell'] as const satisfies readonly ToolName[];

export type ParsedCall = {
  [K in ToolName]: { readonly id: string; readonly name: K; readonly args: z.infer<(typeof TOOL_ARGS)[K]> };
}[ToolName];

const fn = (name: ToolName, description: string, properties: Record<string, unknown>, required: string[]): ChatCompletionTool => ({
  type: 'function',
  function: { name, description, parameters: { type: 'object', properties, required, additionalProperties: false } },
});
const symbolProp = { type: 'string', description: 'Stock symbol, e.g. 600519.SH or AAPL' };

/** The tool definitions of every tool; `toolDefinitions` picks those a model gets. */
const ALL_DEFINITIONS: ChatCompletionTool[] = [
  fn(
    'get_price_local',
    'Price of a stock: the latest price known now, or (with date) that past trading day\'s bar (open, high, low, close, volume). Future dates are refused.',
    { symbol: symbolProp, date: { type: 'string', description: 'YYYY-MM-DD, not after today' } },
    ['symbol'],
  ),
  fn(
    'get_price_history',
    'The most recent completed bars of a stock (oldest first), at most 100.',
    { symbol: symbolProp, bars: { type: 'integer', minimum: 1, maximum: 100, description: 'How many bars (default 10)' } },
    ['symbol'],
  ),
  fn('get_positions', 'Your cash, positions (shares, sellable shares, average cost) and equity now.', {}, []),
  fn('buy', 'Buy shares at market. Answered with the order result (filled, partially filled, queued for the next open with when and at what limit, or rejected with the reason).', {
    symbol: symbolProp,
    amount: { type: 'integer', minimum: 1, description: 'Number of shares' },
  }, ['symbol', 'amount']),
  fn('sell', 'Sell shares at market. Answered with the order result (filled, partially filled, queued for the next open with when and at what limit, or rejected with the reason).', {
    symbol: symbolProp,
    amount: { type: 'integer', minimum: 1, description: 'Number of shares' },
  }, ['symbol', 'amount']),
  fn('get_information', 'Search news and the web; only results published before now are returned.', { query: { type: 'string', description: 'What to search for' } }, ['query']),
];

/** Tools every model gets; `get_information` only with a configured search. */
export const BASE_TOOLS: readonly ToolName[] = ['get_price_local', 'get_price_history', 'get_positions', 'buy', 'sell'];

export function toolDefinitions(tools: readonly ToolName[] = BASE_TOOLS): ChatCompletionTool[] {
  return ALL_DEFINITIONS.filter((d) => d.type === 'function' && tools.includes(d.function.name as ToolName));
}

/** The definitions of the base tools (what a model without search gets). */
export const TOOL_DEFINITIONS: ChatCompletionTool[] = toolDefinitions();

const isToolName = (name: string): name is ToolName => Object.hasOwn(TOOL_ARGS, name);

/** Parse every call of one assistant message, or say precisely what is wrong with the first bad one. */
export function parseToolCalls(calls: readonly ToolCall[], tools: readonly ToolName[] = BASE_TOOLS): { ok: true; calls: ParsedCall[] } | { ok: false; error: string } {
  const parsed: ParsedCall[] = [];
  for (const call of calls) {
    if (!isToolName(call.name) || !tools.includes(call.name)) {
      return { ok: false, error: `unknown tool "${call.name}" (call ${call.id}); known: ${tools.join(', ')}` };
    }
    let raw: unknown;
    try {
      raw = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
    } catch (e) {
      return { ok: false, error: `${call.name} (call ${call.id}): arguments are not valid JSON: ${(e as Error).message}` };
    }
    const args = TOOL_ARGS[call.name].safeParse(raw);
    if (!args.success) {
      const issues = args.error.issues.map((i) => `${i.path.map(String).join('.') || 'arguments'}: ${i.message}`).join('; ');
      return { ok: false, error: `${call.name} (call ${call.id}): ${issues}` };
    }
    parsed.push({ id: call.id, name: call.name, args: args.data } as ParsedCall);
  }
  return { ok: true, calls: parsed };
}

const barJson = (b: { label: string; open: { toFixed(): string } } & Partial<Record<'high' | 'low' | 'close' | 'volume', { toFixed(): string }>>) => ({
  time: b.label,
  open: b.open.toFixed(),
  ...(b.high ? { high: b.high.toFixed(), low: b.low!.toFixed(), close: b.close!.toFixed(), volume: b.volume!.toFixed() } : {}),
});

/** Answer an info tool from the view bound to the session instant and the account the session read. */
export function answerInfoTool(call: ParsedCall, view: PointInTimeView, account: AccountView): string {
  const today = view.at.toISODate()!;
  switch (call.name) {
    case 'get_price_local': {
      const { symbol, date } = call.args;
      if (date === undefined || date === today) {
        const p = view.price(symbol);
        if (!p) return JSON.stringify({ error: `no price known for ${symbol} at ${view.at.toISO()}` });
        return JSON.stringify({ symbol, price: p.price.toFixed(), as_of: p.at.toISO(), kind: p.source });
      }
      if (date > today) return JSON.stringify({ error: `${date} is in the future (today is ${today}); only past prices are known` });
      // A past day: its completed bars (daily: one; hourly: that day's hours).
      const bars = view.bars(symbol, 2000).filter((b) => b.start.setZone(view.at.zone).toISODate() === date);
      if (bars.length === 0) return JSON.stringify({ error: `no bar for ${symbol} on ${date}` });
      return JSON.stringify({ symbol, date, bars: bars.map(barJson) });
    }
    case 'get_price_history': {
      const { symbol, bars = 10 } = call.args;
      const got = view.bars(symbol, bars);
      if (got.length === 0) return JSON.stringify({ error: `no completed bars for ${symbol} before ${view.at.toISO()}` });
      return JSON.stringify({ symbol, bars: got.map(barJson) });
    }
    case 'get_positions':
      return JSON.stringify(account);
    case 'buy':
    case 'sell':
      throw new Error(`${call.name} is a trade, not an info tool`);
    case 'get_information':
      throw new Error('get_information is answered by the search client (search.ts)');
  }
}

/** What the model reads back after a buy/sell: the order's result. */
export function orderResultText(result: OrderResult | undefined): string {
  if (!result) return JSON.stringify({ status: 'unknown', message: 'the order result did not come back' });
  return JSON.stringify({
    status: result.filledQuantity > 0 && result.filledQuantity < result.intent.quantity ? 'partially_filled' : result.status,
    client_order_id: result.clientOrderId || undefined,
    side: result.intent.side,
    symbol: result.intent.symbol,
    requested: result.intent.quantity,
    filled: result.filledQuantity,
    average_price: result.averagePrice,
    fees: result.fees,
    reason: result.reason,
    message: result.message,
    queued_until: result.queuedUntil,
  });
}

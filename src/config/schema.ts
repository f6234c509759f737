/**
 * The config file of the whole system, as one zod schema.
 *
 * - Every object is strict: an unknown key is an error (a typo must not pass silently).
 * - Every field has a default unless it has no sensible one (models, paths, URLs).
 * - Defaults that depend on `market` (hourly trigger times, time zone, close grace,
 *   initial cash) are left open by the object schema and filled in by the transform
 *   at the end of `ConfigSchema`, so `Config` (the parse output) always has them.
 * - Secrets are never in the file: a key only ever NAMES an environment variable
 *   (`api_key_env`, `token_env`, ...). A key that looks like a secret value
 *   (`api_key`, `token`, `password`, ...) is refused with a message saying so
 *   (see ./errors.ts).
 * - Paths are plain strings here; ./load.ts resolves the ones written in a file
 *   relative to that file's directory.
 *
 * Error texts: each leaf carries an "expected ..." message where the generic one
 * would be vague; ./errors.ts supplies the rest and renders `path: expected ..., got ...`.
 */
import { AlertsSchema } from './alerts-schema.js';
import { z } from 'zod';
import { DateTime, IANAZone } from 'luxon';
import { FrequencySchema, MarketSchema, MARKETS, type Market } from '../domain/markets.js';
import { DEFAULT_QUEUED_LIMIT_BAND } from '../domain/queued-orders.js';
import { HFT_THRESHOLDS } from '../domain/risk/program-trading.js';
import { SCHEDULE_DEFAULTS } from '../domain/schedule.js';
import { httpUrl, wsUrl } from './urls.js';
import { EastMoneyBrokerSchema } from '../actors/brokers/eastmoney/settings.js';
import { BridgeBrokerSchema } from '../actors/brokers/bridge/settings.js';
import { FutuBrokerSchema } from '../actors/brokers/futu/settings.js';

// ---------------------------------------------------------------------------
// Leaf helpers, each with the message a person needs

const RATIO = 'expected a number between 0 and 1';
const TIME = 'expected a time HH:mm';
const DATE = 'expected a date YYYY-MM-DD';
const ENV_NAME = 'expected the name of an environment variable (like OPENAI_API_KEY: A-Z, 0-9, _)';

/** A number strictly between 0 and 1. */
const ratio = () => z.number({ error: RATIO }).gt(0, { error: RATIO }).lt(1, { error: RATIO });

/** An integer >= min. */
const int = (min: number) => {
  const msg = `expected a whole number >= ${min}`;
  return z.int({ error: msg }).min(min, { error: msg });
};

/**
 * Money in the config: at most 10^12 (a trillion CNY or USD) and at most 6 decimals
 * (FINRA's TAF is 0.000166 USD a share). Beyond either, the amount is no longer a plain
 * decimal once turned into text (String(1e21) is "1e+21", String(1e-7) is "1e-7") and the
 * ledger's decimal arithmetic refuses it deep inside a run.
 */
export const MAX_AMOUNT = 1_000_000_000_000;
const AMOUNT_DECIMALS = 6;
const hasAmountDecimals = (x: number) => Number(x.toFixed(AMOUNT_DECIMALS)) === x;
const money = (msg: string) =>
  z
    .number({ error: msg })
    .max(MAX_AMOUNT, { error: msg })
    .refine(hasAmountDecimals, { error: msg });

/** A non-negative amount of money (CNY or USD, the market's currency). */
const amount = () => {
  const msg = 'expected an amount from 0 to 10^12 with at most 6 decimals';
  return money(msg).min(0, { error: msg });
};

/** A positive amount of money. */
const positiveAmount = () => {
  const msg = 'expected an amount > 0 and at most 10^12 with at most 6 decimals';
  return money(msg).gt(0, { error: msg });
};

/** A fee rate: a fraction, 0 <= x < 1. */
const rate = () => {
  const msg = 'expected a rate >= 0 and < 1 (0.00025 = 0.025%)';
  return z.number({ error: msg }).min(0, { error: msg }).lt(1, { error: msg });
};

const nonEmpty = (what = 'a non-empty string') =>
  z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
/** A wall-clock time "HH:mm", 00:00 to 23:59. */
export const TimeOfDaySchema = z.string({ error: TIME }).regex(HHMM, { error: TIME });

const YMD = /^\d{4}-\d{2}-\d{2}$/;
const isRealDate = (s: unknown): s is string =>
  typeof s === 'string' && YMD.test(s) && DateTime.fromISO(s, { zone: 'utc' }).isValid;
/** A real calendar date "YYYY-MM-DD" (2025-02-30 is refused). */
export const DateSchema = z.string({ error: DATE }).refine(isRealDate, { error: DATE });

const ENV = /^[A-Z_][A-Z0-9_]*$/;
/**
 * The NAME of an environment variable. ./errors.ts never echoes a refused value of
 * a key ending in `_env` (someone may have pasted the secret itself there).
 */
export const EnvNameSchema = z.string({ error: ENV_NAME }).regex(ENV, { error: ENV_NAME });

const ZONE = 'expected an IANA time zone (like Asia/Shanghai or America/New_York)';
const ZoneSchema = z.string({ error: ZONE }).refine((s) => IANAZone.isValidZone(s), { error: ZONE });

/**
 * A path to a file or folder; relative ones are relative to the config file (see load.ts).
 * No NUL character: the file system refuses it, deep inside whatever opens the path first.
 */
const filePath = () => nonEmpty('a path').refine((p) => !p.includes('\0'), { error: 'expected a path without NUL characters (\\0)' });


const symbolList = (min: number) =>
  z.array(nonEmpty('a symbol'), { error: 'expected an array of symbols' }).min(min, {
    error: min === 1 ? 'expected at least one symbol' : `expected at least ${min} symbols`,
  });

/**
 * What a run directory holds besides the signatures' folders (lower case): the LevelDB store
 * (`state`), the paper daily reports, the demo runs, the report files, the kill switch. A
 * signature of one of these names would put its folder there.
 */
export const RUN_DIR_ENTRIES: readonly string[] = ['state', 'reports', 'runs', 'report.json', 'report.html', 'kill-switch.json'];

/** Folder-safe: letters, digits, ".", "_", "-", not starting with ".". */
const SIGNATURE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
const SIGNATURE_MSG = 'expected a signature of letters, digits, ".", "_", "-" (it names a folder; at most 64, no leading ".")';

/** Symbol shapes per market, to catch a config that mixes up markets. */
export const SYMBOL_PATTERNS: Readonly<Record<Market, { re: RegExp; example: string }>> = {
  cn: { re: /^\d{6}\.(SH|SZ|BJ)$/, example: '600519.SH' },
  us: { re: /^[A-Z][A-Z0-9.-]{0,9}$/, example: 'AAPL' },
};

// ---------------------------------------------------------------------------
// Market-dependent defaults

export const MARKET_DEFAULTS = {
  cn: {
    /** The schedule's own defaults (src/domain/schedule.ts): keeps the A-share 15:05 post-close session. */
    trigger_times: SCHEDULE_DEFAULTS.cn.triggerTimes,
    close_grace_minutes: SCHEDULE_DEFAULTS.cn.closeGraceMinutes,
    /** AI-Trader's starting cash for A-shares (CNY). */
    initial_cash: 100_000,
    /** 10% of the default starting cash. */
    min_cash_reserve: 10_000,
    /** Brokers take orders in the lunch break (sent at 13:00) and after the close (for the next day). */
    orders_outside_hours: 'queue_next_open',
  },
  us: {
    /** An early-close day (13:00) drops 13:05 and later. */
    trigger_times: SCHEDULE_DEFAULTS.us.triggerTimes,
    close_grace_minutes: SCHEDULE_DEFAULTS.us.closeGraceMinutes,
    /** AI-Trader's starting cash for US stocks (USD). */
    initial_cash: 10_000,
    /** 10% of the default starting cash (10,000 would leave a default US account nothing to buy with). */
    min_cash_reserve: 1_000,
    /** The default US sessions (10:05 ... 15:05) are all inside the trading day. */
    orders_outside_hours: 'reject',
  },
} as const satisfies Record<
  Market,
  {
    trigger_times: readonly string[];
    close_grace_minutes: number;
    initial_cash: number;
    min_cash_reserve: number;
    orders_outside_hours: 'reject' | 'queue_next_open';
  }
>;

// ---------------------------------------------------------------------------
// Sections

export const ModeSchema = z.enum(['backtest', 'paper', 'live']);

export const ScheduleSchema = z.strictObject({
  /** Daily frequency: the one session of the day, exchange-local (or `timezone`) time. */
  trigger_time: TimeOfDaySchema.default('09:35'),
  /** Hourly frequency: the sessions of the day. Default per market (MARKET_DEFAULTS). */
  trigger_times: z
    .array(TimeOfDaySchema, { error: 'expected an array of times HH:mm' })
    .min(1, { error: 'expected at least one time HH:mm' })
    .superRefine((times, ctx) => {
      times.forEach((t, i) => {
        if (times.indexOf(t) !== i) {
          ctx.addIssue({ code: 'custom', message: 'expected each time once', path: [i], input: t });
        }
      });
    })
    .optional(),
  /** Zone the trigger times are read in. Default: the market's exchange zone. */
  timezone: ZoneSchema.optional(),
  /** Instants later than the day's close + this many minutes are dropped. Default per market. */
  close_grace_minutes: int(0).optional(),
  /** A tick missed (process down) is still run if at most this late; 0 = never replayed late. */
  catch_up_window_seconds: int(0).default(0),
});

/**
 * Where prices come from. Backtests read `bars_file` whatever the type; paper and live need a
 * live source: `alpaca` (Alpaca v2 WebSocket, US), `sina` / `tencent` / `eastmoney` (public
 * A-share HTTP quotes, polled), `akshare` (those three in that order), `tushare` (end-of-day
 * closes), `replay` (the replay server: bars of a past day as a live feed).
 */
export const DataSourceTypeSchema = z.enum(['tushare', 'akshare', 'sina', 'tencent', 'eastmoney', 'alpaca', 'broker', 'replay', 'file']);

/**
 * 100,000x: a US trading day in a quarter of a second, a wall millisecond already 100 market
 * seconds. Far beyond, the run clock races years ahead while the process stops (1e12x reached
 * the year 162085 and the calendar gave up).
 */
export const MAX_REPLAY_SPEED = 100_000;
const REPLAY_SPEED = `expected a number > 0 and at most ${MAX_REPLAY_SPEED}`;

export const DataSourceSchema = z.strictObject({
  type: DataSourceTypeSchema.default('file'),
  use_cache: z.boolean().default(true),
  cache_ttl_seconds: int(0).default(60),
  /** Bars file (AI-Trader merged.jsonl layout): backtests, the file source, the replay server. */
  bars_file: filePath().optional(),
  /** Benchmark series for reports (QQQ, SSE-50 index). */
  benchmark_file: filePath().optional(),
  /** Env var holding the source's token (e.g. Tushare). Required for tushare. */
  token_env: EnvNameSchema.optional(),
  /** Sources to fail over to, in order, when `type` fails. */
  fallback: z.array(DataSourceTypeSchema).default([]),
  /** WebSocket URL of a replay server (type replay); default: start the built-in one in the process. */
  replay_url: wsUrl().optional(),
  /** Built-in replay server: the day of `bars_file` to replay (default: its last complete day). */
  replay_date: DateSchema.optional(),
  /** Built-in replay server: market time runs this many times faster than the wall clock (at most MAX_REPLAY_SPEED). */
  replay_speed: z
    .number({ error: REPLAY_SPEED })
    .gt(0, { error: REPLAY_SPEED })
    .max(MAX_REPLAY_SPEED, { error: REPLAY_SPEED })
    .default(390),
  /** Alpaca v2 market-data stream (type alpaca). */
  alpaca_url: wsUrl().default('wss://stream.data.alpaca.markets/v2/iex'),
  /** NAMES of the env vars holding the Alpaca key id and secret (type alpaca). */
  key_env: EnvNameSchema.optional(),
  secret_env: EnvNameSchema.optional(),
  /** Symbols to stream / poll in paper and live; default: every symbol of bars_file. */
  symbols: symbolList(1).optional(),
  /** HTTP sources (sina, tencent, eastmoney, tushare) are polled this often. */
  poll_interval_seconds: z.number({ error: 'expected seconds >= 1' }).min(1, { error: 'expected seconds >= 1' }).default(3),
  /** Other base URLs for the HTTP quote sources (a proxy, a mirror); default their public endpoints. */
  source_urls: z
    .strictObject({ sina: httpUrl().optional(), tencent: httpUrl().optional(), eastmoney: httpUrl().optional(), tushare: httpUrl().optional() })
    .optional(),
  /** One HTTP poll gives up after this long. */
  request_timeout_seconds: z.number({ error: 'expected seconds > 0' }).gt(0, { error: 'expected seconds > 0' }).default(5),
  /** A quote older than this is stale (risk refuses orders on it in paper/live). */
  stale_quote_seconds: int(1).default(30),
  /** Which prints may become the last price (src/domain/price-sanity.ts); every live source and bars file. */
  price_sanity: z
    .strictObject({
      /** A print further than this fraction from its reference (recent median / previous close) is quarantined. */
      max_deviation_ratio: z.number({ error: 'expected a number > 0' }).gt(0, { error: 'expected a number > 0' }).default(0.25),
      /** Further prints near a quarantined one that confirm it. */
      confirmations: int(1).default(3),
      /** A print stamped later than now + this is dropped. */
      future_tolerance_seconds: z.number({ error: 'expected seconds >= 0' }).min(0, { error: 'expected seconds >= 0' }).default(5),
      /** A move away from an established price is confirmed only once it has also held this long (run clock): a burst of bad prints confirms nothing. */
      confirm_after_seconds: z.number({ error: 'expected seconds >= 0' }).min(0, { error: 'expected seconds >= 0' }).default(60),
    })
    .prefault({}),
});

export const BrokerTypeSchema = z.enum(['simulated', 'alpaca', 'futu', 'eastmoney', 'bridge']);
export const BrokerRulesSchema = z.enum(['strict', 'ai-trader']);

/** A-share fees (CNY): commission both sides with a minimum, stamp duty on sells, transfer fee. */
export const CnFeesSchema = z.strictObject({
  commission_rate: rate().default(0.00025),
  commission_min: amount().default(5),
  stamp_duty_rate: rate().default(0.0005),
  transfer_fee_rate: rate().default(0.00001),
});

/** US fees (USD): commission per share with a minimum, SEC fee on sells (rate of notional), FINRA TAF per share sold. */
export const UsFeesSchema = z.strictObject({
  commission_per_share: amount().default(0),
  commission_min: amount().default(0),
  sec_fee_rate: rate().default(0),
  taf_fee_per_share: amount().default(0),
});

export const FeesSchema = z.strictObject({
  cn: CnFeesSchema.prefault({}),
  us: UsFeesSchema.prefault({}),
});

/** `broker.alpaca`: where the trade_updates stream is and how long one REST attempt may take. */
export const AlpacaBrokerSchema = z.strictObject({
  /** Default: `base_url` with ws(s):// and /stream (wss://paper-api.alpaca.markets/stream on paper). */
  stream_url: wsUrl().optional(),
  request_timeout_seconds: z.number({ error: 'expected seconds > 0' }).gt(0, { error: 'expected seconds > 0' }).default(10),
  /** Retries of a temporary failure (429, 5xx, a timeout) after the first attempt. */
  max_retries: int(0).default(4),
});

/** The broker types whose own quotes `data_source.type: broker` streams (src/runtime/quote-source.ts). */
export const QUOTING_BROKERS: readonly z.infer<typeof BrokerTypeSchema>[] = ['futu'];

/** Brokers that trade one market only. */
const BROKER_MARKETS: Readonly<Record<string, string>> = { eastmoney: 'cn', bridge: 'cn', alpaca: 'us' };
const NO_PAPER_ACCOUNT: ReadonlySet<string> = new Set(['bridge', 'eastmoney']);
const MARKET_WORDS: Readonly<Record<string, string>> = { cn: 'A-shares', us: 'US stocks' };
/** Futu's trading markets a config market may trade through (HK has no market of ours). */
const FUTU_MARKETS: Readonly<Record<string, readonly string[]>> = { cn: ['CN', 'HKCC'], us: ['US'] };

export const BrokerSchema = z.strictObject({
  type: BrokerTypeSchema.default('simulated'),
  account_id: nonEmpty('an account id (a string)').optional(),
  /** NAMES of env vars holding the broker's key / secret / trade password. */
  api_key_env: EnvNameSchema.optional(),
  api_secret_env: EnvNameSchema.optional(),
  password_env: EnvNameSchema.optional(),
  /** Broker endpoint (REST base URL, or the Futu OpenD address). */
  base_url: httpUrl().optional(),
  /** Use the broker's paper account. Must be true unless mode is live. */
  paper: z.boolean().default(true),
  /** Simulated broker's rule set: the real exchange rules, or AI-Trader's (to reproduce recorded runs). */
  rules: BrokerRulesSchema.default('strict'),
  /** Simulated fills move against the order by this many basis points. */
  slippage_bps: z.number({ error: 'expected basis points >= 0' }).min(0, { error: 'expected basis points >= 0' }).default(0),
  /** Simulated fills take at most this share of the bar's volume; the rest stays open (partial fill). */
  max_volume_share: z
    .number({ error: 'expected a number greater than 0 and at most 1' })
    .gt(0, { error: 'expected a number greater than 0 and at most 1' })
    .max(1, { error: 'expected a number greater than 0 and at most 1' })
    .default(1),
  fees: FeesSchema.prefault({}),
  /** Brokers without a stream (futu simulate, bridge, eastmoney): the order list is read this often while an order is open. */
  poll_seconds: z.number({ error: 'expected seconds > 0' }).gt(0, { error: 'expected seconds > 0' }).default(2),
  /** Brokers without a stream: how long after a submit got no answer its order may still show up in the order list. */
  unknown_outcome_grace_seconds: z.number({ error: 'expected seconds > 0' }).gt(0, { error: 'expected seconds > 0' }).default(60),
  /** Brokers that take limit orders only (bridge, eastmoney): a market order is sent as a limit this many basis points through the latest price. */
  market_collar_bps: z.number({ error: 'expected basis points from 0 to 1000' }).min(0, { error: 'expected basis points from 0 to 1000' }).max(1000, { error: 'expected basis points from 0 to 1000' }).default(100),
  /** Alpaca only (type alpaca): the trade stream and the REST client's patience. */
  alpaca: AlpacaBrokerSchema.optional(),
  eastmoney: EastMoneyBrokerSchema.optional(),
  bridge: BridgeBrokerSchema.optional(),
  futu: FutuBrokerSchema.optional(),
});

const below = (threshold: number, what: string) => {
  const msg = `expected a whole number from 1 to ${threshold - 1}: the exchanges treat ${threshold} ${what} as high-frequency trading`;
  return z.int({ error: msg }).min(1, { error: msg }).max(threshold - 1, { error: msg });
};

/** `risk_control.program_trading`: the account's caps, kept below the exchanges' high-frequency thresholds. */
export const ProgramTradingSchema = z.strictObject({
  /** Default: on for market cn in paper and live mode, off otherwise (a backtest's clock is not the exchange's). */
  enabled: z.boolean().optional(),
  max_actions_per_second: below(HFT_THRESHOLDS.perSecond, 'orders + cancels a second').default(20),
  max_actions_per_day: below(HFT_THRESHOLDS.perDay, 'orders + cancels a day').default(5000),
});

/**
 * `risk_control.live_ramp`: live, each signature's capital in use (positions at cost + open buys)
 * is capped at `start_cap` on its first live trading day, growing by `growth_per_trading_day`
 * each trading day after, up to `max` (src/domain/risk/live-ramp.ts). Required for real money.
 */
export const LiveRampSchema = z
  .strictObject({
    start_cap: positiveAmount(),
    growth_per_trading_day: amount().default(0),
    max: positiveAmount(),
  })
  .superRefine((r, ctx) => {
    if (r.max < r.start_cap) ctx.addIssue({ code: 'custom', message: `expected at least start_cap (${r.start_cap})`, path: ['max'], input: r.max });
  });

export const RiskControlSchema = z.strictObject({
  max_single_position_ratio: ratio().default(0.3),
  max_daily_loss_ratio: ratio().default(0.05),
  /** Cash kept after every buy, fees included. Default per market (MARKET_DEFAULTS). */
  min_cash_reserve: amount().optional(),
  enable_stop_loss: z.boolean().default(true),
  stop_loss_ratio: ratio().default(0.08),
  /** Sell when the price is this fraction above cost (0.5 = +50%; may exceed 1). Off when absent. */
  take_profit_ratio: z
    .number({ error: 'expected a number greater than 0' })
    .gt(0, { error: 'expected a number greater than 0' })
    .optional(),
  /** Sell when the price falls this fraction below its high since the buy. Off when absent. */
  trailing_stop_ratio: ratio().optional(),
  max_order_notional: positiveAmount().optional(),
  /** Largest single order value as a multiple of the account's equity (1 = all of it). */
  max_order_notional_ratio: z.number({ error: 'expected a number > 0' }).gt(0, { error: 'expected a number > 0' }).default(1),
  max_orders_per_session: int(1).default(10),
  max_orders_per_minute: int(1).default(30),
  /** Same signature, side, symbol and size inside this window is refused as a duplicate. */
  duplicate_window_seconds: int(0).default(60),
  allow_symbols: symbolList(1).optional(),
  deny_symbols: symbolList(0).optional(),
  /** Live: the per-signature capital cap that ramps up from the first live trading day. */
  live_ramp: LiveRampSchema.optional(),
  /** China's program-trading rules: caps on the account's orders + cancels (src/domain/risk/program-trading.ts). */
  program_trading: ProgramTradingSchema.prefault({}),
});

export const ExecutionSchema = z.strictObject({
  /**
   * Orders made while the exchange is closed (the A-share 11:35 lunch-break and 15:05
   * post-close sessions). Default per market (MARKET_DEFAULTS): cn queues them for the next
   * open, as A-share brokers do; us refuses them.
   */
  orders_outside_hours: z.enum(['reject', 'queue_next_open']).optional(),
  /** A queued market order waits as a limit at the decision price +/- this ratio (src/domain/queued-orders.ts). */
  queued_limit_band: ratio().default(DEFAULT_QUEUED_LIMIT_BAND),
  /** An unfilled limit order is cancelled after this long. */
  limit_order_timeout_seconds: int(1).default(300),
  order_type: z.enum(['market', 'limit']).default('market'),
});

export const LlmAgentSchema = z.strictObject({
  kind: z.literal('llm'),
  /** Model name sent to the endpoint (gpt-5, deepseek-chat, ...). */
  basemodel: nonEmpty('a model name'),
  /** OpenAI-compatible endpoint, e.g. https://api.openai.com/v1. */
  base_url: httpUrl(),
  /** Env var holding the API key; absent = no key (a local server). */
  api_key_env: EnvNameSchema.optional(),
  temperature: z
    .number({ error: 'expected a number from 0 to 2' })
    .min(0, { error: 'expected a number from 0 to 2' })
    .max(2, { error: 'expected a number from 0 to 2' })
    .default(0),
  /** Overrides agent_config.max_steps. */
  max_steps: int(1).optional(),
  /** Overrides agent_config.max_retries. */
  max_retries: int(0).optional(),
  /** The model's decision must end within this many seconds, or the session holds. */
  deadline_seconds: int(1).default(120),
  /** Token budget per session; the session holds once spent. Unlimited when absent. */
  max_tokens_per_session: int(1).optional(),
  /** Cost budget per session, in the currency of the prices below; the session holds once spent. Unlimited when absent. */
  max_cost_per_session: positiveAmount().optional(),
  /** Price of 1M prompt (input) tokens, for the cost shown in transcripts and checked against max_cost_per_session. */
  input_cost_per_million: amount().optional(),
  /** Price of 1M completion (output) tokens. */
  output_cost_per_million: amount().optional(),
  /** The news/search tool (AI-Trader's get_information); off when absent. */
  search: z
    .strictObject({
      /** GET <url>?q=<query>, JSON answer (Jina's s.jina.ai, a SearxNG with format=json, ...). */
      url: httpUrl(),
      /** Env var holding the search API key (sent as a Bearer token). */
      api_key_env: EnvNameSchema.optional(),
      max_results: int(1).max(20, { error: 'expected at most 20 results' }).default(5),
      timeout_seconds: int(1).default(15),
    })
    .optional(),
  /** System prompt template file; default: the built-in one for the market (prompts/cn.md, prompts/us.md). */
  prompt_template: filePath().optional(),
});

export const RulesStrategySchema = z.enum(['equal_weight', 'momentum']);

export const RulesParamsSchema = z.strictObject({
  /** Universe; default: every symbol in the bars. */
  symbols: symbolList(1).optional(),
  /** momentum: bars of history the return is measured over. */
  lookback: int(1).default(5),
  /** momentum: how many of the best symbols are held. */
  top_n: int(1).default(5),
  /** Rebalance a position only when its weight is off target by more than this fraction. */
  rebalance_threshold: z
    .number({ error: 'expected a number >= 0 and < 1' })
    .min(0, { error: 'expected a number >= 0 and < 1' })
    .lt(1, { error: 'expected a number >= 0 and < 1' })
    .default(0.05),
});

export const RulesAgentSchema = z.strictObject({
  kind: z.literal('rules'),
  strategy: RulesStrategySchema.default('equal_weight'),
  params: RulesParamsSchema.prefault({}),
});

export const ReplayAgentSchema = z.strictObject({
  kind: z.literal('replay'),
  /** An AI-Trader position.jsonl (or one of our transcripts) to replay. */
  log_file: filePath(),
});

/** A strategy written in TypeScript (or JavaScript): a file exporting a `Strategy` (src/strategy.ts, docs/strategies.md). */
export const ModuleAgentSchema = z.strictObject({
  kind: z.literal('module'),
  /** The strategy file (.ts, .mts, .js, .mjs), relative to the config file. */
  path: filePath(),
  /** The export that holds the strategy. */
  export: z
    .string({ error: 'expected an export name like "default"' })
    .regex(/^[A-Za-z_$][\w$]*$/, { error: 'expected an export name like "default"' })
    .default('default'),
  /** Handed to the strategy as `ctx.params`, as written. */
  params: z.record(z.string(), z.unknown(), { error: 'expected an object of parameters' }).default({}),
  /** An async `onSession` (or hook) must settle within this many seconds (wall time), or the session holds (MODULE_TIMEOUT). */
  deadline_seconds: int(1).default(30),
});

export const AgentSpecSchema = z.discriminatedUnion('kind', [LlmAgentSchema, RulesAgentSchema, ReplayAgentSchema, ModuleAgentSchema]);

export const ModelSchema = z.strictObject({
  name: nonEmpty('a name'),
  /** Unique across models; names the account and its folder under state_dir. */
  signature: z.string({ error: SIGNATURE_MSG }).regex(SIGNATURE, { error: SIGNATURE_MSG }),
  enabled: z.boolean().default(true),
  /** Overrides agent_config.initial_cash for this model. */
  initial_cash: positiveAmount().optional(),
  agent: AgentSpecSchema,
});

export const AgentConfigSchema = z.strictObject({
  max_steps: int(1).default(30),
  max_retries: int(0).default(3),
  /** Retry back-off: base_delay_seconds * 2^attempt. */
  base_delay_seconds: z.number({ error: 'expected seconds >= 0' }).min(0, { error: 'expected seconds >= 0' }).default(1),
  /** Starting cash of each account. Default per market (MARKET_DEFAULTS). */
  initial_cash: positiveAmount().optional(),
  /** A whole session (fetch to record) must end within this many seconds. */
  session_deadline_seconds: int(1).default(300),
});

/** What the monitor watches and when (paper/live). */
export const MonitorSchema = z.strictObject({
  /** Heartbeats are checked this often (wall clock). */
  check_interval_seconds: int(1).default(5),
  /** The run clock not beating for this long (wall) is CLOCK_STALLED. */
  clock_stall_seconds: int(1).default(30),
  /** No quote for this long while the market is open is QUOTE_FEED_SILENT. Default: max(stale_quote_seconds, 60). */
  quote_silence_seconds: int(1).optional(),
  /** A session still running this long after its instant is SESSION_STUCK. Default: 2 x session_deadline_seconds + limit_order_timeout_seconds. */
  session_stuck_seconds: int(1).optional(),
  /** The ledger is compared with the broker this often (and at start, on reconnect, after each close). */
  position_sync_minutes: int(1).default(5),
  /** The daily report goes out this long after each close. */
  daily_report_delay_minutes: int(0).default(5),
});

/** Host names that listen on this machine only: localhost, 127.0.0.0/8, ::1. */
export const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

/** The process's HTTP port: event feed (WebSocket /feed), /health, /api/state, the dashboard. */
export const ServerSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: nonEmpty('a host name or IP address').default('127.0.0.1'),
  /** 0 = any free port (printed at start). */
  port: int(0).max(65_535, { error: 'expected a port from 0 to 65535' }).default(8765),
  /** NAME of the env var holding the token clients beyond loopback (and kill messages) must present. */
  token_env: EnvNameSchema.optional(),
  /** A heartbeat event goes out on the feed this often. */
  heartbeat_seconds: int(1).default(10),
});

export const LogSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  format: z.enum(['json', 'pretty']).default('pretty'),
  /** Also write logs to this file (JSON lines). */
  file: filePath().optional(),
});

/** Exchange calendars beyond the built-in tables (docs/calendar.md). */
export const CalendarSchema = z.strictObject({
  /** A JSON closure table adding years the built-in one lacks; checked against the years both have. */
  closures_file: filePath().optional(),
});

/** Backtest span, inclusive; either end may be left out (the bars file's first or last day). */
export const DateRangeSchema = z.strictObject({ from: DateSchema.optional(), to: DateSchema.optional() });

// ---------------------------------------------------------------------------
// The whole file

const ConfigObjectSchema = z
  .strictObject({
    /** Free text shown by `config show`; ignored otherwise. */
    description: z.string().optional(),
    mode: ModeSchema.default('backtest'),
    market: MarketSchema.default('cn'),
    frequency: FrequencySchema.default('daily'),
    schedule: ScheduleSchema.prefault({}),
    data_source: DataSourceSchema.prefault({}),
    broker: BrokerSchema.prefault({}),
    risk_control: RiskControlSchema.prefault({}),
    execution: ExecutionSchema.prefault({}),
    models: z
      .array(ModelSchema, { error: 'expected an array of models' })
      .min(1, { error: 'expected at least one model' }),
    agent_config: AgentConfigSchema.prefault({}),
    /** Snapshots, journals, <signature>/position.jsonl. */
    state_dir: filePath().default('state'),
    server: ServerSchema.prefault({}),
    monitor: MonitorSchema.prefault({}),
    /** Where alerts go to people (WeCom, DingTalk, Feishu, email, a webhook). */
    alerts: AlertsSchema.prefault({}),
    log: LogSchema.prefault({}),
    calendar: CalendarSchema.prefault({}),
    /** Backtest span (inclusive); default: the whole bars file. */
    date_range: DateRangeSchema.optional(),
  })
  // Cross-field rules. `when` makes them run even when other fields failed, so every
  // problem is reported at once; they therefore read the value defensively.
  .superRefine((value, ctx) => crossCheck(value as unknown as Loose, ctx), { when: () => true });

/** Alpaca's trading hosts: the paper account's and the real-money one. */
export const ALPACA_HOSTS = { paper: 'paper-api.alpaca.markets', live: 'api.alpaca.markets' } as const;

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

type Loose = { [key: string]: unknown };
const obj = (v: unknown): Loose | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Loose) : undefined;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

interface IssueSink {
  addIssue(issue: { code: 'custom'; message: string; path: PropertyKey[]; input: unknown; params?: Record<string, unknown> }): void;
}

function crossCheck(c: Loose | undefined, ctx: IssueSink): void {
  if (!c) return;
  /** `note` is appended after the value; `got` replaces the rendered value (see errors.ts). */
  const add = (path: PropertyKey[], message: string, input: unknown, params?: { note?: string; got?: string }) =>
    ctx.addIssue({ code: 'custom', message, path, input, ...(params ? { params } : {}) });

  // Signatures name folders beside the run's own entries: unique across models, ignoring case
  // (macOS and Windows file systems do), and none of the names the run directory uses.
  const models = arr(c['models']);
  const firstIndex = new Map<string, { i: number; sig: string }>();
  models.forEach((m, i) => {
    const sig = obj(m)?.['signature'];
    if (typeof sig !== 'string') return;
    if (RUN_DIR_ENTRIES.includes(sig.toLowerCase())) {
      add(['models', i, 'signature'], `expected a signature that is not a name the run directory uses (${RUN_DIR_ENTRIES.join(', ')})`, sig);
      return;
    }
    const first = firstIndex.get(sig.toLowerCase());
    if (first === undefined) firstIndex.set(sig.toLowerCase(), { i, sig });
    else add(['models', i, 'signature'], 'expected a unique signature', sig, { note: `already used by models[${first.i}]${first.sig === sig ? '' : `, as ${JSON.stringify(first.sig)}: folder names ignore case on some systems`}` });
  });
  if (models.length > 0 && models.every((m) => obj(m)?.['enabled'] === false)) {
    add(['models'], 'expected at least one enabled model', undefined, { got: `${models.length} disabled` });
  }

  const mode = c['mode'];
  const broker = obj(c['broker']);
  if (broker) {
    if (mode === 'live' && broker['type'] === 'simulated') {
      add(['broker', 'type'], 'expected a real broker (alpaca, futu, bridge, eastmoney) in live mode', broker['type']);
    }
    // The A-share venues trade A-shares only: a config of another market on them is a mistake.
    const brokerMarket = BROKER_MARKETS[String(broker['type'])];
    if (brokerMarket && c['market'] !== undefined && c['market'] !== brokerMarket) {
      add(['broker', 'type'], `expected market ${brokerMarket} with broker.type ${String(broker['type'])} (it trades ${MARKET_WORDS[brokerMarket] ?? brokerMarket} only)`, broker['type'], { got: `market ${String(c['market'])}` });
    }
    // The bridge and EastMoney trade the broker account itself: there is no paper account to say `paper: true` of.
    if (mode === 'live' && NO_PAPER_ACCOUNT.has(String(broker['type'])) && broker['paper'] !== false) {
      add(['broker', 'paper'], `expected false with broker.type ${String(broker['type'])}: it has no paper account, every order is real money (rehearse in paper mode on the simulated broker)`, broker['paper'] ?? true);
    }
    if (mode !== 'live' && broker['paper'] === false) {
      add(['broker', 'paper'], `expected true in ${String(mode)} mode (only live mode may use a real-money account)`, false);
    }
    // Real money starts small: the capital ramp is not optional there.
    if (mode === 'live' && broker['paper'] === false && (broker['type'] ?? 'simulated') !== 'simulated' && obj(c['risk_control'])?.['live_ramp'] === undefined) {
      add(['risk_control', 'live_ramp'], 'expected a capital ramp ({ "start_cap", "growth_per_trading_day", "max" }) when broker.paper is false: real money starts small', undefined);
    }
    // Futu's trading market must be the config's: A-shares through CN or Stock Connect (HKCC), US through US.
    const futu = obj(broker['futu']);
    if (broker['type'] === 'futu' && futu && typeof futu['trd_market'] === 'string' && typeof c['market'] === 'string') {
      const allowed = FUTU_MARKETS[c['market']] ?? [];
      if (!allowed.includes(futu['trd_market'])) add(['broker', 'futu', 'trd_market'], `expected ${allowed.join(' or ')} for market ${c['market']}`, futu['trd_market']);
    }
    if (broker['type'] === 'alpaca') {
      // A config that says paper but points at the real-money endpoint (or the reverse) is a
      // mistake either way; other hosts (a proxy, a local fake) are the user's to choose.
      const host = typeof broker['base_url'] === 'string' ? hostOf(broker['base_url']) : undefined;
      const paper = broker['paper'] !== false;
      if (paper && host === ALPACA_HOSTS.live) {
        add(['broker', 'base_url'], `expected Alpaca's paper endpoint (https://${ALPACA_HOSTS.paper}) when broker.paper is true: ${ALPACA_HOSTS.live} trades real money`, broker['base_url']);
      }
      if (!paper && host === ALPACA_HOSTS.paper) {
        add(['broker', 'paper'], `expected true: broker.base_url is Alpaca's paper endpoint (${ALPACA_HOSTS.paper})`, false);
      }
      if (broker['api_key_env'] === undefined) {
        add(['broker', 'api_key_env'], 'expected the name of the environment variable holding the Alpaca key id', undefined);
      }
      if (broker['api_secret_env'] === undefined) {
        add(['broker', 'api_secret_env'], 'expected the name of the environment variable holding the Alpaca secret key', undefined);
      }
    }
  }

  const ds = obj(c['data_source']);
  if (ds) {
    const fallback = arr(ds['fallback']);
    fallback.forEach((t, i) => {
      if (t === ds['type']) add(['data_source', 'fallback', i], 'expected a source other than data_source.type', t);
      else if (fallback.indexOf(t) !== i) add(['data_source', 'fallback', i], 'expected each source once', t);
    });
    if ((ds['type'] === 'tushare' || fallback.includes('tushare')) && ds['token_env'] === undefined) {
      add(['data_source', 'token_env'], 'expected the name of the environment variable holding the Tushare token', undefined);
    }
    if (ds['type'] === 'alpaca') {
      if (ds['key_env'] === undefined) add(['data_source', 'key_env'], 'expected the name of the environment variable holding the Alpaca key id', undefined);
      if (ds['secret_env'] === undefined) add(['data_source', 'secret_env'], 'expected the name of the environment variable holding the Alpaca secret key', undefined);
    }
    const type = ds['type'] ?? 'file';
    const brokerType = String(broker?.['type'] ?? 'simulated');
    // The broker's own feed: only a broker that streams quotes has one.
    const brokerQuotes = (QUOTING_BROKERS as readonly string[]).includes(brokerType);
    if (type === 'broker' && !brokerQuotes) {
      add(['data_source', 'type'], `expected broker.type ${QUOTING_BROKERS.join(' or ')} with data_source.type broker (the broker's own quotes: Futu OpenD's pushes)`, type, { got: `"broker" with broker.type ${brokerType}` });
    }
    if ((mode === 'paper' || mode === 'live') && type === 'file') {
      add(['data_source', 'type'], `expected a live quote source in ${String(mode)} mode (alpaca, sina, tencent, eastmoney, akshare, tushare, replay, or broker with broker.type futu)`, type);
    }
    const CN_ONLY = ['sina', 'tencent', 'eastmoney', 'akshare', 'tushare'];
    const market = c['market'] ?? 'cn';
    for (const [i, t] of [type, ...fallback].entries()) {
      const path = i === 0 ? ['data_source', 'type'] : ['data_source', 'fallback', i - 1];
      if (market === 'us' && CN_ONLY.includes(String(t))) add(path, 'expected a US source (alpaca or replay) for market us', t);
      if (market === 'cn' && t === 'alpaca') add(path, 'expected an A-share source (sina, tencent, eastmoney, akshare, tushare or replay) for market cn', t);
    }
    if (type === 'replay' && ds['replay_url'] === undefined && ds['bars_file'] === undefined) {
      add(['data_source', 'bars_file'], 'expected the bars the built-in replay server serves (or data_source.replay_url of a running one)', undefined);
    }
  }

  // Beyond loopback the feed and /api admit token holders only (src/server/auth.ts): listening
  // there without a token is a mistake either way (README: "anything but loopback needs token_env").
  const server = obj(c['server']);
  const host = server?.['host'] ?? '127.0.0.1';
  if (server?.['enabled'] !== false && typeof host === 'string' && host !== '' && !LOOPBACK_HOST.test(host) && server?.['token_env'] === undefined) {
    add(['server', 'token_env'], `expected the name of the environment variable holding the feed token: server.host ${JSON.stringify(host)} is beyond loopback`, undefined);
  }

  const range = obj(c['date_range']);
  const from = range?.['from'];
  const to = range?.['to'];
  if (isRealDate(from) && isRealDate(to) && from > to) {
    add(['date_range', 'to'], `expected a date on or after from (${from})`, to);
  }

  // Symbols must have the market's shape (catches a US config pointed at A-shares).
  const market = c['market'];
  if (market === 'cn' || market === 'us') {
    const { re, example } = SYMBOL_PATTERNS[market];
    const checkList = (path: PropertyKey[], list: unknown) =>
      arr(list).forEach((s, i) => {
        if (typeof s === 'string' && s !== '' && !re.test(s)) {
          add([...path, i], `expected a ${market} symbol like ${example}`, s);
        }
      });
    const risk = obj(c['risk_control']);
    checkList(['risk_control', 'allow_symbols'], risk?.['allow_symbols']);
    checkList(['risk_control', 'deny_symbols'], risk?.['deny_symbols']);
    models.forEach((m, i) => {
      const params = obj(obj(obj(m)?.['agent'])?.['params']);
      checkList(['models', i, 'agent', 'params', 'symbols'], params?.['symbols']);
    });
  }
}

/**
 * Fill in what depends on the market and what models inherit from agent_config;
 * sort the trigger times. Keys keep the schema's order (for `config show`).
 */
function resolveDefaults(c: z.output<typeof ConfigObjectSchema>) {
  const defaults = MARKET_DEFAULTS[c.market];
  const { schedule: s, risk_control: risk, agent_config: ac } = c;
  const { max_single_position_ratio, max_daily_loss_ratio, min_cash_reserve, ...riskRest } = risk;
  const { max_steps, max_retries, base_delay_seconds, initial_cash, ...acRest } = ac;
  const { orders_outside_hours, ...execRest } = c.execution;
  const agent_config = {
    max_steps,
    max_retries,
    base_delay_seconds,
    initial_cash: initial_cash ?? defaults.initial_cash,
    ...acRest,
  };
  return {
    ...c,
    schedule: {
      trigger_time: s.trigger_time,
      trigger_times: [...(s.trigger_times ?? defaults.trigger_times)].sort(),
      timezone: s.timezone ?? MARKETS[c.market].zone,
      close_grace_minutes: s.close_grace_minutes ?? defaults.close_grace_minutes,
      catch_up_window_seconds: s.catch_up_window_seconds,
    },
    risk_control: {
      max_single_position_ratio,
      max_daily_loss_ratio,
      min_cash_reserve: min_cash_reserve ?? defaults.min_cash_reserve,
      ...riskRest,
    },
    execution: {
      orders_outside_hours: orders_outside_hours ?? (defaults.orders_outside_hours as 'reject' | 'queue_next_open'),
      ...execRest,
    },
    agent_config,
    models: c.models.map(({ initial_cash: cash, agent, ...model }) => ({
      ...model,
      initial_cash: cash ?? agent_config.initial_cash,
      agent: resolveAgent(agent, agent_config),
    })),
  };
}

function resolveAgent(agent: z.output<typeof AgentSpecSchema>, ac: z.output<typeof AgentConfigSchema>) {
  if (agent.kind !== 'llm') return agent;
  return { ...agent, max_steps: agent.max_steps ?? ac.max_steps, max_retries: agent.max_retries ?? ac.max_retries };
}

/**
 * The config file's schema. Parse with `parseConfig` (./load.ts) to get readable
 * errors; `ConfigSchema.parse` works too but its messages are not formatted.
 */
export const ConfigSchema = ConfigObjectSchema.transform(resolveDefaults);

/** What a config file may contain (defaults optional). */
export type ConfigInput = z.input<typeof ConfigSchema>;
/** A parsed config with every default, market-dependent ones included, filled in. */
export type Config = z.output<typeof ConfigSchema>;

export type Mode = Config['mode'];
export type ScheduleConfig = Config['schedule'];
export type DataSourceConfig = Config['data_source'];
export type DataSourceType = DataSourceConfig['type'];
export type BrokerConfig = Config['broker'];
export type BrokerType = BrokerConfig['type'];
export type BrokerRules = BrokerConfig['rules'];
export type FeesConfig = BrokerConfig['fees'];
export type CnFees = FeesConfig['cn'];
export type UsFees = FeesConfig['us'];
export type RiskControlConfig = Config['risk_control'];
export type ExecutionConfig = Config['execution'];
/** One entry of `models`: an agent with its own account, `initial_cash` resolved. */
export type ModelConfig = Config['models'][number];
/** The `agent_config` section: defaults shared by all agents. */
export type AgentConfig = Config['agent_config'];
/** A model's `agent`: what decides (llm, rules, replay or module), llm max_steps/max_retries resolved. */
export type AgentSpec = ModelConfig['agent'];
export type LlmAgentSpec = Extract<AgentSpec, { kind: 'llm' }>;
export type RulesAgentSpec = Extract<AgentSpec, { kind: 'rules' }>;
export type ReplayAgentSpec = Extract<AgentSpec, { kind: 'replay' }>;
export type ModuleAgentSpec = Extract<AgentSpec, { kind: 'module' }>;
export type RulesStrategy = RulesAgentSpec['strategy'];
export type LogConfig = Config['log'];
export type CalendarConfig = Config['calendar'];
export type ServerConfig = Config['server'];
export type MonitorConfig = Config['monitor'];
export type { AlertsConfig } from './alerts-schema.js';
export type DateRange = NonNullable<Config['date_range']>;

/**
 * The replay server: one trading day of historical bars served as a live feed over the
 * Alpaca market-data v2 WebSocket protocol, with market time compressed `speed` times, so
 * paper trading, demos and tests run on real data at any hour with the real client
 * (src/streams/alpaca-quotes.ts) or any Alpaca client.
 *
 * Protocol, as Alpaca's (frames are JSON arrays of events):
 *   server  [{"T":"success","msg":"connected"}, {"T":"replay_clock",...}]
 *   client  {"action":"auth","key":...,"secret":...}       any key, unless `key`/`secret` are set (402 otherwise)
 *   client  {"action":"subscribe","trades":["AAPL"],"bars":["*"]}  (401 before auth; "unsubscribe" too)
 *   server  [{"T":"subscription","trades":["AAPL"],"quotes":[],"bars":["*"]}]
 *   server  [{"T":"t","S":"AAPL","p":271.0884,"s":2769498,"t":"2025-10-30T19:00:00.000Z","i":7,"x":"V","c":[],"z":"C"}, ...]
 *   server  [{"T":"b","S":"AAPL","o":271.0884,"h":271.5979,"l":270.7337,"c":271.1184,"v":11077995,"t":"2025-10-30T19:00:00.000Z"}]
 * - Each bar becomes trades along open -> high/low -> close: the open at its start, then the
 *   extreme nearer the open at 1/3 of the bar and the other at 2/3, the close at its end, each
 *   with a quarter of the volume (the last gets the remainder); at its end also the bar event
 *   (`t` = the bar's start, as Alpaca stamps bars). An open-only bar (AI-Trader's latest) gives
 *   its open trade only, size 0 (unknown). Prices are the file's decimals written as JSON
 *   numbers digit for digit. Trades go to clients subscribed to their symbol's trades, bars to
 *   those subscribed to its bars (`*` = all); quote subscriptions are acknowledged, never fed
 *   (bars carry no bid/ask).
 * - Order, as in src/streams/bar-quotes.ts: by instant; at an instant where one bar ends and
 *   the next starts, the ending bar's close and bar event come before the new open; then by symbol.
 * - Time: a market clock `marketMs = startMarketMs + floor((wallMs - startWallMs) * speed)` on
 *   the injected scheduler (its `now()` is the only wall clock read). It starts `leadMs` (5 market
 *   minutes) before the open, so a client can connect and subscribe; with `waitForSubscriber` it
 *   holds there until the first subscription. An event is sent when the market clock reaches
 *   its instant, never before (no look-ahead): the server wakes at the first wall millisecond
 *   whose market time is at or past the next event, and sends everything due in one frame per client.
 * - Market time is announced with `{"T":"replay_clock","t":<market time, RFC-3339 with the
 *   exchange offset>,"speed":N,"day":"YYYY-MM-DD","state":"pre"|"open"|"closed"}` in the greeting,
 *   on every state change and every `clockEveryMs` of market time (default a market minute, at
 *   most one a wall second). A real Alpaca client ignores the unknown type. `state` is `pre`
 *   before the calendar's open, `open` until the last bar's end, `closed` after; the server
 *   stays up after the close unless `exitAtEnd`. Market time ends with the replayed day: at its
 *   last millisecond (23:59:59.999 in the exchange's zone) the clock stops, is announced once
 *   more, and stays there.
 * - A client whose send buffer passes 32 MiB gets Alpaca's 407 `slow client` and is dropped.
 * - The key and secret are compared, never logged or echoed.
 */
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import type { PriceBar } from '../domain/bars.js';
import { tradingDay } from '../domain/calendar/index.js';
import { MAX_TIMER_MS } from '../domain/clock-events.js';
import { InputError } from '../domain/errors.js';
import { MARKETS, type Market } from '../domain/markets.js';
import type { Dec } from '../domain/money.js';
import type { PriceStore } from '../domain/price-store.js';
import { REPLAY_CLOCK_EVENT, type ReplayClockEvent, type ReplayState } from '../streams/replay-clock.js';

export interface ReplayServerOptions {
  readonly prices: PriceStore;
  /** Trading day to replay, YYYY-MM-DD in the exchange's zone; default the last full day of the file. */
  readonly date?: string;
  /** Market ms per wall ms: 60 = a market hour per wall minute. */
  readonly speed: number;
  /** Default 0: any free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Wall time and timers; default the real async scheduler. */
  readonly scheduler?: SchedulerLike;
  /** Symbols to replay; default every symbol of the store (all of one market). */
  readonly symbols?: readonly string[];
  /** When both are set, clients must authenticate with them; otherwise any key is accepted. */
  readonly key?: string;
  readonly secret?: string;
  /** Market time the clock starts before the open; default 5 minutes. */
  readonly leadMs?: number;
  /**
   * Resume the day's market clock at this instant (epoch ms) instead of before the open: a
   * paper run restarted on its state goes on from its last session, never back in time.
   * The day's earlier trades are sent at once when the clock starts (prices up to date).
   */
  readonly resumeFromMs?: number;
  /** Market time between clock announcements; default max(1 market minute, 1 wall second). */
  readonly clockEveryMs?: number;
  /** Hold the market clock at its start until a client subscribes. Default false. */
  readonly waitForSubscriber?: boolean;
  /** Close the server once the replayed day is over. Default false. */
  readonly exitAtEnd?: boolean;
  /** How long close() waits for clients to answer the close before dropping them; default 1 000 wall ms. */
  readonly closeTimeoutMs?: number;
  /** Progress lines for people (never a secret). */
  readonly log?: (line: string) => void;
}

export interface ReplayServer {
  /** ws://host:port/v2/replay */
  readonly url: string;
  readonly port: number;
  readonly market: Market;
  readonly day: string;
  readonly speed: number;
  readonly symbols: readonly string[];
  /** The replayed market time now, in the exchange's zone. */
  marketNow(): DateTime;
  state(): ReplayState;
  /** Stop the clock, close every client (1001) and the listening socket. Idempotent. */
  close(): Promise<void>;
  /** Resolves once the day is over (everything sent, state `closed`), or on close(). */
  readonly done: Promise<void>;
}

/** One event of the replayed day. */
export interface ReplayEvent {
  /** Market instant it is sent at, epoch ms. */
  readonly atMs: number;
  readonly kind: 'trade' | 'bar';
  readonly symbol: string;
  /** The event as sent (JSON text, prices written exactly). */
  readonly json: string;
}

/** What a day's replay sends, in order (pure; `startReplayServer` puts it on the clock). */
export interface ReplayDay {
  readonly market: Market;
  readonly zone: string;
  readonly day: string;
  readonly symbols: readonly string[];
  /** The session's open (exchange calendar; the first bar's start if earlier or unknown), epoch ms. */
  readonly openMs: number;
  /** The last bar's end, epoch ms: `closed` from here. */
  readonly endMs: number;
  readonly events: readonly ReplayEvent[];
  readonly bars: number;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const SLOW_CLIENT_BYTES = 32 * 1024 * 1024;
const PATH = '/v2/replay';

/** Every bar of a symbol, the open-only last one included, oldest first. */
function allBars(prices: PriceStore, symbol: string): PriceBar[] {
  const range = prices.range();
  if (!range) return [];
  const bars: PriceBar[] = prices.barsAsOf(symbol, range.last);
  const latest = prices.priceAsOf(symbol, range.last);
  if (latest && !latest.bar.complete) bars.push(latest.bar);
  return bars;
}

const utc = (ms: number): string => new Date(ms).toISOString();
const num = (d: Dec): string => d.toFixed();

interface Draft {
  readonly atMs: number;
  /** At one instant: an ending bar's close (0) and bar event (1) before a starting bar's trades (2). */
  readonly rank: number;
  readonly symbol: string;
  readonly kind: 'trade' | 'bar';
  readonly json: (id: number) => string;
}

function barDrafts(bar: PriceBar): Draft[] {
  const S = JSON.stringify(bar.symbol);
  const trade = (atMs: number, rank: number, price: Dec, size: string): Draft => ({
    atMs,
    rank,
    symbol: bar.symbol,
    kind: 'trade',
    json: (id) => `{"T":"t","S":${S},"p":${num(price)},"s":${size},"t":"${utc(atMs)}","i":${id},"x":"V","c":[],"z":"C"}`,
  });
  const startMs = bar.start.toMillis();
  if (!bar.complete) return [trade(startMs, 2, bar.open, '0')];
  const endMs = bar.end.toMillis();
  const third = Math.floor((endMs - startMs) / 3);
  // The extreme nearer the open is reached first: the shorter path through both.
  const highFirst = bar.high.minus(bar.open).abs().lte(bar.open.minus(bar.low).abs());
  const [first, second] = highFirst ? [bar.high, bar.low] : [bar.low, bar.high];
  const quarter = bar.volume.dividedToIntegerBy(4);
  const rest = bar.volume.minus(quarter.times(3));
  return [
    trade(startMs, 2, bar.open, num(quarter)),
    trade(startMs + third, 2, first, num(quarter)),
    trade(startMs + 2 * third, 2, second, num(quarter)),
    trade(endMs, 0, bar.close, num(rest)),
    {
      atMs: endMs,
      rank: 1,
      symbol: bar.symbol,
      kind: 'bar',
      json: () =>
        `{"T":"b","S":${S},"o":${num(bar.open)},"h":${num(bar.high)},"l":${num(bar.low)},"c":${num(bar.close)},"v":${num(bar.volume)},"t":"${utc(startMs)}"}`,
    },
  ];
}

/**
 * The events of one day: the given date, or the last day on which every bar of the chosen
 * symbols is complete. InputError for unknown symbols, symbols of two markets, a malformed
 * date or one without bars.
 */
export function planReplayDay(prices: PriceStore, options: { readonly date?: string; readonly symbols?: readonly string[] } = {}): ReplayDay {
  const symbols = [...(options.symbols ?? prices.symbols())].sort();
  if (symbols.length === 0) throw new InputError('the price file has no symbols to replay');
  const unknown = symbols.filter((s) => !prices.has(s));
  if (unknown.length > 0) throw new InputError(`no bars for ${unknown.join(', ')}; the price file has ${prices.symbols().join(', ')}`);
  const markets = new Set(symbols.map((s) => prices.market(s)!));
  if (markets.size > 1) throw new InputError(`the symbols belong to two markets (${[...markets].join(', ')}); replay one market at a time`);
  const market = [...markets][0]!;
  const zone = MARKETS[market].zone;

  const byDay = new Map<string, { bars: PriceBar[]; full: boolean }>();
  for (const s of symbols) {
    for (const bar of allBars(prices, s)) {
      const d = bar.start.setZone(zone).toISODate()!;
      let entry = byDay.get(d);
      if (!entry) byDay.set(d, (entry = { bars: [], full: true }));
      entry.bars.push(bar);
      if (!bar.complete) entry.full = false;
    }
  }
  const days = [...byDay.keys()].sort();
  const span = days.length > 0 ? `${days[0]} .. ${days[days.length - 1]}` : 'nothing';
  let day: string;
  if (options.date !== undefined) {
    if (!DATE_RE.test(options.date) || !DateTime.fromISO(options.date, { zone }).isValid) {
      throw new InputError(`invalid date ${JSON.stringify(options.date)}: expected YYYY-MM-DD`);
    }
    if (!byDay.has(options.date)) throw new InputError(`no bars on ${options.date} (${zone}); the price file covers ${span}`);
    day = options.date;
  } else {
    const full = days.filter((d) => byDay.get(d)!.full);
    if (full.length === 0) throw new InputError(`no complete trading day in the price file (it covers ${span}); pick one with a date`);
    day = full[full.length - 1]!;
  }

  const bars = byDay.get(day)!.bars;
  const drafts = bars.flatMap(barDrafts);
  drafts.sort((a, b) => a.atMs - b.atMs || a.rank - b.rank || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  let id = 0;
  const events = drafts.map((d) => ({ atMs: d.atMs, kind: d.kind, symbol: d.symbol, json: d.json(d.kind === 'trade' ? ++id : 0) }));
  const firstMs = events[0]!.atMs;
  let calendarOpen: number | undefined;
  try {
    calendarOpen = tradingDay(market, day)?.open.toMillis();
  } catch {
    calendarOpen = undefined; // a year the calendar does not cover: the bars say when trading starts
  }
  const openMs = Math.min(calendarOpen ?? firstMs, firstMs);
  const endMs = Math.max(...bars.map((b) => b.end.toMillis()));
  return { market, zone, day, symbols, openMs, endMs, events, bars: bars.length };
}

interface Client {
  readonly n: number;
  readonly ws: WebSocket;
  authenticated: boolean;
  readonly trades: Set<string>;
  readonly quotes: Set<string>;
  readonly bars: Set<string>;
}

const wants = (set: ReadonlySet<string>, symbol: string): boolean => set.has(symbol) || set.has('*');

/** Start serving the day; resolves once listening. InputError for bad options or a busy port. */
export async function startReplayServer(options: ReplayServerOptions): Promise<ReplayServer> {
  const { speed } = options;
  if (!(Number.isFinite(speed) && speed > 0)) throw new InputError(`speed must be a positive number, got ${speed}`);
  const leadMs = options.leadMs ?? 5 * 60_000;
  if (!(Number.isFinite(leadMs) && leadMs >= 0)) throw new InputError(`lead time must be >= 0 ms, got ${leadMs}`);
  const clockEveryMs = options.clockEveryMs ?? Math.max(60_000, speed * 1_000);
  if (!(clockEveryMs > 0)) throw new InputError(`clockEveryMs must be > 0, got ${clockEveryMs}`);
  if ((options.key === undefined) !== (options.secret === undefined)) throw new InputError('give both a key and a secret, or neither');
  const plan = planReplayDay(options.prices, { ...(options.date !== undefined ? { date: options.date } : {}), ...(options.symbols ? { symbols: options.symbols } : {}) });
  const host = options.host ?? '127.0.0.1';
  const wss = new WebSocketServer({ host, port: options.port ?? 0, maxPayload: 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new InputError(`port ${options.port} on ${host} is in use; pick another with --port (0 = any free port)`));
      else if (err.code === 'EACCES') reject(new InputError(`no permission to listen on ${host}:${options.port}; use a port above 1023`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new InputError(`cannot listen on host ${host}: ${err.message}`));
      else reject(err);
    });
  });
  return new Replay(wss, plan, options, leadMs, clockEveryMs);
}

class Replay implements ReplayServer {
  readonly url: string;
  readonly port: number;
  readonly market: Market;
  readonly day: string;
  readonly speed: number;
  readonly symbols: readonly string[];
  readonly done: Promise<void>;
  readonly #wss: WebSocketServer;
  readonly #plan: ReplayDay;
  readonly #scheduler: SchedulerLike;
  readonly #options: ReplayServerOptions;
  readonly #clockEveryMs: number;
  readonly #startMarketMs: number;
  readonly #clients = new Set<Client>();
  readonly #log: (line: string) => void;
  readonly #barEnds: number;
  #barEndsSent = 0;
  #clientCount = 0;
  /** Undefined while the clock is held. */
  #startWallMs: number | undefined;
  #loop: Subscription | undefined;
  #next = 0;
  #nextClockMs: number;
  #lastState: ReplayState | undefined;
  #ended = false;
  readonly #dayEndMs: number;
  #endAnnounced = false;
  #resolveDone!: () => void;
  #closing: Promise<void> | undefined;

  constructor(wss: WebSocketServer, plan: ReplayDay, options: ReplayServerOptions, leadMs: number, clockEveryMs: number) {
    this.#wss = wss;
    this.#plan = plan;
    this.#options = options;
    this.#scheduler = options.scheduler ?? asyncScheduler;
    this.#clockEveryMs = clockEveryMs;
    this.#log = options.log ?? (() => undefined);
    const dayStart = Math.min(plan.openMs - leadMs, plan.events[0]!.atMs);
    const resume = options.resumeFromMs;
    this.#startMarketMs = resume !== undefined && resume > dayStart && resume < plan.endMs ? resume : dayStart;
    this.#nextClockMs = this.#startMarketMs;
    this.#dayEndMs = DateTime.fromISO(plan.day, { zone: plan.zone }).endOf('day').toMillis();
    this.#barEnds = new Set(plan.events.filter((e) => e.kind === 'bar').map((e) => e.atMs)).size;
    this.done = new Promise<void>((resolve) => (this.#resolveDone = resolve));
    const address = wss.address() as AddressInfo;
    this.port = address.port;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `ws://${host}:${address.port}${PATH}`;
    this.market = plan.market;
    this.day = plan.day;
    this.speed = options.speed;
    this.symbols = plan.symbols;
    wss.on('connection', (ws) => this.#onConnection(ws));
    this.#log(
      `replaying ${plan.day} (${plan.market}, ${plan.symbols.length} symbols, ${plan.bars} bars, ${plan.events.length} events) at ${this.speed}x on ${this.url}; ` +
        `market clock starts ${this.#fmt(this.#startMarketMs)}${options.waitForSubscriber ? ' once a client subscribes' : ''}`,
    );
    if (!options.waitForSubscriber) this.#startClock();
  }

  marketNow(): DateTime {
    return DateTime.fromMillis(this.#marketMs(), { zone: this.#plan.zone });
  }

  state(): ReplayState {
    return this.#stateAt(this.#marketMs());
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#loop?.unsubscribe();
    this.#loop = undefined;
    this.#end();
    const clients = [...this.#clients];
    this.#closing = (async () => {
      await Promise.all(
        clients.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.ws.readyState === c.ws.CLOSED) return resolve();
              const timer = this.#scheduler.schedule(() => c.ws.terminate(), this.#options.closeTimeoutMs ?? 1_000);
              c.ws.once('close', () => {
                timer.unsubscribe();
                resolve();
              });
              c.ws.close(1001, 'replay server closing');
            }),
        ),
      );
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
      this.#log('closed');
    })();
    return this.#closing;
  }

  // -------------------------------------------------------------------------------------
  // The market clock

  #marketMs(): number {
    if (this.#startWallMs === undefined) return this.#startMarketMs;
    return Math.min(this.#dayEndMs, this.#startMarketMs + Math.floor((this.#scheduler.now() - this.#startWallMs) * this.speed));
  }

  /** The first wall instant whose market time is at or past `marketMs`. */
  #wallAt(marketMs: number): number {
    return this.#startWallMs! + Math.ceil((marketMs - this.#startMarketMs) / this.speed);
  }

  #stateAt(marketMs: number): ReplayState {
    return marketMs < this.#plan.openMs ? 'pre' : marketMs < this.#plan.endMs ? 'open' : 'closed';
  }

  #fmt(ms: number): string {
    return DateTime.fromMillis(ms, { zone: this.#plan.zone }).toFormat('yyyy-LL-dd HH:mm:ss ZZ');
  }

  #startClock(): void {
    if (this.#startWallMs !== undefined || this.#closing) return;
    this.#startWallMs = this.#scheduler.now();
    this.#wake(0);
  }

  // A fresh action per wake-up: a rescheduled VirtualAction chains onto the previous one,
  // and a day of wake-ups in virtual time would make that chain deep enough to overflow.
  #wake(delayMs: number): void {
    this.#loop = this.#scheduler.schedule(() => {
      const nextMarketMs = this.#tick();
      // At most what a Node timer holds (a slow replay): waking early sends nothing and waits again.
      if (nextMarketMs !== undefined && !this.#closing) this.#wake(Math.min(MAX_TIMER_MS, Math.max(1, this.#wallAt(nextMarketMs) - this.#scheduler.now())));
    }, delayMs);
  }

  /** Send what is due; the market instant to wake up at next, or undefined to stop. */
  #tick(): number | undefined {
    const now = this.#marketMs();
    const events = this.#plan.events;
    const frames = new Map<Client, string[]>();
    const add = (c: Client, json: string) => {
      const parts = frames.get(c);
      if (parts) parts.push(json);
      else frames.set(c, [json]);
    };
    let barsAt: number | undefined;
    while (this.#next < events.length && events[this.#next]!.atMs <= now) {
      const e = events[this.#next++]!;
      if (e.kind === 'bar') barsAt = e.atMs;
      for (const c of this.#clients) {
        if (c.authenticated && wants(e.kind === 'trade' ? c.trades : c.bars, e.symbol)) add(c, e.json);
      }
    }
    const state = this.#stateAt(now);
    const changed = state !== this.#lastState;
    const atEnd = now >= this.#dayEndMs && !this.#endAnnounced;
    if (atEnd) this.#endAnnounced = true;
    if (changed || atEnd || now >= this.#nextClockMs) {
      const clock = this.#clockJson(now);
      for (const c of this.#clients) if (c.authenticated) add(c, clock);
      this.#nextClockMs = this.#startMarketMs + (Math.floor((now - this.#startMarketMs) / this.#clockEveryMs) + 1) * this.#clockEveryMs;
    }
    for (const [c, parts] of frames) this.#send(c, `[${parts.join(',')}]`);
    if (barsAt !== undefined) {
      this.#barEndsSent++;
      this.#log(`${this.#fmt(barsAt)}: bars done (${this.#barEndsSent}/${this.#barEnds})`);
    }
    if (changed) {
      this.#lastState = state;
      this.#log(`${this.#fmt(now)}: market ${state}`);
    }
    if (this.#next >= events.length && state === 'closed' && !this.#ended) {
      this.#log(`replay of ${this.day} finished: ${events.filter((e) => e.kind === 'trade').length} trades, ${this.#plan.bars} bars`);
      this.#end();
      if (this.#options.exitAtEnd) {
        void this.close();
        return undefined;
      }
    }
    if (this.#endAnnounced) return undefined; // the day is over: market time stands at its end
    const boundary = now < this.#plan.openMs ? this.#plan.openMs : now < this.#plan.endMs ? this.#plan.endMs : this.#dayEndMs;
    return Math.min(events[this.#next]?.atMs ?? Infinity, this.#nextClockMs, boundary);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#resolveDone();
  }

  #clockJson(marketMs: number): string {
    const event: ReplayClockEvent = {
      T: REPLAY_CLOCK_EVENT,
      t: DateTime.fromMillis(marketMs, { zone: this.#plan.zone }).toISO()!,
      speed: this.speed,
      day: this.day,
      state: this.#stateAt(marketMs),
      ...(this.#startWallMs === undefined ? { held: true as const } : {}),
    };
    return JSON.stringify(event);
  }

  // -------------------------------------------------------------------------------------
  // Clients

  #send(c: Client, text: string): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    if (c.ws.bufferedAmount > SLOW_CLIENT_BYTES) {
      c.ws.send(JSON.stringify([{ T: 'error', code: 407, msg: 'slow client' }]));
      c.ws.terminate();
      this.#log(`client ${c.n} dropped: slow client (${c.ws.bufferedAmount} bytes unsent)`);
      return;
    }
    c.ws.send(text);
  }

  #error(c: Client, code: number, msg: string): void {
    this.#send(c, JSON.stringify([{ T: 'error', code, msg }]));
  }

  #onConnection(ws: WebSocket): void {
    const c: Client = { n: ++this.#clientCount, ws, authenticated: false, trades: new Set(), quotes: new Set(), bars: new Set() };
    this.#clients.add(c);
    this.#log(`client ${c.n} connected`);
    ws.on('close', () => {
      this.#clients.delete(c);
      this.#log(`client ${c.n} disconnected`);
    });
    ws.on('error', () => undefined); // a broken client socket ends in 'close'
    ws.on('message', (data, isBinary) => this.#onMessage(c, isBinary ? '' : data.toString()));
    this.#send(c, `[{"T":"success","msg":"connected"},${this.#clockJson(this.#marketMs())}]`);
  }

  #onMessage(c: Client, text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.#error(c, 400, 'invalid syntax');
      return;
    }
    const m = (typeof msg === 'object' && msg !== null && !Array.isArray(msg) ? msg : {}) as Record<string, unknown>;
    switch (m['action']) {
      case 'auth': {
        if (c.authenticated) return this.#error(c, 403, 'already authenticated');
        const { key, secret } = this.#options;
        if (key !== undefined && (m['key'] !== key || m['secret'] !== secret)) {
          this.#error(c, 402, 'auth failed');
          this.#log(`client ${c.n}: auth failed`);
          c.ws.close(1008, 'auth failed');
          return;
        }
        c.authenticated = true;
        this.#send(c, '[{"T":"success","msg":"authenticated"}]');
        return;
      }
      case 'subscribe':
      case 'unsubscribe': {
        if (!c.authenticated) return this.#error(c, 401, 'not authenticated');
        const lists = (['trades', 'quotes', 'bars'] as const).map((k) => [k, m[k]] as const);
        if (lists.some(([, v]) => v !== undefined && !(Array.isArray(v) && v.every((s) => typeof s === 'string')))) {
          return this.#error(c, 400, 'invalid syntax');
        }
        for (const [k, v] of lists) {
          for (const s of (v as string[] | undefined) ?? []) {
            if (m['action'] === 'subscribe') c[k].add(s);
            else c[k].delete(s);
          }
        }
        this.#send(c, JSON.stringify([{ T: 'subscription', trades: [...c.trades], quotes: [...c.quotes], bars: [...c.bars] }]));
        this.#log(`client ${c.n} ${m['action']}d: trades=${[...c.trades].join(',') || '-'} bars=${[...c.bars].join(',') || '-'}`);
        if (m['action'] === 'subscribe' && this.#options.waitForSubscriber && this.#startWallMs === undefined) {
          this.#log('first subscription: the market clock starts');
          this.#startClock();
        }
        return;
      }
      default:
        this.#error(c, 400, 'invalid syntax');
    }
  }
}

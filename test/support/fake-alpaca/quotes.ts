/**
 * The fake Alpaca's market: it follows a market-data stream in Alpaca's protocol (our replay
 * server, src/server/replay-server.ts) as the real Alpaca follows the exchange: every trade sets
 * the price its market orders fill at, and the replay's clock moves the fake's clock (fills are
 * stamped in market time). Any fake broker with `clockTo` and `setPrice` may follow it. Off until the control API's `POST follow` names the server.
 */
import WebSocket from 'ws';
/** What a fake broker exposes to be moved by the market (every fake broker of test/support has it). */
export interface FollowsMarket {
  clockTo(ms: number): void;
  setPrice(symbol: string, price: string): void;
}

export function followQuotes(fake: FollowsMarket, url: string): () => void {
  const ws = new WebSocket(url);
  ws.on('open', () => ws.send(JSON.stringify({ action: 'auth', key: 'fake-alpaca', secret: 'fake-alpaca' })));
  ws.on('message', (data) => {
    let events: unknown;
    try {
      events = JSON.parse(String(data));
    } catch {
      return;
    }
    for (const e of Array.isArray(events) ? (events as Record<string, unknown>[]) : []) {
      if (e['T'] === 'success' && e['msg'] === 'authenticated') ws.send(JSON.stringify({ action: 'subscribe', trades: ['*'] }));
      else if (e['T'] === 't' && typeof e['S'] === 'string' && typeof e['p'] === 'number') {
        if (typeof e['t'] === 'string') fake.clockTo(Date.parse(e['t']));
        fake.setPrice(e['S'], String(e['p']));
      } else if (e['T'] === 'replay_clock' && typeof e['t'] === 'string') fake.clockTo(Date.parse(e['t']));
    }
  });
  ws.on('error', () => undefined);
  return () => ws.terminate();
}

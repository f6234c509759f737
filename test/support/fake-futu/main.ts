/**
 * The fake Futu OpenD in its own process: `node --import tsx test/support/fake-futu/main.ts`.
 * Settings from the environment: FAKE_FUTU_WS_KEY (unset: OpenD has no key), FAKE_FUTU_TRADE_PWD,
 * FAKE_FUTU_START_MS, FAKE_FUTU_ACCOUNTS (JSON, FakeAccountSpec[]), FAKE_FUTU_QUOTES_URL (a replay
 * server to follow). Listens on 127.0.0.1 port 0 and prints one JSON line, `{"port":N}`, once
 * listening. SIGTERM / SIGINT close it; so does its parent going away (stdin closes).
 */
import { followQuotes } from '../fake-alpaca/quotes.js';
import { FakeFutu, type FakeAccountSpec } from './server.js';

const env = process.env;
const fake = await FakeFutu.start({
  ...(env['FAKE_FUTU_WS_KEY'] !== undefined ? { websocketKey: env['FAKE_FUTU_WS_KEY'] } : {}),
  tradePassword: env['FAKE_FUTU_TRADE_PWD'] ?? '123456',
  ...(env['FAKE_FUTU_START_MS'] ? { startMs: Number(env['FAKE_FUTU_START_MS']) } : {}),
  ...(env['FAKE_FUTU_ACCOUNTS'] ? { accounts: JSON.parse(env['FAKE_FUTU_ACCOUNTS']) as FakeAccountSpec[] } : {}),
});
const unfollow = env['FAKE_FUTU_QUOTES_URL'] ? followQuotes(fake, env['FAKE_FUTU_QUOTES_URL']) : () => undefined;
process.stdout.write(`${JSON.stringify({ port: fake.port })}\n`);

let closing = false;
const stop = (): void => {
  if (closing) return;
  closing = true;
  unfollow();
  void fake.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

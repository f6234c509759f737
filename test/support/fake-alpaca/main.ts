/**
 * The fake Alpaca in its own process: `node --import tsx test/support/fake-alpaca/main.ts`.
 * Reads its settings from the environment (FAKE_ALPACA_KEY, FAKE_ALPACA_SECRET, FAKE_ALPACA_CASH,
 * FAKE_ALPACA_START_MS, FAKE_ALPACA_TEXT_FRAMES=1, FAKE_ALPACA_QUOTES_URL: a replay server whose trades
 * set the fill prices, quotes.ts), listens on 127.0.0.1 port 0 and prints one JSON
 * line, `{"port":N}`, once it is listening. SIGTERM / SIGINT close it; so does its parent going
 * away (stdin closes), so a crashed test leaves no server behind.
 */
import { followQuotes } from './quotes.js';
import { FakeAlpaca } from './server.js';

const env = process.env;
const fake = await FakeAlpaca.start({
  key: env['FAKE_ALPACA_KEY'] ?? 'PKFAKEKEY',
  secret: env['FAKE_ALPACA_SECRET'] ?? 'fake-secret',
  ...(env['FAKE_ALPACA_CASH'] ? { cash: env['FAKE_ALPACA_CASH'] } : {}),
  ...(env['FAKE_ALPACA_START_MS'] ? { startMs: Number(env['FAKE_ALPACA_START_MS']) } : {}),
  textFrames: env['FAKE_ALPACA_TEXT_FRAMES'] === '1',
});
const unfollow = env['FAKE_ALPACA_QUOTES_URL'] ? followQuotes(fake, env['FAKE_ALPACA_QUOTES_URL']) : () => undefined;
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

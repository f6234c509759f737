/**
 * The fake terminal bridge in its own process: `node --import tsx test/support/fake-bridge/main.ts`.
 * Reads its settings from the environment (FAKE_BRIDGE_CLIENT, FAKE_BRIDGE_USER,
 * FAKE_BRIDGE_PASSWORD, FAKE_BRIDGE_TOKEN, FAKE_BRIDGE_CASH, FAKE_BRIDGE_START_MS,
 * FAKE_BRIDGE_COLUMNS = ths | alt | miniqmt, FAKE_BRIDGE_QUOTES_URL: a replay server to follow),
 * listens on 127.0.0.1 port 0 and prints one JSON line, `{"port":N}`, once it is listening.
 * SIGTERM / SIGINT close it; so does its parent going away (stdin closes).
 */
import { followQuotes } from '../fake-alpaca/quotes.js';
import { FakeBridge, type Columns } from './server.js';

const env = process.env;
const fake = await FakeBridge.start({
  ...(env['FAKE_BRIDGE_CLIENT'] ? { client: env['FAKE_BRIDGE_CLIENT'] } : {}),
  ...(env['FAKE_BRIDGE_USER'] ? { user: env['FAKE_BRIDGE_USER'] } : {}),
  ...(env['FAKE_BRIDGE_PASSWORD'] ? { password: env['FAKE_BRIDGE_PASSWORD'] } : {}),
  ...(env['FAKE_BRIDGE_TOKEN'] ? { token: env['FAKE_BRIDGE_TOKEN'] } : {}),
  ...(env['FAKE_BRIDGE_CASH'] ? { cash: env['FAKE_BRIDGE_CASH'] } : {}),
  ...(env['FAKE_BRIDGE_START_MS'] ? { startMs: Number(env['FAKE_BRIDGE_START_MS']) } : {}),
  ...(env['FAKE_BRIDGE_COLUMNS'] ? { columns: env['FAKE_BRIDGE_COLUMNS'] as Columns } : {}),
});
const unfollow = env['FAKE_BRIDGE_QUOTES_URL'] ? followQuotes(fake, env['FAKE_BRIDGE_QUOTES_URL']) : () => undefined;
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

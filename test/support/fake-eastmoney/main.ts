/**
 * The fake EastMoney in its own process: `node --import tsx test/support/fake-eastmoney/main.ts`.
 * Reads its settings from the environment (FAKE_EASTMONEY_COOKIE, FAKE_EASTMONEY_VALIDATEKEY,
 * FAKE_EASTMONEY_CASH, FAKE_EASTMONEY_START_MS, FAKE_EASTMONEY_PORT: 0 unless a restart takes the
 * old one, FAKE_EASTMONEY_STATE_FILE: where the state is kept across a restart, read at start when
 * it exists and written at SIGTERM), listens on 127.0.0.1 and prints one JSON line, `{"port":N}`,
 * once it is listening. SIGTERM / SIGINT close it; so does its parent going away (stdin closes).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { FakeEastMoney, type FakeEastMoneyState } from './server.js';

const env = process.env;
const stateFile = env['FAKE_EASTMONEY_STATE_FILE'];
const state = stateFile && existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as FakeEastMoneyState) : undefined;
const fake = await FakeEastMoney.start({
  cookie: env['FAKE_EASTMONEY_COOKIE'] ?? 'Uid=fake-uid-0001; Khmc=fake; Uuid=fake-uuid-0001',
  validatekey: env['FAKE_EASTMONEY_VALIDATEKEY'] ?? '00000000-0000-4000-8000-000000000001',
  ...(env['FAKE_EASTMONEY_CASH'] ? { cash: env['FAKE_EASTMONEY_CASH'] } : {}),
  ...(env['FAKE_EASTMONEY_START_MS'] ? { startMs: Number(env['FAKE_EASTMONEY_START_MS']) } : {}),
  ...(env['FAKE_EASTMONEY_PORT'] ? { port: Number(env['FAKE_EASTMONEY_PORT']) } : {}),
  ...(state ? { state } : {}),
});
process.stdout.write(`${JSON.stringify({ port: fake.port })}\n`);

let closing = false;
const stop = (): void => {
  if (closing) return;
  closing = true;
  if (stateFile) writeFileSync(stateFile, JSON.stringify(fake.snapshot()));
  void fake.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

/**
 * Child-process probe for the store lock: `node --import tsx test/support/open-store.ts DIR`
 * opens the store in DIR and prints `opened`, or prints the error (`<name>: <message>`)
 * and exits 2 when it cannot (e.g. another process holds the LevelDB lock).
 */
import { openStore } from '../../src/actors/store/store.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: open-store.ts DIR\n');
  process.exit(64);
}
try {
  const store = await openStore(dir);
  await store.close();
  process.stdout.write('opened\n');
} catch (err) {
  process.stdout.write(`${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
  process.exitCode = 2;
}

/** Entry of `agent-trader` (bin/agent-trader.js) and `npm run cli -- <command>`: see program.ts for the commands and exit codes. */
import { endQuietlyOnBrokenPipe } from './pipes.js';
import { main } from './program.js';

endQuietlyOnBrokenPipe();
process.exitCode = await main(process.argv.slice(2));

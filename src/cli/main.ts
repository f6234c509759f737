/** Entry of `npm run cli -- <command>`: see program.ts for the commands and exit codes. */
import { main } from './program.js';

process.exitCode = await main(process.argv.slice(2));

/** The AI-Trader data the tests read, inside the repository (test/fixtures/ai-trader, see its README). */
import { fileURLToPath } from 'node:url';

/** The folder as a URL ending in `/`: `new URL('cn/sse50_daily.jsonl', AI_TRADER)`. */
export const AI_TRADER = new URL('../fixtures/ai-trader/', import.meta.url);
/** The folder as a path ending in `/`: `${AI_TRADER_DIR}cn/sse50_daily.jsonl`. */
export const AI_TRADER_DIR = fileURLToPath(AI_TRADER);
/** The path of one file in it. */
export const aiTrader = (rel: string): string => fileURLToPath(new URL(rel, AI_TRADER));

/**
 * A strategy that asks for what the A-share exchange refuses (odd lots, a STAR buy under 200, a
 * limit outside the band or off the tick, a sell of shares not held, a sell of today's buys) beside
 * a few orders it takes (a STAR buy of 201, a STAR limit 15% up: inside its 20% band). The hostile
 * test checks which of them reached the broker.
 */
import type { Intent, SessionContext } from '../../../src/strategy.js';
import { defineStrategy } from '../../../src/strategy.js';

const r2 = (x: number): string => x.toFixed(2);

export default defineStrategy({
  onSession(ctx: SessionContext): Intent[] {
    const held = Object.keys(ctx.account.positions);
    if (held.length > 0) {
      // Bought today: T+1 says no.
      return held.map((symbol) => ({ side: 'sell' as const, symbol, quantity: ctx.account.positions[symbol]!.quantity }));
    }
    const prev = (s: string): number => ctx.view.previousClose(s)!.toNumber();
    const px = (s: string): number => ctx.view.price(s)!.toNumber();
    return [
      { side: 'buy', symbol: '600519.SH', quantity: 150 }, // LOT_SIZE
      { side: 'buy', symbol: '688981.SH', quantity: 100 }, // STAR minimum 200
      { side: 'buy', symbol: '600036.SH', quantity: 100, type: 'limit', limitPrice: r2(prev('600036.SH') * 1.15) }, // outside the 10% band
      { side: 'buy', symbol: '600036.SH', quantity: 200, type: 'limit', limitPrice: (Math.round(px('600036.SH') * 100) / 100 + 0.005).toFixed(3) }, // off the 0.01 tick
      { side: 'sell', symbol: '600900.SH', quantity: 100 }, // not held
      { side: 'buy', symbol: '601899.SH', quantity: 100, type: 'limit', limitPrice: r2(prev('601899.SH') * 0.85) }, // below the band
      { side: 'buy', symbol: '688981.SH', quantity: 201 }, // taken: STAR above 200 goes by 1 share
      { side: 'buy', symbol: '688981.SH', quantity: 200, type: 'limit', limitPrice: r2(prev('688981.SH') * 1.15) }, // taken: STAR band is 20%
      { side: 'buy', symbol: '601318.SH', quantity: 100 }, // taken
    ];
  },
});

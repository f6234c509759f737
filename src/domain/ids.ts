/**
 * Deterministic identifiers. A client order id is derived from the agent's
 * signature, the session instant (exchange-local, minute precision) and the
 * order's index in that session, so a restart that re-runs a session produces the
 * same ids and the broker recognises orders it already has. Ids use only
 * [A-Za-z0-9._-], which every broker we target accepts, and stay under 64 chars
 * for normal signatures.
 */
import { DateTime } from 'luxon';
import { InputError } from './errors.js';
import { MARKETS, type Market } from './markets.js';

const compact = (atIso: string, market: Market): string => {
  const at = DateTime.fromISO(atIso, { setZone: true });
  if (!at.isValid) throw new InputError(`not an ISO instant: ${JSON.stringify(atIso)}`);
  return at.setZone(MARKETS[market].zone).toFormat("yyyyLLdd'T'HHmm");
};

/** `rules-momentum.20251009T0935.1` */
export function clientOrderId(signature: string, market: Market, sessionAtIso: string, index: number | string): string {
  return `${signature}.${compact(sessionAtIso, market)}.${index}`;
}

/** The session instant (epoch ms) a client order id carries, read in its market's zone; undefined for one not of ours. */
export function sessionInstantOf(clientOrderIdValue: string, market: Market): number | undefined {
  const stamp = /\.(\d{8}T\d{4})\.[^.]+$/.exec(clientOrderIdValue)?.[1];
  if (!stamp) return undefined;
  const at = DateTime.fromFormat(stamp, "yyyyLLdd'T'HHmm", { zone: MARKETS[market].zone });
  return at.isValid ? at.toMillis() : undefined;
}

/**
 * Which of `signatures` placed an order: the one its client order id starts with (the longest, if
 * one signature is a prefix of another: `ew` and `ew.x`); undefined for an order that is not ours.
 */
export function ownerOf(signatures: readonly string[]): (clientOrderId: string) => string | undefined {
  const longestFirst = [...signatures].sort((a, b) => b.length - a.length);
  return (cid) => longestFirst.find((s) => cid.startsWith(`${s}.`));
}

/** `rules-momentum@2025-10-09T09:35:00+08:00` */
export function sessionId(signature: string, sessionAtIso: string): string {
  return `${signature}@${sessionAtIso}`;
}

/** System ids: the names actors are found by in the actor system. */
export const SYSTEM_IDS = {
  engine: 'engine',
  clock: 'clock',
  marketData: 'marketData',
  ledger: 'ledger',
  agent: 'agent',
  risk: 'risk',
  broker: 'broker',
  monitor: 'monitor',
} as const;
export type SystemActorId = (typeof SYSTEM_IDS)[keyof typeof SYSTEM_IDS];

export const sessionSystemId = (id: string): string => `session:${id}`;
export const orderSystemId = (clientOrderIdValue: string): string => `order:${clientOrderIdValue}`;

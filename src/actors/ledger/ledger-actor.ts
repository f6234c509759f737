/**
 * The `ledger` system actor: the engine's sessions and orders talk to a `Ledger`
 * through it.
 *
 * - `ledger.getAccount` -> `ledger.account` (or `ledger.failed`) to `replyTo`;
 * - `ledger.recordSession` -> `ledger.recorded` once the LevelDB batch is committed
 *   and position.jsonl is appended (and fsynced), or `ledger.failed`; a session
 *   recorded before is answered `ledger.recorded` again (idempotent: a `resume`
 *   re-asks);
 * - `ledger.applyFill` -> applied (once per fillId); it has no one to answer, so a
 *   failure (e.g. a sell of shares the account does not hold) goes to the monitor as
 *   a critical `LEDGER_FILL_FAILED` alert.
 * Disagreements found while recording (an order the outcome says filled but whose
 * fills never reached the ledger) go to the monitor as `LEDGER_MISMATCH` warnings.
 *
 * The actor never throws: every error becomes a reply or an alert. Requests are
 * handed to the ledger in arrival order (its queue keeps that order), so a fill sent
 * before a `recordSession` is in the session's records.
 */
import { fromCallback, type AnyActorRef } from 'xstate';
import { SYSTEM_IDS } from '../../domain/ids.js';
import type { AnyMessage, Message } from '../../domain/messages.js';
import type { InFlight } from '../../domain/in-flight.js';
import type { Ledger } from './ledger.js';

export interface LedgerActorOptions {
  /** Also told about every error (logs, tests). */
  readonly onError?: (error: unknown, request: AnyMessage) => void;
  /** Requests in flight are counted here, answer included (the backtest driver waits for them). */
  readonly inFlight?: InFlight;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function ledgerActor(ledger: Ledger, now: () => number, options: LedgerActorOptions = {}) {
  return fromCallback<AnyMessage>(({ receive, system }) => {
    let stopped = false;
    const send = (to: string, message: AnyMessage) => {
      if (stopped) return;
      try {
        (system.get(to) as AnyActorRef | undefined)?.send(message);
      } catch (err) {
        options.onError?.(err, message); // the receiver is gone or broken: nothing more to do here
      }
    };
    const alert = (level: 'warning' | 'critical', code: string, text: string, extra: { signature?: string; sessionId?: string; clientOrderId?: string }) =>
      send(SYSTEM_IDS.monitor, { type: 'monitor.alert', level, code, message: text, ...extra, tsEvent: now() } satisfies Message<'monitor.alert'>);

    const track = (p: Promise<unknown>) => void options.inFlight?.track(p);
    receive((m) => {
      try {
        switch (m.type) {
          case 'ledger.getAccount':
            track(ledger.getAccount(m.signature, m.at).then(
              (account) => send(m.replyTo, { type: 'ledger.account', sessionId: m.sessionId, account, tsEvent: now() }),
              (err: unknown) => {
                options.onError?.(err, m);
                send(m.replyTo, { type: 'ledger.failed', sessionId: m.sessionId, message: `getAccount: ${messageOf(err)}`, tsEvent: now() });
              },
            ));
            break;
          case 'ledger.recordSession': {
            const { sessionId, signature } = m.outcome;
            track(ledger.recordSession(m.outcome).then(
              (result) => {
                for (const text of result.mismatches) alert('warning', 'LEDGER_MISMATCH', text, { signature, sessionId });
                send(m.replyTo, { type: 'ledger.recorded', sessionId, tsEvent: now() });
              },
              (err: unknown) => {
                options.onError?.(err, m);
                send(m.replyTo, { type: 'ledger.failed', sessionId, message: `recordSession: ${messageOf(err)}`, tsEvent: now() });
              },
            ));
            break;
          }
          case 'ledger.applyFill':
            track(ledger.applyFill(m).then(() => undefined, (err: unknown) => {
              options.onError?.(err, m);
              alert('critical', 'LEDGER_FILL_FAILED', `fill ${m.fill.fillId} of ${m.clientOrderId} not applied: ${messageOf(err)}`, {
                signature: m.signature,
                clientOrderId: m.clientOrderId,
              });
            }));
            break;
          default:
            break;
        }
      } catch (err) {
        // A synchronous throw (a malformed message): never let it reach the actor.
        options.onError?.(err, m);
        const replyTo = (m as { replyTo?: unknown }).replyTo;
        const sessionId = (m as { sessionId?: unknown; outcome?: { sessionId?: unknown } }).sessionId ?? (m as { outcome?: { sessionId?: unknown } }).outcome?.sessionId;
        if (typeof replyTo === 'string' && typeof sessionId === 'string') {
          send(replyTo, { type: 'ledger.failed', sessionId, message: messageOf(err), tsEvent: now() });
        }
      }
    });
    return () => {
      stopped = true;
    };
  });
}

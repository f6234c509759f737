/**
 * Why an order exists: from its client order id to the LLM step that asked for it.
 *
 * `<signature>.<yyyyMMddTHHmm>.<n>` names the agent, the session instant and the
 * order's index in the session; the transcripts of that signature are searched
 * for the intent that got this id (or, for an order whose result never came
 * back, the n-th intent of the session at that minute). The engine journal adds
 * what risk decided and how the order ended.
 */
import { DateTime } from 'luxon';
import { InputError } from '../../../domain/errors.js';
import { MARKETS, type Market } from '../../../domain/markets.js';
import type { Store } from '../../store/store.js';
import { reasoningFor } from './llm-agent.js';
import type { IntentLink, Transcript, TranscriptStore } from './transcript.js';

export interface Explanation {
  readonly clientOrderId: string;
  readonly sessionId: string;
  readonly signature: string;
  readonly at: string;
  readonly model: Transcript['model'];
  readonly promptVersion: string;
  readonly intent: IntentLink;
  readonly modelSteps: number;
  /** The assistant message that made the call: its text (and separate reasoning, if the endpoint gives one). */
  readonly reasoning: { content: string | null; reasoning?: string } | undefined;
  readonly toolCall: { id: string; name: string; arguments: string } | undefined;
  readonly session: { status: Transcript['status']; reason?: string; summary?: string; tokens: Transcript['tokens']; cost?: string };
  readonly risk?: { decision: 'approved' | 'rejected'; reason?: string; message?: string; checks?: unknown[] };
  readonly result?: Record<string, unknown>;
}

const CID = /^(?<signature>.+)\.(?<stamp>\d{8}T\d{4})\.(?<index>\d+)$/;

export function parseClientOrderId(cid: string): { signature: string; stamp: string; index: number } {
  const m = CID.exec(cid);
  if (!m?.groups) throw new InputError(`not a client order id: ${JSON.stringify(cid)}; expected <signature>.<yyyyMMddTHHmm>.<n>, e.g. gpt-5.20251020T0935.1`);
  return { signature: m.groups['signature']!, stamp: m.groups['stamp']!, index: Number(m.groups['index']) };
}

const stampOf = (t: Transcript, market: Market) => DateTime.fromISO(t.at, { setZone: true }).setZone(MARKETS[market].zone).toFormat("yyyyLLdd'T'HHmm");

export async function explainOrder(cid: string, transcripts: TranscriptStore, market: Market, store?: Store): Promise<Explanation> {
  const { signature, stamp, index } = parseClientOrderId(cid);
  let found: { t: Transcript; link: IntentLink } | undefined;
  let sessions = 0;
  for await (const t of transcripts.list(signature)) {
    sessions++;
    const link = t.intents.find((i) => i.clientOrderId === cid) ?? (stampOf(t, market) === stamp ? t.intents.find((i) => i.intentStep === index - 1 && !i.clientOrderId) : undefined);
    if (link) {
      found = { t, link };
      break;
    }
  }
  if (!found) {
    throw new InputError(
      sessions === 0
        ? `no LLM transcript of ${signature} in this state directory (is ${signature} an llm agent, and is this the run's directory?)`
        : `${cid}: none of the ${sessions} transcripts of ${signature} asked for this order (a protective stop-loss order, or another run?)`,
    );
  }
  const { t, link } = found;
  const assistant = reasoningFor(t, link.modelStep);
  const step = t.steps.find((s) => s.step === link.modelStep);
  const msg = step?.messageIndex === undefined ? undefined : t.messages[step.messageIndex];
  const call = msg?.role === 'assistant' ? msg.tool_calls?.find((c) => c.id === link.toolCallId) : undefined;
  const journal = store ? await fromJournal(store, cid) : {};
  return {
    clientOrderId: cid,
    sessionId: t.sessionId,
    signature: t.signature,
    at: t.at,
    model: t.model,
    promptVersion: t.promptVersion,
    intent: link,
    modelSteps: t.steps.length,
    reasoning: assistant,
    toolCall: call,
    session: { status: t.status, ...(t.reason ? { reason: t.reason } : {}), ...(t.summary ? { summary: t.summary } : {}), tokens: t.tokens, ...(t.cost ? { cost: t.cost } : {}) },
    ...journal,
  };
}

async function fromJournal(store: Store, cid: string): Promise<Pick<Explanation, 'risk' | 'result'>> {
  let risk: Explanation['risk'];
  let result: Explanation['result'];
  for await (const { entry } of store.readJournal<{ event?: Record<string, unknown> }>()) {
    const e = entry.event;
    if (!e || e['clientOrderId'] !== cid) continue;
    if (e['type'] === 'risk.approved') risk = { decision: 'approved', ...(Array.isArray(e['checks']) ? { checks: e['checks'] } : {}) };
    if (e['type'] === 'risk.rejected') {
      risk = { decision: 'rejected', reason: String(e['reason']), message: String(e['message']), ...(Array.isArray(e['checks']) ? { checks: e['checks'] } : {}) };
    }
    if (e['type'] === 'order.finished') result = e['result'] as Record<string, unknown>;
  }
  return { ...(risk ? { risk } : {}), ...(result ? { result } : {}) };
}

export function formatExplanation(x: Explanation): string {
  const lines = [
    `order     ${x.clientOrderId}: ${x.intent.side} ${x.intent.quantity} ${x.intent.symbol}`,
    `session   ${x.sessionId}`,
    `model     ${x.model.basemodel} at ${x.model.baseUrl} (temperature ${x.model.temperature}, prompt ${x.promptVersion})`,
    `asked at  model step ${x.intent.modelStep} of ${x.modelSteps}, tool call ${x.intent.toolCallId}${x.toolCall ? `: ${x.toolCall.name}(${x.toolCall.arguments})` : ''}`,
  ];
  const text = x.reasoning?.content?.trim();
  if (x.reasoning?.reasoning) lines.push(`reasoning ${x.reasoning.reasoning.trim().replace(/\n/g, '\n          ')}`);
  lines.push(`said      ${text ? text.replace(/\n/g, '\n          ') : '(no text with the call)'}`);
  if (x.risk) lines.push(`risk      ${x.risk.decision}${x.risk.message ? `: ${x.risk.message}` : ''}${x.risk.checks ? ` (${x.risk.checks.length} checks)` : ''}`);
  const r = x.result;
  if (r) lines.push(`result    ${String(r['status'])}, filled ${String(r['filledQuantity'])}${r['averagePrice'] ? ` @ ${String(r['averagePrice'])}` : ''}, fees ${String(r['fees'])}${r['message'] ? ` (${String(r['message'])})` : ''}`);
  else if (x.intent.status) lines.push(`result    ${x.intent.status}${x.intent.reason ? ` (${x.intent.reason})` : ''}`);
  const s = x.session;
  lines.push(`session   ended ${s.status}${s.reason ? ` (${s.reason})` : ''}, ${s.tokens.total} tokens${s.cost ? `, cost ${s.cost}` : ''}${s.summary ? `: ${s.summary.split('\n')[0]}` : ''}`);
  return `${lines.join('\n')}\n`;
}

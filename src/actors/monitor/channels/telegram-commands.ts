/**
 * Telegram, as a command channel: the bot reads its chats with the Bot API's `getUpdates` (long
 * polling) and answers with `sendMessage`. Commands run through the control layer
 * (src/runtime/control.ts), the same as the HTTP control API's, journalled as `telegram:<chat id>`:
 *
 *   /status  /positions  /pause SIG  /resume SIG  /kill [SIG]  /flatten SIG [SYMBOL]  /help
 *
 *   POST <api_url>/bot<token>/getUpdates {"offset": N, "timeout": 30, "allowed_updates": ["message"]}
 *   answer {"ok":true,"result":[{"update_id":N,"message":{"chat":{"id":..},"text":"/status",..}},..]}
 *
 * - ONCE: before a command runs, the next offset (its update_id + 1) is written to
 *   `<state_dir>/telegram-offset-<channel>.json` (atomically, fsynced) and sent with the next
 *   getUpdates, which tells Telegram to forget it. A restart reads the file: an update Telegram
 *   delivers again (its confirmation never reached it) is skipped. A crash between the write and
 *   the command loses that one command (at most once: a trading command is never run twice); the
 *   chat got no answer and can send it again.
 * - Only chats on the allow-list (`command_chat_ids`, default the numeric `chat_ids`) are
 *   obeyed; any other message is dropped and logged with its chat id, never its text.
 * - A failed poll (network, 5xx, 429) is tried again after 1 s, 2 s, ... up to 60 s on the
 *   injected scheduler; 401 (a bad token) stops the channel with one log line.
 * - The token is in the URL's path: a secret, kept out of every log line.
 */
import type { SchedulerLike } from 'rxjs';
import { z } from 'zod';
import type { Who } from '../../../domain/control.js';
import { InputError } from '../../../domain/errors.js';
import type { Control } from '../../../runtime/control.js';
import { readJson, writeJsonAtomic } from '../../control/state-file.js';
import { redact } from './channel.js';
import { TELEGRAM_BASE_URL, TELEGRAM_MAX_CHARS } from './telegram.js';

export interface TelegramCommandsOptions {
  /** Channel name (the offset file is named after it). */
  readonly name: string;
  readonly token: string;
  readonly baseUrl?: string | undefined;
  /** Chat ids whose commands run. */
  readonly allowed: readonly number[];
  readonly control: () => Control | undefined;
  /** Where the offset is kept: `<state_dir>/telegram-offset-<name>.json`. */
  readonly offsetFile: string;
  /** Back-off after a failed poll. */
  readonly scheduler: SchedulerLike;
  /** One line per notable thing (ignored chats, failures), without message texts or the token. */
  readonly log: (line: string) => void;
  /** getUpdates' long-poll timeout, seconds; default 30. */
  readonly pollTimeoutSeconds?: number;
}

export interface TelegramCommands {
  /** Stop polling (the poll in flight is aborted). */
  close(): Promise<void>;
}

const UpdateSchema = z.looseObject({
  update_id: z.int(),
  message: z
    .looseObject({
      chat: z.looseObject({ id: z.union([z.int(), z.string()]) }),
      text: z.string().optional(),
    })
    .optional(),
});
const UpdatesSchema = z.looseObject({ ok: z.boolean(), result: z.array(UpdateSchema).optional(), error_code: z.int().optional(), description: z.string().optional() });
const SentSchema = z.looseObject({ ok: z.boolean(), error_code: z.int().optional(), description: z.string().optional() });
const OffsetSchema = z.strictObject({ offset: z.int() });

/** The allow-list a channel's config gives: command_chat_ids, else the numeric chat_ids. */
export function allowedChats(channel: { readonly chat_ids: readonly (number | string)[]; readonly command_chat_ids?: readonly number[] | undefined }): number[] {
  if (channel.command_chat_ids) return [...channel.command_chat_ids];
  return channel.chat_ids.flatMap((c) => (typeof c === 'number' ? [c] : /^-?\d+$/.test(c) ? [Number(c)] : []));
}

const HELP = ['commands:', '/status', '/positions', '/pause SIGNATURE', '/resume SIGNATURE', '/kill [SIGNATURE]', '/flatten SIGNATURE [SYMBOL]'].join('\n');

type Answer = Record<string, unknown>;

/** The text answer to a command's JSON answer. */
function render(command: string, a: Answer): string {
  switch (command) {
    case 'status': {
      const next = a['next_session'] as { at: string } | null;
      const ks = a['kill_switch'] as { active: boolean; signatures: string[] | 'all' };
      const lines = [`${String(a['mode'])} ${String(a['market'])}, next session ${next ? next.at : 'none'}${ks.active ? `, KILL SWITCH ON (${ks.signatures === 'all' ? 'all' : ks.signatures.join(', ')})` : ''}`];
      for (const g of a['agents'] as Answer[]) {
        const pnl = g['pnl_today'] as { amount: string } | null;
        const flags = [g['paused'] ? 'paused' : '', g['halted'] ? 'halted' : '', g['enabled'] ? '' : 'disabled'].filter(Boolean).join(', ');
        lines.push(
          `${String(g['signature'])}: ${(g['session'] as { state: string }).state}${g['equity'] !== null ? `, equity ${String(g['equity'])} ${String(a['currency'])}` : ''}${pnl ? `, today ${pnl.amount.startsWith('-') ? '' : '+'}${pnl.amount}` : ''}, ${(g['positions'] as unknown[]).length} positions, ${(g['open_orders'] as unknown[]).length} open orders${flags ? ` [${flags}]` : ''}`,
        );
      }
      return lines.join('\n');
    }
    case 'positions': {
      const lines: string[] = [];
      for (const g of a['agents'] as Answer[]) for (const p of g['positions'] as Answer[]) lines.push(`${String(g['signature'])} ${String(p['symbol'])} ${String(p['quantity'])} (sellable ${String(p['sellable'])})`);
      return lines.length ? lines.join('\n') : 'no positions';
    }
    case 'pause':
      return `${String(a['signature'])} ${a['changed'] ? 'paused' : 'was already paused'}: no new session until /resume ${String(a['signature'])}`;
    case 'resume':
      return `${String(a['signature'])} ${a['changed'] ? 'resumed' : 'was not paused'}`;
    case 'kill': {
      const ks = a['kill_switch'] as { active: boolean; signatures: string[] | 'all' };
      return ks.active ? `kill switch ON for ${ks.signatures === 'all' ? 'all signatures' : ks.signatures.join(', ')}: open orders cancelled, new orders refused` : 'kill switch off';
    }
    case 'flatten': {
      const lines = (a['orders'] as Answer[]).map((l) => (l['action'] === 'sell' ? `sell ${String(l['quantity'])} ${String(l['symbol'])} (${String(l['client_order_id'])})` : `not sold ${String(l['symbol'])}: ${String(l['message'])}`));
      return lines.length ? lines.join('\n') : `${String(a['signature'])} holds nothing`;
    }
    default:
      return JSON.stringify(a);
  }
}

/** Run one command text for a chat; the text to answer. */
export async function runCommand(control: Control, who: Who, text: string): Promise<string> {
  const [head = '', ...args] = text.trim().split(/\s+/);
  const command = head.replace(/@\S+$/, '').toLowerCase(); // `/status@my_bot` in groups
  const need = (n: number, usage: string) => {
    if (args.length < n || args.length > n + (usage.includes('[') ? 1 : 0)) throw new InputError(`usage: ${usage}`);
  };
  try {
    switch (command) {
      case '/status':
        return render('status', await control.status(who));
      case '/positions':
        return render('positions', await control.positions(who));
      case '/pause':
        need(1, '/pause SIGNATURE');
        return render('pause', await control.pause(who, args[0]!));
      case '/resume':
        need(1, '/resume SIGNATURE');
        return render('resume', await control.resume(who, args[0]!));
      case '/kill':
        need(0, '/kill [SIGNATURE]');
        return render('kill', await control.kill(who, args[0]));
      case '/flatten':
        need(1, '/flatten SIGNATURE [SYMBOL]');
        return render('flatten', await control.flatten(who, args[0]!, args[1]));
      case '/help':
      case '/start':
        return HELP;
      default:
        return `unknown command ${JSON.stringify(command)}\n${HELP}`;
    }
  } catch (err) {
    if (err instanceof InputError) return `refused: ${err.message}`;
    throw err;
  }
}

export function startTelegramCommands(o: TelegramCommandsOptions): TelegramCommands {
  const base = `${(o.baseUrl ?? TELEGRAM_BASE_URL).replace(/\/+$/, '')}/bot${o.token}`;
  const secrets = [o.token];
  const timeout = o.pollTimeoutSeconds ?? 30;
  const abort = new AbortController();
  let closed = false;
  let wake: (() => void) | undefined;

  const stored = readJson(o.offsetFile, OffsetSchema);
  if (stored.kind === 'unreadable') o.log(`telegram ${o.name}: ${o.offsetFile} is unreadable (${stored.why}); starting from Telegram's own offset`);
  let offset = stored.kind === 'ok' ? stored.value.offset : 0;

  const call = async <S extends z.ZodType>(method: string, schema: S, body: unknown): Promise<z.output<S> & { status: number }> => {
    const res = await fetch(`${base}/${method}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: abort.signal });
    const json = schema.parse(await res.json()) as z.output<S>;
    return Object.assign(json as object, { status: res.status }) as z.output<S> & { status: number };
  };
  const reply = async (chatId: number | string, text: string) => {
    try {
      const r = await call('sendMessage', SentSchema, { chat_id: chatId, text: [...text].slice(0, TELEGRAM_MAX_CHARS).join(''), disable_web_page_preview: true });
      if (!r.ok) o.log(`telegram ${o.name}: the answer to chat ${String(chatId)} was refused: ${r.error_code ?? r.status} ${redact(r.description ?? '', secrets)}`);
    } catch (err) {
      if (!closed) o.log(`telegram ${o.name}: the answer to chat ${String(chatId)} failed: ${redact(err instanceof Error ? err.message : String(err), secrets)}`);
    }
  };
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = o.scheduler.schedule(() => resolve(), ms);
      wake = () => {
        t.unsubscribe();
        resolve();
      };
    });

  const handle = async (u: z.infer<typeof UpdateSchema>) => {
    const m = u.message;
    if (!m || m.text === undefined) return;
    const chat = typeof m.chat.id === 'number' ? m.chat.id : Number(m.chat.id);
    if (!o.allowed.includes(chat)) {
      o.log(`telegram ${o.name}: ignored a message from chat ${String(m.chat.id)} (not in command_chat_ids)`);
      return;
    }
    if (!m.text.startsWith('/')) return;
    const control = o.control();
    const text = control ? await runCommand(control, { channel: 'telegram', auth: 'chat', chatId: chat }, m.text).catch((err: unknown) => `failed: ${err instanceof Error ? err.message : String(err)}`) : 'the process is still starting';
    await reply(chat, text);
  };

  const loop = async () => {
    let failures = 0;
    while (!closed) {
      try {
        const r = await call('getUpdates', UpdatesSchema, { offset, timeout, allowed_updates: ['message'] });
        if (r.status === 401) {
          o.log(`telegram ${o.name}: the bot token was refused (401): commands stop; fix bot_token_env and restart`);
          return;
        }
        if (!r.ok) throw new Error(`getUpdates: ${r.error_code ?? r.status} ${r.description ?? ''}`);
        failures = 0;
        for (const u of [...(r.result ?? [])].sort((a, b) => a.update_id - b.update_id)) {
          if (closed) return;
          if (u.update_id < offset) continue; // delivered again: already taken
          // The offset first: a command runs at most once, across a restart too.
          offset = u.update_id + 1;
          writeJsonAtomic(o.offsetFile, { offset });
          await handle(u);
        }
      } catch (err) {
        if (closed) return;
        failures++;
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(failures - 1, 6));
        o.log(`telegram ${o.name}: getUpdates failed (${redact(err instanceof Error ? err.message : String(err), secrets)}); again in ${delay / 1000} s`);
        await pause(delay);
      }
    }
  };
  const running = loop();

  return {
    close: async () => {
      closed = true;
      abort.abort();
      wake?.();
      await running;
    },
  };
}

/**
 * The `alerts` section of the config file: where alerts go (WeCom, DingTalk, Feishu robots,
 * email, a JSON webhook), from which level, and how hard the process may push them
 * (de-duplication, rate limit, retries). Read by createDispatcher
 * (src/actors/monitor/alert-dispatcher.ts); docs/alerts.md explains each key.
 *
 * - Same rules as ./schema.ts: strict objects, a default wherever one makes sense,
 *   "expected ..." error texts, and secrets only ever NAMED (`webhook_url_env`,
 *   `secret_env`, `password_env`, ...): a robot's webhook URL carries its access token, so
 *   it is a secret too and comes from the environment.
 * - This file imports nothing from ./schema.ts (the URL helpers are in ./urls.ts): schema.ts imports this one, and an import
 *   cycle between the two would read the helpers before they exist.
 */
import { z } from 'zod';
import { httpUrl } from './urls.js';

// ---------------------------------------------------------------------------
// Leaf helpers (same texts as ./schema.ts)

const ENV_NAME = 'expected the name of an environment variable (like OPENAI_API_KEY: A-Z, 0-9, _)';
const ENV = /^[A-Z_][A-Z0-9_]*$/;
const EnvName = () => z.string({ error: ENV_NAME }).regex(ENV, { error: ENV_NAME });

const int = (min: number) => {
  const msg = `expected a whole number >= ${min}`;
  return z.int({ error: msg }).min(min, { error: msg });
};

const seconds = () => {
  const msg = 'expected seconds > 0';
  return z.number({ error: msg }).gt(0, { error: msg });
};

const nonEmpty = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

const EMAIL = 'expected an email address (like alerts@example.com, or "Agent Trader <alerts@example.com>")';
const ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const NAMED_ADDRESS = /^[^<>]*<[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>$/;
const emailAddress = () => z.string({ error: EMAIL }).refine((s) => ADDRESS.test(s) || NAMED_ADDRESS.test(s.trim()), { error: EMAIL });


const NAME = 'expected a channel name of letters, digits, "_", "-" (at most 32)';
const ChannelName = () => z.string({ error: NAME }).regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, { error: NAME });

// ---------------------------------------------------------------------------
// Pieces

export const AlertLevelSchema = z.enum(['info', 'warning', 'critical'], { error: 'expected one of info, warning, critical' });

/**
 * At most `max` messages per `per_seconds` (sliding window) on a channel; `critical_reserve`
 * of them only critical alerts may use (default: a quarter of `max`, rounded down).
 */
export const AlertRateLimitSchema = z
  .strictObject({
    max: int(1).default(20),
    per_seconds: int(1).default(60),
    critical_reserve: int(0).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.critical_reserve !== undefined && r.critical_reserve >= r.max) {
      ctx.addIssue({
        code: 'custom',
        message: `expected fewer than max (${r.max}): other alerts need at least one message per window`,
        path: ['critical_reserve'],
        input: r.critical_reserve,
      });
    }
  })
  .transform((r) => ({ ...r, critical_reserve: r.critical_reserve ?? Math.floor(r.max / 4) }));

export const AlertRetriesSchema = z.strictObject({
  /** Retries after the first attempt (0 = none). */
  max: int(0).default(3),
  /** Back-off: base_delay_seconds * 2^(retry - 1), at most max_delay_seconds. */
  base_delay_seconds: seconds().default(2),
  max_delay_seconds: seconds().default(60),
});

const common = {
  /** Names the channel in stats and errors; default its type. Two channels of one type need names. */
  name: ChannelName().optional(),
  /** Alerts below this level are not sent here. */
  min_level: AlertLevelSchema.default('warning'),
  /** This channel's own rate limit; default the section's `rate_limit`. */
  rate_limit: AlertRateLimitSchema.optional(),
};

export const WecomChannelSchema = z.strictObject({
  type: z.literal('wecom'),
  ...common,
  /** Env var holding the robot's webhook URL (…/cgi-bin/webhook/send?key=…) or just its key. */
  webhook_url_env: EnvName(),
  format: z.enum(['markdown', 'text']).default('markdown'),
});

export const DingtalkChannelSchema = z.strictObject({
  type: z.literal('dingtalk'),
  ...common,
  /** Env var holding the robot's webhook URL (…/robot/send?access_token=…) or just its token. */
  webhook_url_env: EnvName(),
  /** Env var holding the 加签 secret (SEC…), when the robot signs. */
  secret_env: EnvName().optional(),
  format: z.enum(['markdown', 'text']).default('markdown'),
});

export const FeishuChannelSchema = z.strictObject({
  type: z.literal('feishu'),
  ...common,
  /** Env var holding the bot's webhook URL (…/open-apis/bot/v2/hook/…) or just its token. */
  webhook_url_env: EnvName(),
  /** Env var holding the 签名校验 secret, when the bot checks signatures. */
  secret_env: EnvName().optional(),
  format: z.enum(['text', 'card']).default('text'),
});

export const EmailChannelSchema = z
  .strictObject({
    type: z.literal('email'),
    ...common,
    host: nonEmpty('an SMTP host name'),
    /** Default 465 when secure, else 587. */
    port: int(1).max(65_535, { error: 'expected a port from 1 to 65535' }).optional(),
    /** true: TLS from the start (465); false: upgrade with STARTTLS (587). */
    secure: z.boolean({ error: 'expected true or false' }).default(true),
    /** Without secure: refuse to send unless the server upgrades with STARTTLS (false only for a TLS-less relay on this host). */
    require_tls: z.boolean({ error: 'expected true or false' }).default(true),
    user_env: EnvName().optional(),
    password_env: EnvName().optional(),
    from: emailAddress(),
    to: z.array(emailAddress(), { error: 'expected an array of email addresses' }).min(1, { error: 'expected at least one email address' }),
  })
  .superRefine((c, ctx) => {
    if (c.password_env !== undefined && c.user_env === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected user_env too (password_env is set: a password needs a user name)', path: ['user_env'], input: undefined });
    }
  });

export const WebhookChannelSchema = z
  .strictObject({
    type: z.literal('webhook'),
    ...common,
    /** Env var holding the URL (use it when the URL carries a token). */
    url_env: EnvName().optional(),
    /** The URL itself, when it holds no secret. */
    url: httpUrl().optional(),
    /** Env var holding a token sent as `Authorization: Bearer <token>`. */
    token_env: EnvName().optional(),
    /** Env var holding the secret of the `X-Agent-Trader-Signature` HMAC. */
    secret_env: EnvName().optional(),
  })
  .superRefine((c, ctx) => {
    if ((c.url === undefined) === (c.url_env === undefined)) {
      const both = c.url !== undefined;
      ctx.addIssue({
        code: 'custom',
        message: both ? 'expected url or url_env, not both' : 'expected url_env (the name of an environment variable holding the URL) or url',
        path: [both ? 'url' : 'url_env'],
        input: undefined,
        ...(both ? { params: { got: 'both' } } : {}),
      });
    }
  });

const CHAT_ID = 'expected a Telegram chat id (a number like 123456789 or -1001234567890, or "@channelname")';
const ChatId = () => z.union([z.int({ error: CHAT_ID }), z.string({ error: CHAT_ID }).regex(/^(-?\d+|@[A-Za-z0-9_]{5,})$/, { error: CHAT_ID })], { error: CHAT_ID });

export const TelegramChannelSchema = z.strictObject({
  type: z.literal('telegram'),
  ...common,
  /** Env var holding the bot's token (from @BotFather). */
  bot_token_env: EnvName(),
  /** The chats the bot writes to (the bot must be in them; a user must have started it). */
  chat_ids: z.array(ChatId(), { error: 'expected an array of Telegram chat ids' }).min(1, { error: 'expected at least one chat id' }),
  /** The Bot API server; default https://api.telegram.org (a local Bot API server: its URL). */
  api_url: httpUrl().optional(),
  /** Take commands from chats too (getUpdates long polling): /status, /positions, /pause, /resume, /kill, /flatten. */
  commands: z.boolean({ error: 'expected true or false' }).default(false),
  /** The chats whose commands are executed; default the numeric ids of chat_ids. Any other chat is ignored. */
  command_chat_ids: z.array(z.int({ error: 'expected a numeric Telegram chat id (like 123456789)' }), { error: 'expected an array of numeric Telegram chat ids' }).min(1, { error: 'expected at least one chat id' }).optional(),
});

export const AlertChannelSchema = z.discriminatedUnion(
  'type',
  [WecomChannelSchema, DingtalkChannelSchema, FeishuChannelSchema, EmailChannelSchema, WebhookChannelSchema, TelegramChannelSchema],
  { error: 'expected a channel type: wecom, dingtalk, feishu, email, webhook or telegram' },
);

// ---------------------------------------------------------------------------
// The section

export const AlertsSchema = z.strictObject({
  /** The same (code, signature, level) inside this window is sent once; repeats are summarised. 0 = off. */
  dedupe_seconds: int(0).default(300),
  /** Per channel, unless the channel has its own. */
  rate_limit: AlertRateLimitSchema.prefault({}),
  retries: AlertRetriesSchema.prefault({}),
  /** One request (HTTP or SMTP) gives up after this long. */
  timeout_seconds: seconds().default(10),
  /** Messages waiting per channel; beyond it the waiting ones are merged into one digest. */
  queue_size: int(1).default(100),
  /** At shutdown, pending alerts get this long to go out. */
  close_timeout_seconds: seconds().default(10),
  channels: z
    .array(AlertChannelSchema, { error: 'expected an array of channels' })
    .default([])
    .superRefine((channels, ctx) => {
      const seen = new Map<string, number>();
      channels.forEach((c, i) => {
        const name = c.name ?? c.type;
        const first = seen.get(name);
        if (first === undefined) seen.set(name, i);
        else
          ctx.addIssue({
            code: 'custom',
            message: 'expected a unique channel name',
            path: [i, 'name'],
            input: name,
            params: { note: `already used by channels[${first}]; channels of one type need a name each` },
          });
      });
    }),
});

export type AlertsConfig = z.output<typeof AlertsSchema>;
export type AlertChannelConfig = AlertsConfig['channels'][number];

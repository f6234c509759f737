/**
 * The alert channels, and the factory that builds them from the `alerts` config section:
 * it reads each channel's secrets from the environment (src/config/env.ts: errors name the
 * variable and the setting, never a value) and takes the token out of a webhook URL.
 */
import type { SchedulerLike } from 'rxjs';
import type { AlertChannelConfig, AlertsConfig } from '../../../config/alerts-schema.js';
import { readOptionalSecret, readSecret } from '../../../config/env.js';
import { InputError } from '../../../domain/errors.js';
import type { AlertChannel, ChannelDeps } from './channel.js';
import { createDingtalkChannel, parseDingtalkWebhook } from './dingtalk.js';
import { createEmailChannel } from './email.js';
import { createFeishuChannel, parseFeishuWebhook } from './feishu.js';
import type { WebhookTarget } from './http.js';
import { createWebhookChannel } from './webhook.js';
import { createTelegramChannel } from './telegram.js';
import { createWecomChannel, parseWecomWebhook } from './wecom.js';

export * from './channel.js';
export { createDingtalkChannel, dingtalkSign, DINGTALK_BASE_URL, type DingtalkSettings } from './dingtalk.js';
export { createEmailChannel, type EmailSettings } from './email.js';
export { createFeishuChannel, feishuSign, FEISHU_BASE_URL, type FeishuSettings } from './feishu.js';
export { createWebhookChannel, webhookSignature, SIGNATURE_HEADER, type WebhookSettings } from './webhook.js';
export { createWecomChannel, WECOM_BASE_URL, type WecomSettings } from './wecom.js';
export { createTelegramChannel, TELEGRAM_BASE_URL, type TelegramSettings } from './telegram.js';

export interface CreateChannelsDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly scheduler: SchedulerLike;
  readonly now: () => number;
}

/** One channel per config entry, in order, each with the entry it came from. */
export function createChannels(
  config: AlertsConfig,
  deps: CreateChannelsDeps,
): { readonly channel: AlertChannel; readonly spec: AlertChannelConfig }[] {
  const channelDeps: ChannelDeps = { scheduler: deps.scheduler, now: deps.now, timeoutMs: config.timeout_seconds * 1000 };
  return config.channels.map((spec, i) => ({ channel: createChannel(spec, `alerts.channels[${i}]`, deps.env, channelDeps), spec }));
}

function createChannel(spec: AlertChannelConfig, at: string, env: NodeJS.ProcessEnv, deps: ChannelDeps): AlertChannel {
  const name = spec.name ?? spec.type;
  const secret = (key: string, envName: string) => readSecret(envName, env, `${at}.${key}`);
  const optional = (key: string, envName: string | undefined) => readOptionalSecret(envName, env, `${at}.${key}`);
  switch (spec.type) {
    case 'wecom': {
      const t = target(secret('webhook_url_env', spec.webhook_url_env), parseWecomWebhook, spec.webhook_url_env, at, 'a WeCom robot webhook URL (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...) or its key');
      return createWecomChannel({ name, key: t.token, baseUrl: t.baseUrl, format: spec.format }, deps);
    }
    case 'dingtalk': {
      const t = target(secret('webhook_url_env', spec.webhook_url_env), parseDingtalkWebhook, spec.webhook_url_env, at, 'a DingTalk robot webhook URL (https://oapi.dingtalk.com/robot/send?access_token=...) or its access token');
      const signing = optional('secret_env', spec.secret_env);
      return createDingtalkChannel({ name, accessToken: t.token, baseUrl: t.baseUrl, format: spec.format, ...(signing !== undefined ? { secret: signing } : {}) }, deps);
    }
    case 'feishu': {
      const t = target(secret('webhook_url_env', spec.webhook_url_env), parseFeishuWebhook, spec.webhook_url_env, at, 'a Feishu/Lark bot webhook URL (https://open.feishu.cn/open-apis/bot/v2/hook/...) or its token');
      const signing = optional('secret_env', spec.secret_env);
      return createFeishuChannel({ name, token: t.token, baseUrl: t.baseUrl, format: spec.format, ...(signing !== undefined ? { secret: signing } : {}) }, deps);
    }
    case 'email': {
      const user = optional('user_env', spec.user_env);
      const password = optional('password_env', spec.password_env);
      return createEmailChannel(
        {
          name,
          host: spec.host,
          port: spec.port ?? (spec.secure ? 465 : 587),
          secure: spec.secure,
          requireTls: spec.require_tls,
          from: spec.from,
          to: spec.to,
          ...(user !== undefined ? { user } : {}),
          ...(password !== undefined ? { password } : {}),
        },
        deps,
      );
    }
    case 'telegram':
      return createTelegramChannel({ name, token: secret('bot_token_env', spec.bot_token_env), chatIds: spec.chat_ids, ...(spec.api_url ? { baseUrl: spec.api_url.replace(/\/+$/, '') } : {}) }, deps);
    case 'webhook': {
      const url = spec.url_env !== undefined ? secret('url_env', spec.url_env) : spec.url!;
      if (spec.url_env !== undefined && !isHttpUrl(url)) {
        throw new InputError(`environment variable ${spec.url_env} (named by ${at}.url_env) does not hold an http:// or https:// URL`);
      }
      const token = optional('token_env', spec.token_env);
      const signing = optional('secret_env', spec.secret_env);
      return createWebhookChannel(
        { name, url, ...(token !== undefined ? { token } : {}), ...(signing !== undefined ? { secret: signing } : {}) },
        deps,
      );
    }
  }
}

function target(value: string, parse: (v: string) => WebhookTarget | undefined, envName: string, at: string, what: string): WebhookTarget {
  const t = parse(value);
  // Never echo the value: it is the robot's credential.
  if (!t) throw new InputError(`environment variable ${envName} (named by ${at}.webhook_url_env) does not hold ${what}`);
  return t;
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

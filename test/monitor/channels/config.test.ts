import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../../src/actors/monitor/alert-dispatcher.js';
import { AlertsSchema } from '../../../src/config/alerts-schema.js';
import { configErrorMap, formatIssues } from '../../../src/config/errors.js';
import { InputError } from '../../../src/domain/errors.js';
import { alert, HttpSink, newScheduler, SmtpSink } from './helpers.js';

const problems = (raw: unknown): string[] => {
  const r = AlertsSchema.safeParse(raw, { error: configErrorMap, reportInput: true });
  return r.success ? [] : formatIssues(r.error.issues, { schema: AlertsSchema, input: raw });
};

const thrown = (f: () => unknown): Error => {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
};

let sink: HttpSink | undefined;
let smtp: SmtpSink | undefined;
afterEach(async () => {
  await sink?.close();
  await smtp?.close();
  sink = undefined;
  smtp = undefined;
});

describe('alerts config section', () => {
  it('has a default for everything but the channels themselves', () => {
    expect(AlertsSchema.parse({})).toEqual({
      dedupe_seconds: 300,
      rate_limit: { max: 20, per_seconds: 60, critical_reserve: 5 },
      retries: { max: 3, base_delay_seconds: 2, max_delay_seconds: 60 },
      timeout_seconds: 10,
      queue_size: 100,
      close_timeout_seconds: 10,
      channels: [],
    });
    const parsed = AlertsSchema.parse({
      rate_limit: { max: 10 },
      channels: [
        { type: 'wecom', webhook_url_env: 'WECOM_WEBHOOK' },
        { type: 'feishu', webhook_url_env: 'FEISHU_WEBHOOK', rate_limit: { max: 100, per_seconds: 60, critical_reserve: 10 } },
        { type: 'email', host: 'smtp.example.com', from: 'alerts@example.com', to: ['ops@example.com'] },
      ],
    });
    expect(parsed.rate_limit).toEqual({ max: 10, per_seconds: 60, critical_reserve: 2 });
    expect(parsed.channels).toEqual([
      { type: 'wecom', min_level: 'warning', webhook_url_env: 'WECOM_WEBHOOK', format: 'markdown' },
      { type: 'feishu', min_level: 'warning', webhook_url_env: 'FEISHU_WEBHOOK', format: 'text', rate_limit: { max: 100, per_seconds: 60, critical_reserve: 10 } },
      { type: 'email', min_level: 'warning', host: 'smtp.example.com', secure: true, require_tls: true, from: 'alerts@example.com', to: ['ops@example.com'] },
    ]);
  });

  it('says what is wrong, one line per problem, and never echoes what was put in an _env key', () => {
    expect(problems({ channels: [{ type: 'slack' }] })).toEqual(['channels[0].type: expected a channel type: wecom, dingtalk, feishu, email, webhook or telegram, got "slack"']);
    expect(problems({ channels: [{ type: 'dingtalk', webhook_url_env: 'https://oapi.dingtalk.com/robot/send?access_token=abc123' }] })).toEqual([
      'channels[0].webhook_url_env: expected the name of an environment variable (like OPENAI_API_KEY: A-Z, 0-9, _), got a value that is not a variable name (not shown: it may be a secret)',
    ]);
    expect(problems({ channels: [{ type: 'email', host: 'h', from: 'x', to: [], password: 'p', password_env: 'P' }] })).toEqual([
      'channels[0].from: expected an email address (like alerts@example.com, or "Agent Trader <alerts@example.com>"), got "x"',
      'channels[0].to: expected at least one email address, got []',
      'channels[0].password: secrets are not read from the config file; set password_env to the name of an environment variable',
      'channels[0].user_env: expected user_env too (password_env is set: a password needs a user name), got nothing (required)',
    ]);
    expect(problems({ channels: [{ type: 'dingtalk', webhook_url_env: 'A' }, { type: 'dingtalk', webhook_url_env: 'B' }] })).toEqual([
      'channels[1].name: expected a unique channel name, got "dingtalk" (already used by channels[0]; channels of one type need a name each)',
    ]);
    expect(problems({ rate_limit: { max: 3, critical_reserve: 3 }, retries: { max: -1 } })).toEqual([
      'rate_limit.critical_reserve: expected fewer than max (3): other alerts need at least one message per window, got 3',
      'retries.max: expected a whole number >= 0, got -1',
    ]);
    expect(problems({ channels: [{ type: 'webhook' }, { type: 'webhook', name: 'w2', url: 'https://x.y/z', url_env: 'U' }, { type: 'feishu', webhook_url_env: 'F', min_level: 'error' }] })).toEqual([
      'channels[0].url_env: expected url_env (the name of an environment variable holding the URL) or url, got nothing (required)',
      'channels[1].url: expected url or url_env, not both, got both',
      'channels[2].min_level: expected one of info, warning, critical, got "error"',
    ]);
  });

  it('accepts the example of docs/alerts.md', () => {
    const doc = readFileSync(new URL('../../../docs/alerts.md', import.meta.url), 'utf8');
    const example = /## Example\n\n```json\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const parsed = AlertsSchema.parse((JSON.parse(example!) as { alerts: unknown }).alerts);
    expect(parsed.channels.map((c) => c.name ?? c.type)).toEqual(['oncall', 'wecom', 'feishu', 'email', 'pager']);
  });
});

describe('createDispatcher', () => {
  it('stops at start when a named variable is not set, naming the variable and the setting', () => {
    const config = AlertsSchema.parse({ channels: [{ type: 'dingtalk', webhook_url_env: 'DING_URL', secret_env: 'DING_SECRET' }] });
    const err = thrown(() => createDispatcher(config, { env: { DING_URL: 'https://oapi.dingtalk.com/robot/send?access_token=tok123456789' }, scheduler: newScheduler() }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe('environment variable DING_SECRET is not set (named by alerts.channels[0].secret_env)');
  });

  it('refuses a variable that holds no webhook URL, without showing what it holds', () => {
    const config = AlertsSchema.parse({ channels: [{ type: 'wecom', webhook_url_env: 'WECOM_WEBHOOK' }] });
    const value = 'https://example.com/hooks?token=sk-not-a-wecom-url';
    const err = thrown(() => createDispatcher(config, { env: { WECOM_WEBHOOK: value }, scheduler: newScheduler() }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(
      'environment variable WECOM_WEBHOOK (named by alerts.channels[0].webhook_url_env) does not hold a WeCom robot webhook URL (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...) or its key',
    );
    expect(err.message).not.toContain('sk-not-a-wecom-url');
  });

  it('builds every configured channel from the environment and fans an alert out to them', async () => {
    sink = await HttpSink.start((req) => (req.url.startsWith('/open-apis/') ? { json: { code: 0, msg: 'success' } } : { json: { errcode: 0, errmsg: 'ok' } }));
    smtp = await SmtpSink.start({ requireAuth: true });
    smtp.credentials = { user: 'bot@example.com', password: 'pw-1234567' };
    const config = AlertsSchema.parse({
      channels: [
        { type: 'wecom', webhook_url_env: 'WECOM_WEBHOOK', min_level: 'info' },
        { type: 'dingtalk', webhook_url_env: 'DING_WEBHOOK', secret_env: 'DING_SECRET' },
        { type: 'feishu', webhook_url_env: 'FEISHU_WEBHOOK' },
        { type: 'email', min_level: 'critical', host: '127.0.0.1', port: smtp.port, secure: false, require_tls: false, user_env: 'SMTP_USER', password_env: 'SMTP_PASSWORD', from: 'bot@example.com', to: ['ops@example.com'] },
        { type: 'webhook', name: 'pager', url: `${sink.origin}/pager` },
      ],
    });
    const env = {
      WECOM_WEBHOOK: `${sink.origin}/cgi-bin/webhook/send?key=wecom-key-0001`,
      DING_WEBHOOK: `${sink.origin}/robot/send?access_token=ding-token-0002`,
      DING_SECRET: 'SECding-secret-0003',
      FEISHU_WEBHOOK: `${sink.origin}/open-apis/bot/v2/hook/feishu-token-0004`,
      SMTP_USER: 'bot@example.com',
      SMTP_PASSWORD: 'pw-1234567',
    };
    const d = createDispatcher(config, { env, scheduler: newScheduler() });
    d.dispatch(alert({ level: 'warning', code: 'W' }));
    d.dispatch(alert({ level: 'critical', code: 'C' }));
    await d.settled();
    const paths = sink.requests.map((r) => new URL(r.url, sink!.origin).pathname).sort();
    expect(paths).toEqual([
      '/cgi-bin/webhook/send',
      '/cgi-bin/webhook/send',
      '/open-apis/bot/v2/hook/feishu-token-0004',
      '/open-apis/bot/v2/hook/feishu-token-0004',
      '/pager',
      '/pager',
      '/robot/send',
      '/robot/send',
    ]);
    expect(smtp.mails.map((m) => m.user)).toEqual(['bot@example.com']);
    expect(Object.entries(d.stats()).map(([name, s]) => [name, s.sent, s.failed])).toEqual([
      ['wecom', 2, 0],
      ['dingtalk', 2, 0],
      ['feishu', 2, 0],
      ['email', 1, 0],
      ['pager', 2, 0],
    ]);
    await d.close();
  });
});

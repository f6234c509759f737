import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, type AlertFailure } from '../../../src/actors/monitor/alert-dispatcher.js';
import { buildRequest, createEmailChannel, type EmailSettings } from '../../../src/actors/monitor/channels/email.js';
import { AlertsSchema } from '../../../src/config/alerts-schema.js';
import { advance, alert, EPOCH, expectNoSecrets, newScheduler, parseMail, SmtpSink } from './helpers.js';

const USER = 'alerts@example.com';
const PASSWORD = 'smtp-pass-4f8e2a9c';
const full = alert({ signature: 'gpt-5', sessionId: 's-42' });

let smtp: SmtpSink | undefined;
afterEach(async () => {
  await smtp?.close();
  smtp = undefined;
});

const settingsFor = (port: number): EmailSettings => ({
  host: '127.0.0.1',
  port,
  secure: false,
  // The test server has no certificate: loopback only.
  requireTls: false,
  user: USER,
  password: PASSWORD,
  from: 'Agent Trader <alerts@example.com>',
  to: ['ops@example.com', 'oncall@example.com'],
});

describe('alert email', () => {
  it('has the subject [agent-trader] LEVEL CODE and the alert as plain text', () => {
    expect(buildRequest(full, settingsFor(25), EPOCH + 5000)).toEqual({
      from: 'Agent Trader <alerts@example.com>',
      to: ['ops@example.com', 'oncall@example.com'],
      subject: '[agent-trader] CRITICAL BROKER_DISCONNECTED',
      text: 'broker connection lost\nsignature: gpt-5 · session: s-42\ntime: 2026-01-05T14:30:00.000Z\n',
      date: new Date(EPOCH + 5000),
      priority: 'high',
      headers: { 'X-Agent-Trader-Level': 'critical', 'X-Agent-Trader-Code': 'BROKER_DISCONNECTED' },
    });
    expect(buildRequest(alert({ level: 'warning' }), settingsFor(25), EPOCH).priority).toBe('normal');
  });

  it('is delivered over SMTP with the login from the environment, to every recipient', async () => {
    smtp = await SmtpSink.start({ requireAuth: true });
    smtp.credentials = { user: USER, password: PASSWORD };
    const scheduler = newScheduler();
    const channel = createEmailChannel(settingsFor(smtp.port), { scheduler, now: () => scheduler.now(), timeoutMs: 5000 });
    await channel.send({ kind: 'alert', alert: full, more: 0 });
    await channel.close?.();
    const mail = smtp.mails[0]!;
    expect(mail.from).toBe('alerts@example.com');
    expect(mail.to).toEqual(['ops@example.com', 'oncall@example.com']);
    expect(mail.user).toBe(USER);
    expect(mail.password).toBe(PASSWORD);
    const { headers, body } = parseMail(mail.raw);
    expect(headers['subject']).toBe('[agent-trader] CRITICAL BROKER_DISCONNECTED');
    expect(headers['from']).toBe('Agent Trader <alerts@example.com>');
    expect(headers['to']).toBe('ops@example.com, oncall@example.com');
    expect(headers['date']).toBe('Mon, 05 Jan 2026 14:30:00 +0000');
    expect(headers['x-agent-trader-level']).toBe('critical');
    expect(headers['x-agent-trader-code']).toBe('BROKER_DISCONNECTED');
    expect(headers['x-priority']).toMatch(/^1/);
    expect(headers['content-type']).toMatch(/^text\/plain; charset=utf-8/);
    expect(body).toBe('broker connection lost\nsignature: gpt-5 · session: s-42\ntime: 2026-01-05T14:30:00.000Z\n');
  });

  it('by default refuses to send (or log in) over a connection the server cannot upgrade with STARTTLS', async () => {
    smtp = await SmtpSink.start({ requireAuth: true });
    smtp.credentials = { user: USER, password: PASSWORD };
    const scheduler = newScheduler();
    const { requireTls: _, ...settings } = settingsFor(smtp.port);
    const channel = createEmailChannel(settings, { scheduler, now: () => scheduler.now(), timeoutMs: 5000 });
    const err = await channel.send({ kind: 'alert', alert: full, more: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'smtp', retryable: false });
    expect((err as Error).message).toMatch(/^email: ETLS /);
    expect(smtp.logins).toHaveLength(0);
    expect(smtp.mails).toHaveLength(0);
  });

  it('fails a refused login at once, and the password never shows in the error', async () => {
    smtp = await SmtpSink.start({ requireAuth: true });
    smtp.credentials = { user: USER, password: 'another-password' };
    smtp.authFailure = `Invalid login for ${USER} with ${PASSWORD}`;
    const scheduler = newScheduler();
    const channel = createEmailChannel(settingsFor(smtp.port), { scheduler, now: () => scheduler.now(), timeoutMs: 5000 });
    const err = await channel.send({ kind: 'alert', alert: full, more: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'smtp', retryable: false, details: { status: 535, code: 'EAUTH' } });
    expect((err as Error).message).toMatch(/^email: EAUTH .*535/);
    expect((err as Error).message).toContain('[redacted]');
    expect(expectNoSecrets([(err as Error).message], [PASSWORD])).toEqual([]);
    expect(smtp.mails).toHaveLength(0);
  });

  it('retries a 451 (try later) and a server that never answers; gives up on a 550', async () => {
    smtp = await SmtpSink.start();
    smtp.onData = (i) => (i === 0 ? { code: 451, message: 'try again later' } : i === 1 ? 'hang' : i === 2 ? 'ok' : { code: 550, message: 'mailbox unavailable' });
    const scheduler = newScheduler();
    const failures: AlertFailure[] = [];
    const config = AlertsSchema.parse({
      timeout_seconds: 5,
      retries: { max: 3, base_delay_seconds: 2 },
      channels: [{ type: 'email', min_level: 'warning', host: '127.0.0.1', port: smtp.port, secure: false, require_tls: false, from: 'alerts@example.com', to: ['ops@example.com'] }],
    });
    const d = createDispatcher(config, { env: {}, scheduler, onError: (f) => failures.push(f) });
    const settled = () => d.settled();
    d.dispatch(full);
    await smtp.received(1);
    await d.settled();
    expect(failures.map((f) => [f.outcome, f.retryInMs])).toEqual([['retrying', 2000]]);
    expect(failures[0]!.message).toMatch(/^email: EMESSAGE .*451 try again later/);
    scheduler.advanceTo(scheduler.now() + 2000);
    await smtp.received(2); // the server keeps this one without answering
    await advance(scheduler, settled, 5000);
    expect(failures[1]).toMatchObject({ outcome: 'retrying', attempt: 2, retryInMs: 4000, message: 'email: no answer within 5000 ms' });
    await advance(scheduler, settled, 4000);
    expect(smtp.mails).toHaveLength(3);
    expect(d.stats()['email']).toMatchObject({ sent: 1, failed: 0, retries: 2 });

    d.dispatch(alert({ code: 'OTHER' }));
    await smtp.received(4);
    await d.settled();
    expect(failures.at(-1)).toMatchObject({ outcome: 'failed', attempt: 1, code: 'OTHER' });
    expect(failures.at(-1)!.message).toMatch(/550 mailbox unavailable/);
    expect(d.stats()['email']).toMatchObject({ sent: 1, failed: 1, retries: 2 });
    await d.close();
  });
});

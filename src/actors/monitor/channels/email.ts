/**
 * Email over SMTP with nodemailer: one plain-text message per notice.
 *
 *   From:    <from>
 *   To:      <to, ...>
 *   Subject: [agent-trader] CRITICAL BROKER_DISCONNECTED
 *   Date:    <the alert's instant from the injected clock>
 *   X-Agent-Trader-Level: critical        (mail filters can sort on these)
 *   X-Agent-Trader-Code:  BROKER_DISCONNECTED
 *   X-Priority: 1 (Highest)               (critical only; others normal)
 *
 *   <the body lines of ./format.ts>
 *
 * - `secure: true` is implicit TLS (port 465); `false` connects in plain text and upgrades
 *   with STARTTLS (port 587), which is required unless `requireTls` is false (a relay on
 *   the same host that has no TLS): a password or an alert never crosses a network in clear
 *   by accident. User and password come from the environment; without a user nothing is
 *   sent to authenticate.
 * - One connection per message (no pool): alerts are rare and a pooled connection that the
 *   server dropped overnight would fail the first alert of the morning.
 * - The request is aborted on the injected scheduler after `timeoutMs` (nodemailer's
 *   `signal`: it closes the SMTP connection of that message). Aborting cannot prove the
 *   server had not already accepted the message, so a retry may send it twice: better a
 *   duplicate alert than none.
 * - Errors: 4xx replies (and 503) are transient and retried, 5xx are not; a connection that
 *   fails or drops (ECONNECTION, ESOCKET, ETIMEDOUT, EDNS) is retried; a refused login
 *   (EAUTH), a TLS failure and bad settings are not. The password never appears in an error.
 */
import { createTransport, type NodemailerError } from 'nodemailer';
import { asNotice, ChannelError, describeError, timeoutSignal, type Alert, type AlertChannel, type ChannelDeps, type Notice } from './channel.js';
import { render } from './format.js';

export interface EmailSettings {
  /** Default `email`. */
  readonly name?: string;
  readonly host: string;
  readonly port: number;
  /** Implicit TLS (465) when true; STARTTLS otherwise. */
  readonly secure: boolean;
  /** Without `secure`: fail unless the server upgrades with STARTTLS. Default true. */
  readonly requireTls?: boolean;
  readonly user?: string;
  readonly password?: string;
  /** `alerts@example.com` or `Agent Trader <alerts@example.com>`. */
  readonly from: string;
  readonly to: readonly string[];
}

/** Exactly what is handed to nodemailer's sendMail (less the abort signal). */
export interface EmailMessageSpec {
  readonly from: string;
  readonly to: string[];
  readonly subject: string;
  readonly text: string;
  readonly date: Date;
  readonly priority: 'high' | 'normal';
  readonly headers: Readonly<Record<string, string>>;
}

const RETRY_CODES = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS']);

export function buildRequest(alert: Alert | Notice, settings: EmailSettings, now: number): EmailMessageSpec {
  const r = render(asNotice(alert));
  return {
    from: settings.from,
    to: [...settings.to],
    subject: r.title,
    text: `${r.lines.join('\n')}\n`,
    date: new Date(now),
    priority: r.level === 'critical' ? 'high' : 'normal',
    headers: { 'X-Agent-Trader-Level': r.level, 'X-Agent-Trader-Code': r.code },
  };
}

export function createEmailChannel(settings: EmailSettings, deps: ChannelDeps): AlertChannel {
  const name = settings.name ?? 'email';
  const secrets = settings.password !== undefined ? [settings.password] : [];
  const transport = createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.secure,
    requireTLS: !settings.secure && (settings.requireTls ?? true),
    ...(settings.user !== undefined ? { auth: { user: settings.user, pass: settings.password ?? '' } } : {}),
  });
  return {
    name,
    type: 'email',
    secrets,
    async send(notice, signal) {
      const timed = timeoutSignal(deps.scheduler, deps.timeoutMs, signal);
      try {
        await transport.sendMail({ ...buildRequest(notice, settings, deps.now()), signal: timed.signal });
      } catch (err) {
        if (timed.timedOut()) throw new ChannelError('timeout', `${name}: no answer within ${deps.timeoutMs} ms`, true);
        if (timed.signal.aborted) throw new ChannelError('aborted', `${name}: send aborted (closing)`, false);
        throw smtpError(name, err, secrets);
      } finally {
        timed.done();
      }
    },
    async close() {
      transport.close();
    },
  };
}

function smtpError(name: string, err: unknown, secrets: readonly string[]): ChannelError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as NodemailerError;
  const status = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const retryable =
    status !== undefined
      ? e.permanent !== undefined
        ? !e.permanent
        : status < 500 || status === 503
      : code !== undefined && RETRY_CODES.has(code);
  // nodemailer's own message says the step and the server's reply; describeError would
  // prefer a socket `cause`, which loses the SMTP reply.
  const text = describeError(err instanceof Error ? new Error(err.message) : err, secrets);
  return new ChannelError('smtp', `${name}: ${code !== undefined ? `${code} ` : ''}${text}`, retryable, {
    ...(status !== undefined ? { status } : {}),
    ...(code !== undefined ? { code } : {}),
  });
}

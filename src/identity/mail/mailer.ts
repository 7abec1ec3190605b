import { createTransport, type Transporter } from 'nodemailer';
import { systemClock, uuidv7, type Clock, type Logger } from '../../core/index.js';

/**
 * Outgoing identity mail (magic links). Three transports:
 * - `smtp`: nodemailer to a relay (`smtp://` with STARTTLS required unless `requireTls: false`, or
 *   `smtps://`); the password comes from a secret, never from the URL;
 * - `outbox`: development only, kept in memory (the last OUTBOX_LIMIT messages) and shown at
 *   GET /dev/outbox; production refuses it (config problem) and development warns loudly;
 * - `disabled`: production without a relay: mail-based sign-in answers 503.
 * A message body carries a sign-in link, so nothing of it is ever logged.
 */

export type MailMessage = { to: string; subject: string; text: string };
export type OutboxEntry = MailMessage & { id: string; from: string; sentAt: Date };
export type MailTransportKind = 'smtp' | 'outbox' | 'disabled';

export type Mailer = {
  readonly kind: MailTransportKind;
  readonly from: string;
  /** Resolves when the relay accepted the message (or it is in the outbox); rejects on failure. */
  send(message: MailMessage): Promise<void>;
  /** Starts sending without waiting (the caller answers at once); a failure is logged without the message. */
  sendInBackground(message: MailMessage): void;
  /** Resolves once every background send has settled (tests, shutdown). */
  idle(): Promise<void>;
  /** Newest first; empty unless the transport is `outbox`. */
  outbox(): readonly OutboxEntry[];
  close(): void;
};

export const OUTBOX_LIMIT = 100;

export type MailerOptions = {
  transport: MailTransportKind;
  from: string;
  smtpUrl?: string | undefined;
  password?: string | undefined;
  requireTls?: boolean;
  /** Extra CA (PEM) for a relay with a private CA. */
  ca?: Buffer | undefined;
  log?: Logger;
  clock?: Clock;
};

function smtpTransport(options: MailerOptions): Transporter {
  if (!options.smtpUrl) throw new Error('mail: the smtp transport needs mail.smtpUrl');
  const url = new URL(options.smtpUrl);
  const secure = url.protocol === 'smtps:';
  return createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    requireTLS: !secure && options.requireTls !== false,
    ignoreTLS: !secure && options.requireTls === false,
    ...(url.username && options.password ? { auth: { user: decodeURIComponent(url.username), pass: options.password } } : {}),
    tls: { minVersion: 'TLSv1.2', ...(options.ca ? { ca: options.ca } : {}) },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
    logger: false,
    debug: false,
  });
}

export function createMailer(options: MailerOptions): Mailer {
  const clock = options.clock ?? systemClock;
  const entries: OutboxEntry[] = [];
  const pending = new Set<Promise<void>>();
  const transport = options.transport === 'smtp' ? smtpTransport(options) : undefined;

  const send = async (message: MailMessage): Promise<void> => {
    if (options.transport === 'disabled') throw new Error('mail is disabled: configure mail.smtpUrl');
    if (transport) {
      await transport.sendMail({ from: options.from, to: message.to, subject: message.subject, text: message.text });
      return;
    }
    entries.unshift({ ...message, id: uuidv7(), from: options.from, sentAt: clock.now() });
    entries.length = Math.min(entries.length, OUTBOX_LIMIT);
  };

  return {
    kind: options.transport,
    from: options.from,
    send,
    sendInBackground(message) {
      const work = send(message).catch((error: unknown) => {
        // The error, not the message: the body holds a sign-in link (DA-4).
        options.log?.warn({ err: { message: error instanceof Error ? error.message.slice(0, 200) : 'mail failed' }, transport: options.transport }, 'identity mail could not be sent');
      });
      pending.add(work);
      void work.finally(() => pending.delete(work));
    },
    async idle() {
      while (pending.size) await Promise.all([...pending]);
    },
    outbox: () => entries,
    close: () => transport?.close(),
  };
}

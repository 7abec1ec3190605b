/** Identity mail: transports (SMTP via nodemailer, development outbox) and the outbox page. */
export { createMailer, OUTBOX_LIMIT, type Mailer, type MailerOptions, type MailMessage, type OutboxEntry, type MailTransportKind } from './mailer.js';
export { outboxRoutes, renderOutbox } from './outbox-page.js';

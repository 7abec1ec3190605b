import { defineRoute, type RouteDefinition } from '../../http/index.js';
import type { Mailer } from './mailer.js';

/**
 * GET /dev/outbox: the development outbox as a plain HTML page (no scripts at all, so the strict
 * CSP holds). Registered only when the environment is not production and the transport is the
 * outbox. It holds every tenant's mail, so it is a platform resource: only a platform operator,
 * signed in with a passkey, reads it (the first admin of an install is its operator).
 */

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderOutbox(mailer: Mailer): string {
  const items = mailer
    .outbox()
    .map(
      (m) => `<article><h2>${escapeHtml(m.subject)}</h2><p><small>${escapeHtml(m.sentAt.toISOString())} · from ${escapeHtml(m.from)} · to ${escapeHtml(m.to)}</small></p><pre>${escapeHtml(m.text)}</pre></article>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Rampart development outbox</title></head>
<body><main><h1>Development outbox</h1>
<p><strong>Development only.</strong> Mail is not delivered: it stays in this process's memory (last messages first). Configure <code>mail.smtpUrl</code> to send real mail; production refuses this outbox.</p>
${items || '<p>No mail yet.</p>'}
</main></body></html>`;
}

export function outboxRoutes({ mailer, env }: { mailer: Mailer; env: string }): RouteDefinition[] {
  if (env === 'production' || mailer.kind !== 'outbox') return [];
  return [
    defineRoute({
      method: 'GET',
      url: '/dev/outbox',
      auth: { action: 'read', resource: 'outbox' },
      summary: 'Development only: mail the outbox transport kept (never registered in production; platform operators only)',
      handler: async ({ reply }) => {
        reply.header('content-type', 'text/html; charset=utf-8');
        return renderOutbox(mailer);
      },
    }),
  ];
}

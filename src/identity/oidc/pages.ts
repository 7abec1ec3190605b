import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * The few pages the provider itself renders (errors, the logout confirmation). Server-rendered,
 * no inline script or style (the CSP forbids both), every interpolation escaped.
 */

const escapeHtml = (value: unknown) =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const page = (title: string, body: string) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Rampart</title></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body>
</html>`;

/** Only the protocol error code and its description: never a stack, never request values. */
export async function errorPage(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }): Promise<void> {
  ctx.type = 'html';
  ctx.body = page('Sign-in could not continue', `<p role="alert"><strong>${escapeHtml(out.error)}</strong>${out.error_description ? `: ${escapeHtml(out.error_description)}` : ''}</p><p>Return to the application and try again.</p>`);
}

/** `form` is the provider's own form (with its CSRF token); the buttons submit it. */
export async function logoutPage(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  ctx.type = 'html';
  ctx.body = page(
    'Sign out',
    `<p>Do you want to sign out of ${escapeHtml(ctx.host)}?</p>${form}<p><button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button> <button type="submit" form="op.logoutForm">No, stay signed in</button></p>`,
  );
}

export async function postLogoutPage(ctx: KoaContextWithOIDC): Promise<void> {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<p>You are signed out. You can close this window.</p>');
}

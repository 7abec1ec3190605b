import type { AssetCatalog, AssetName } from './assets.js';
import { html, type Interpolation, type SafeHtml } from './html.js';

/**
 * The shell every login page shares: `lang`, a viewport for 320 px screens, one stylesheet, only
 * external scripts (the CSP has no 'unsafe-inline'), a skip link, one `<h1>`, the `<noscript>`
 * note, and two live regions: `#error` (role=alert, receives focus when it fills) and `#status`
 * (polite progress messages). Page configuration travels in `data-*` attributes of `<body>`,
 * escaped like everything else, never in an inline script.
 */

export type PageShell = {
  assets: AssetCatalog;
  /** The document title (the tenant name is appended when there is one). */
  title: string;
  heading: string;
  tenantName?: string;
  scripts: AssetName[];
  /** `data-*` attributes of `<body>`; names are lower-case words joined by dashes. */
  data?: Record<string, string>;
  content: Interpolation;
};

const DATA_NAME = /^[a-z]+(?:-[a-z]+)*$/;

function dataAttributes(data: Record<string, string>): SafeHtml[] {
  return Object.entries(data).map(([name, value]) => {
    if (!DATA_NAME.test(name)) throw new Error(`bad data attribute name ${name}`);
    return html` data-${name}="${value}"`;
  });
}

export function renderPage(shell: PageShell): string {
  const { assets } = shell;
  const title = shell.tenantName ? `${shell.title} · ${shell.tenantName}` : `${shell.title} · Rampart`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="robots" content="noindex">
<title>${title}</title>
<link rel="stylesheet" href="${assets.url('login.css')}">
${shell.scripts.map((name) => html`<script src="${assets.url(name)}" defer></script>\n`)}</head>
<body${dataAttributes(shell.data ?? {})}>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="banner"><p class="brand">${shell.tenantName ?? 'Rampart'}</p></header>
<main id="main" tabindex="-1">
<h1>${shell.heading}</h1>
<noscript><p class="notice">JavaScript is required for sign-in: passkeys, the bot check and the second-factor steps run in your browser. Please enable it and reload this page.</p></noscript>
<div id="error" class="error" role="alert" aria-live="assertive" tabindex="-1"></div>
<p id="status" class="status" role="status" aria-live="polite"></p>
${shell.content}
</main>
<footer class="footer"><p>Secured by Rampart</p></footer>
</body>
</html>
`.value;
}

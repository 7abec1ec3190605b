import { PASSWORD_MIN_LENGTH } from '../credentials/index.js';
import type { AssetCatalog } from './assets.js';
import { html, type SafeHtml } from './html.js';
import { renderPage } from './layout.js';

/**
 * The login pages' markup. Every step of a flow is a `<section data-step>` the page script
 * reveals (all start `hidden`); each has its own `<h2>` that receives focus when it appears, so
 * screen readers announce where the user is. Inputs have visible labels, autocomplete hints and
 * descriptions tied with aria-describedby.
 */

export type Features = { passkeySignIn: boolean; magicLink: boolean; passkeyList: boolean };
export type TenantView = { slug: string; name: string };
type Common = { assets: AssetCatalog; tenant: TenantView; features: Features; returnTo: string };

const featureList = (features: Features) =>
  Object.entries(features)
    .filter(([, on]) => on)
    .map(([name]) => name)
    .join(' ');

/** The login page URL that comes back to `returnTo` when done. */
export const loginUrl = (slug: string, returnTo: string) => `/login/${encodeURIComponent(slug)}?${new URLSearchParams({ return_to: returnTo }).toString()}`;

const bodyData = ({ tenant, features, returnTo, assets }: Common, page: string) => ({
  page,
  tenant: tenant.slug,
  'return-to': returnTo,
  'login-url': loginUrl(tenant.slug, returnTo),
  'account-url': `/account/${encodeURIComponent(tenant.slug)}`,
  'altcha-worker': assets.url('altcha-worker.js'),
  features: featureList(features),
});

const step = (id: string, heading: string, content: SafeHtml) => html`<section id="step-${id}" data-step="${id}" aria-labelledby="h-${id}" hidden>
<h2 id="h-${id}" tabindex="-1">${heading}</h2>
${content}
</section>
`;

const codeField = (id: string, label: string, hint: string, options: { numeric: boolean }) => html`<div class="field">
<label for="${id}">${label}</label>
<p class="hint" id="${id}-hint">${hint}</p>
<input id="${id}" name="code" type="text" required maxlength="64" autocomplete="one-time-code" spellcheck="false" aria-describedby="${id}-hint"${options.numeric ? html` inputmode="numeric" pattern="[0-9 ]*"` : ''}>
</div>`;

export function loginPage(common: Common): string {
  const { tenant, features } = common;
  const content = html`<p id="loading" class="loading">Checking your session…</p>
${step(
  'password',
  'Sign in with your email',
  html`<form id="form-password" class="stack">
<div class="field"><label for="email">Email</label><input id="email" name="email" type="email" required maxlength="320" autocomplete="username webauthn" spellcheck="false"></div>
<div class="field"><label for="password">Password</label><input id="password" name="password" type="password" required maxlength="1024" autocomplete="current-password"></div>
<button type="submit" class="primary">Continue</button>
</form>
${features.passkeySignIn ? html`<p class="divider"><span>or</span></p><button type="button" id="passkey-sign-in" class="secondary">Sign in with a passkey</button>` : ''}
${features.magicLink ? html`<p class="aside"><a id="magic-link" href="/login/${tenant.slug}/magic-link?${new URLSearchParams({ return_to: common.returnTo }).toString()}">Email me a sign-in link instead</a></p>` : ''}`,
)}
${step(
  'totp',
  'Enter your authenticator code',
  html`<p id="totp-reason" class="hint"></p>
<form id="form-totp" class="stack">${codeField('totp-code', 'Six-digit code', 'Open your authenticator app and type the code it shows for this account.', { numeric: true })}
<button type="submit" class="primary">Verify</button></form>`,
)}
${step(
  'passkey',
  'Confirm with your passkey',
  html`<p id="passkey-reason">Use the passkey you registered for this account: your device will ask for your fingerprint, face or PIN.</p>
<button type="button" id="passkey-authenticate" class="primary">Use my passkey</button>`,
)}
${step(
  'recovery',
  'Use a recovery code',
  html`<form id="form-recovery" class="stack">${codeField('recovery-code', 'Recovery code', 'One of the codes you saved when you set up two-step verification. Each works once.', { numeric: false })}
<button type="submit" class="primary">Verify</button></form>`,
)}
${step(
  'enroll',
  'Set up two-step verification',
  html`<p>Before you can continue, protect your account with a second factor. Scan the QR code with an authenticator app, then enter the code it shows.</p>
<div id="enroll-details" class="enroll" hidden>
<img id="enroll-qr" class="qr" alt="QR code to scan with your authenticator app" width="200" height="200">
<p>Cannot scan it? Enter this key in the app instead:</p>
<p><code id="enroll-secret" class="secret"></code></p>
</div>
<form id="form-enroll" class="stack">${codeField('enroll-code', 'Six-digit code from the app', 'The code changes every 30 seconds; enter the one shown now.', { numeric: true })}
<button type="submit" class="primary">Turn on two-step verification</button></form>
<p class="aside"><button type="button" id="enroll-passkey-instead" class="link">Use a passkey instead</button></p>`,
)}
${step(
  'recovery-codes',
  'Save your recovery codes',
  html`<p>If you lose your phone or passkey, each of these codes lets you sign in once. They are shown only now: print them or keep them in a password manager.</p>
<ol id="recovery-codes" class="codes"></ol>
<form id="form-saved" class="stack">
<div class="check"><input id="saved" name="saved" type="checkbox" required><label for="saved">I saved these codes somewhere safe</label></div>
<button type="submit" class="primary">Continue</button>
</form>`,
)}
${step(
  'passkey-register',
  'Create a passkey',
  html`<p id="passkey-register-reason">A passkey signs you in with your device's fingerprint, face or PIN, and cannot be phished.</p>
<button type="button" id="passkey-register" class="primary">Create a passkey</button>`,
)}
${step('done', 'You are signed in', html`<p>Taking you on… <a id="continue-link" href="${common.returnTo}">Continue</a></p>`)}
<nav id="alternatives" class="alternatives" aria-label="Other ways to verify" hidden>
<h2 class="small">Other ways to verify</h2>
<ul>
<li data-alternative="passkey"><button type="button" class="link" data-go="passkey">Use my passkey</button></li>
<li data-alternative="totp"><button type="button" class="link" data-go="totp">Use my authenticator app</button></li>
<li data-alternative="recovery"><button type="button" class="link" data-go="recovery">Use a recovery code</button></li>
</ul>
</nav>
<p id="start-over" class="aside" hidden><button type="button" id="start-over-button" class="link">Cancel and sign out</button></p>`;
  return renderPage({
    assets: common.assets,
    title: 'Sign in',
    heading: `Sign in to ${tenant.name}`,
    tenantName: tenant.name,
    scripts: ['simplewebauthn-browser.js', 'common.js', 'login.js'],
    data: bodyData(common, 'login'),
    content,
  });
}

const passwordFields = html`<div class="field"><label for="new-password">Password</label>
<p class="hint" id="password-hint">At least ${PASSWORD_MIN_LENGTH} characters. Long passphrases work well; very common passwords and ones containing your name or email are refused. No other rules.</p>
<input id="new-password" name="password" type="password" required minlength="${PASSWORD_MIN_LENGTH}" maxlength="1024" autocomplete="new-password" aria-describedby="password-hint"></div>`;

export function invitePage(common: Common): string {
  const { tenant } = common;
  const content = html`<p>You have been invited to join ${tenant.name}. Choose your name and a password to create your account; next you will set up two-step verification.</p>
<form id="form-invite" class="stack">
<div class="field"><label for="display-name">Your name</label><input id="display-name" name="displayName" type="text" required maxlength="200" autocomplete="name"></div>
${passwordFields}
<button type="submit" class="primary">Create my account</button>
</form>`;
  return renderPage({ assets: common.assets, title: 'Accept invitation', heading: `Join ${tenant.name}`, tenantName: tenant.name, scripts: ['common.js', 'invite.js'], data: bodyData(common, 'invite'), content });
}

/** First-admin setup from the one-time link printed by `npm start` (the token is read from the URL by the script). */
export function setupPage(common: Common): string {
  const { tenant } = common;
  const content = html`<p>Create the first administrator of ${tenant.name}. This link works once and expires 24 hours after it was printed. Next you will set up two-step verification and a passkey.</p>
<form id="form-setup" class="stack">
<div class="field"><label for="email">Email</label><input id="email" name="email" type="email" required maxlength="320" autocomplete="email" spellcheck="false"></div>
<div class="field"><label for="display-name">Your name</label><input id="display-name" name="displayName" type="text" required maxlength="200" autocomplete="name"></div>
${passwordFields}
<button type="submit" class="primary">Create the administrator</button>
</form>`;
  return renderPage({ assets: common.assets, title: 'Set up Rampart', heading: `Set up ${tenant.name}`, tenantName: tenant.name, scripts: ['common.js', 'setup.js'], data: bodyData(common, 'setup'), content });
}

/** Request a sign-in link by email, and the landing page the link opens (token in the URL fragment). */
export function magicLinkPage(common: Common): string {
  const { tenant } = common;
  const content = html`<p id="loading" class="loading">Loading…</p>
${step(
  'request',
  'Get a sign-in link by email',
  html`<p>We will email you a link that starts a sign-in. It works once, for 15 minutes; you will still confirm with your second factor.</p>
<form id="form-magic-link" class="stack">
<div class="field"><label for="email">Email</label><input id="email" name="email" type="email" required maxlength="320" autocomplete="username" spellcheck="false"></div>
<button type="submit" class="primary">Email me a link</button>
</form>`,
)}
${step('sent', 'Check your email', html`<p>If this address has an account at ${tenant.name}, a sign-in link is on its way. Open it in this browser within 15 minutes.</p>`)}
${step('consume', 'Signing you in', html`<p>Checking your sign-in link…</p>`)}
<p class="aside"><a href="${loginUrl(tenant.slug, common.returnTo)}">Sign in with your password instead</a></p>`;
  return renderPage({ assets: common.assets, title: 'Sign-in link', heading: `Sign in to ${tenant.name}`, tenantName: tenant.name, scripts: ['common.js', 'magic-link.js'], data: bodyData(common, 'magic-link'), content });
}

export function accountPage(common: Common): string {
  const { tenant, features } = common;
  const content = html`<p id="loading" class="loading">Loading your account…</p>
<section id="account" aria-labelledby="h-who" hidden>
<h2 id="h-who">Signed in as</h2>
<dl class="facts"><dt>Name</dt><dd id="who-name"></dd><dt>Email</dt><dd id="who-email"></dd><dt>Roles</dt><dd id="who-roles"></dd></dl>
<p><button type="button" id="sign-out" class="secondary">Sign out</button></p>
</section>
<section id="sessions" aria-labelledby="h-sessions" hidden>
<h2 id="h-sessions">Your sessions</h2>
<p>Every browser or device signed in to your account. Revoke any you do not recognise.</p>
<ul id="session-list" class="items"></ul>
<p><button type="button" id="sign-out-everywhere" class="danger">Sign out everywhere</button></p>
</section>
<section id="passkeys" aria-labelledby="h-passkeys" hidden>
<h2 id="h-passkeys">Passkeys</h2>
${features.passkeyList ? html`<ul id="passkey-list" class="items"></ul>` : ''}
<form id="form-add-passkey" class="stack">
<div class="field"><label for="passkey-name">Name for a new passkey</label><input id="passkey-name" name="name" type="text" maxlength="100" value="My passkey" autocomplete="off"></div>
<button type="submit" class="secondary">Add a passkey</button>
</form>
</section>`;
  return renderPage({
    assets: common.assets,
    title: 'Your account',
    heading: 'Your account',
    tenantName: tenant.name,
    scripts: ['simplewebauthn-browser.js', 'common.js', 'account.js'],
    data: bodyData(common, 'account'),
    content,
  });
}

export function notFoundPage(assets: AssetCatalog): string {
  return renderPage({
    assets,
    title: 'Not found',
    heading: 'Page not found',
    scripts: [],
    content: html`<p>There is no sign-in page at this address. Check the link you followed, or ask whoever sent it for a new one.</p>`,
  });
}

/**
 * The identity module (controls ID-1 … ID-10): credentials, throttling and the bot challenge,
 * accounts with invitations, password sign-in gated by mandatory MFA, TOTP and recovery codes,
 * passkeys (WebAuthn), step-up, server-side sessions with a `__Host-` cookie, mail, the hosted
 * login UI, and the OpenID Connect provider (oidc-provider on Rampart's tables).
 */
export * from './credentials/index.js';
export * from './throttle/index.js';
export * from './accounts/index.js';
export * from './sessions/index.js';
export * from './mail/index.js';
export * from './stepup/index.js';
export { loginUiRoutes, safeReturnTo, RETURN_TO_MAX_LENGTH, type LoginUiDeps } from './ui/index.js';
export * from './oidc/index.js';

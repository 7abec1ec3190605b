/** Sessions of the identity module (control ID-6): storage, lifetimes, cookie, Authenticator. */
export { SESSION_COOKIE, sessionCookie, clearSessionCookie, readSessionCookie } from './cookie.js';
export { SESSION_IDLE_SECONDS, SESSION_ABSOLUTE_SECONDS, PENDING_SESSION_SECONDS, SESSION_TOUCH_SECONDS } from './policy.js';
export { hashToken, randomToken, parseSessionToken } from './tokens.js';
export { type SessionRow, type SessionView, type SessionStage } from './store.js';
export { createSession, expiriesFor, type CreateSessionInput } from './operations/create-session.js';
export { upgradeSession, recordStepUp } from './operations/upgrade-session.js';
export { validateSession, checkSession, type ValidSession, type ValidateOptions } from './operations/validate-session.js';
export { revokeSession, revokeAllSessions, type RevokeDeps } from './operations/revoke-session.js';
export { listSessions } from './operations/list-sessions.js';
export { sessionAuthenticator, sessionCredentials, principalOfSession } from './authenticator.js';
export { createSessionCache, type SessionCache } from './cache.js';

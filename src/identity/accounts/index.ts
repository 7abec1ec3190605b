/**
 * Accounts of the identity module: per-tenant users, roles, invitations, the password step of a
 * sign-in and the second factors (controls ID-4, ID-5, ID-9). Routes are wired by the lead.
 */
export { type AccountDeps } from './deps.js';
export { memberRoutes, type MemberView } from './members-routes.js';
export { normalizeEmail, accountFingerprint, toPublicUser, type PublicUser, type UserRow } from './store.js';
export { createInvitation, INVITATION_TTL_SECONDS, type InvitationView } from './operations/create-invitation.js';
export { acceptInvitation } from './operations/accept-invitation.js';
export { passwordSignIn, type PasswordSignInInput, type PasswordSignInResult } from './operations/password-sign-in.js';
export { beginTotpEnrollment, TOTP_SECRET_CONTEXT } from './operations/begin-totp-enrollment.js';
export { confirmTotpEnrollment } from './operations/confirm-totp-enrollment.js';
export { verifyTotpForSession } from './operations/verify-totp-for-session.js';
export { useRecoveryCode } from './operations/use-recovery-code.js';
export type { FactorResult } from './operations/second-factor.js';
export { beginPasskeyRegistration, finishPasskeyRegistration } from './operations/passkey-registration.js';
export { beginPasskeyAuthentication, finishPasskeyAuthentication } from './operations/passkey-authentication.js';
export { PASSKEY_CHALLENGE_TTL_MS } from './operations/passkey-ceremony.js';
export { FACTOR_CHANGE_MAX_AGE_SECONDS } from './operations/second-factor.js';
export { listPasskeys, renamePasskey, removePasskey, removeTotp, type PasskeyView } from './operations/manage-factors.js';
export { beginPasskeySignIn, finishPasskeySignIn, type PasskeySignInResult } from './operations/passkey-sign-in.js';
export { requestMagicLink, consumeMagicLink, magicLinkUrl, MAGIC_LINK_TTL_SECONDS, type MagicLinkDeps } from './operations/magic-link.js';
export { issueSetupToken, completeSetup, SETUP_TOKEN_TTL_SECONDS } from './operations/first-admin-setup.js';
export { purgeExpiredIdentityData, registerIdentityJobs, IDENTITY_PURGE_JOB, DEFAULT_SESSION_RETENTION_DAYS, type PurgeCounts } from './operations/purge-expired.js';

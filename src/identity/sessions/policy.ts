/** Session lifetimes (control ID-6). */
export const SESSION_IDLE_SECONDS = 30 * 60;
export const SESSION_ABSOLUTE_SECONDS = 12 * 60 * 60;
/** A password-only (MFA-incomplete) session lives this long, enough to enroll or enter a code. */
export const PENDING_SESSION_SECONDS = 10 * 60;
/** `last_seen_at` slides at most this often, so a busy session is not a write per request. */
export const SESSION_TOUCH_SECONDS = 60;

/**
 * Credentials library of the identity module: password hashing and policy, TOTP, recovery codes
 * and the MFA factor rules (controls: ID-4, ID-5). Pure functions: storage, throttling (ID-9) and
 * the hosted login UI are the caller's.
 */
export {
  DEFAULT_ARGON2_PARAMS,
  OWASP_MINIMUM_ARGON2_PARAMS,
  MAX_PASSWORD_INPUT_LENGTH,
  hashPassword,
  verifyPassword,
  needsRehash,
  dummyVerify,
  type Argon2Params,
  type PasswordVerification,
} from './password.js';
export {
  PASSWORD_MIN_LENGTH,
  PASSWORD_MAX_LENGTH,
  checkPasswordPolicy,
  passwordLength,
  type PasswordProblem,
  type PasswordProblemCode,
  type PasswordPolicyOptions,
} from './password-policy.js';
export { COMMON_PASSWORD_LIST, loadCommonPasswords, type CommonPasswordSet } from './common-passwords.js';
export {
  TOTP_DIGITS,
  TOTP_PERIOD_SECONDS,
  TOTP_WINDOW_STEPS,
  createTotpEnrollment,
  verifyTotp,
  totpStep,
  totpCodeAt,
  type TotpEnrollment,
  type TotpVerification,
} from './totp.js';
export {
  DEFAULT_RECOVERY_CODE_COUNT,
  RECOVERY_CODE_ALPHABET,
  RECOVERY_CODE_BITS,
  generateRecoveryCodes,
  hashRecoveryCode,
  matchRecoveryCode,
  normalizeRecoveryCode,
  type Pepper,
} from './recovery-codes.js';
export {
  ACR,
  BUILT_IN_HIGH_PRIVILEGE_ROLES,
  assertMfaSatisfied,
  requireMfa,
  type AcrValue,
  type AmrValue,
  type FactorKind,
  type MfaDecision,
  type MfaInput,
  type MfaStatus,
  type VerifiedFactor,
} from './factor-policy.js';

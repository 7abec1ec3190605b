import { RampartError } from '../../core/index.js';

/**
 * Which factors satisfy a sign-in (controls: ID-4, ID-5), and the `amr` / `acr` claims it earns.
 *
 * Multi-factor means one of:
 * - a WebAuthn assertion with user verification (UV): possession plus PIN/biometric on the device;
 * - a password plus a second factor (TOTP, a recovery code, or a WebAuthn assertion with presence only).
 *
 * A passkey with presence only and no password is ONE factor: counting it as MFA is the anchor bug
 * the issue names. High-privilege roles (admin, finance and any the app marks) additionally need the
 * multi-factor sign-in to include WebAuthn (ID-5): TOTP or a recovery code alone is refused. Such a
 * user who signs in with a recovery code gets `passkey_required`: a session good only for
 * registering a new passkey.
 *
 * Freshness is not decided here: an elevated acr holds only for its max age (step-up, ID-7), not for
 * the rest of the session.
 */

export type FactorKind = 'totp' | 'webauthn' | 'recovery';

export type VerifiedFactor = {
  kind: FactorKind;
  /** WebAuthn only: the assertion had the UV flag. */
  userVerified?: boolean;
  /** WebAuthn only: the attestation showed a device-bound hardware key (amr `hwk`); otherwise `swk`. */
  hardwareBound?: boolean;
};

export type MfaStatus = 'ok' | 'mfa_enrollment_required' | 'mfa_required' | 'passkey_required';

export const ACR = {
  none: 'urn:rampart:acr:none',
  singleFactor: 'urn:rampart:acr:sfa',
  mfa: 'urn:rampart:acr:mfa',
  phishingResistant: 'urn:rampart:acr:phr',
} as const;
export type AcrValue = (typeof ACR)[keyof typeof ACR];

/**
 * RFC 8176 values. A recovery code is a one-time password, so it is `otp` too. (`user` is not used
 * for UV: RFC 8176 defines it as a presence test, which every WebAuthn assertion has.)
 */
export type AmrValue = 'pwd' | 'otp' | 'hwk' | 'swk' | 'mfa';

/** Always high-privilege, whatever the app's spec says (ID-5). */
export const BUILT_IN_HIGH_PRIVILEGE_ROLES: ReadonlyArray<string> = Object.freeze(['admin', 'finance']);

export type MfaInput = {
  /** Factors verified in this authentication, besides the password. */
  factors: ReadonlyArray<VerifiedFactor>;
  /** The password was verified in this authentication. */
  passwordVerified?: boolean;
  /**
   * A single-use sign-in link mailed to the account was used (magic link): like the password, ONE
   * factor (possession of the mailbox), recorded as amr `otp` (a one-time secret sent out of band).
   */
  linkVerified?: boolean;
  /**
   * Second factors the account holds (required, so a caller cannot mistake "not presented" for
   * "not enrolled" and let someone add a factor without proving an existing one).
   */
  enrolled: ReadonlyArray<FactorKind>;
  roles: ReadonlyArray<string>;
  /** The app's high-privilege roles; admin and finance are always included. */
  highPrivilegeRoles?: ReadonlyArray<string>;
};

export type MfaDecision = {
  status: MfaStatus;
  ok: boolean;
  isHighPrivilege: boolean;
  isMultiFactor: boolean;
  amr: AmrValue[];
  acr: AcrValue;
};

const isUserVerifiedPasskey = (factor: VerifiedFactor) => factor.kind === 'webauthn' && factor.userVerified === true;

export function assertMfaSatisfied(input: MfaInput): MfaDecision {
  const highPrivilege = new Set([...BUILT_IN_HIGH_PRIVILEGE_ROLES, ...(input.highPrivilegeRoles ?? [])]);
  const isHighPrivilege = input.roles.some((role) => highPrivilege.has(role));
  const isPasswordVerified = input.passwordVerified === true;
  const isLinkVerified = input.linkVerified === true;
  const hasFirstFactor = isPasswordVerified || isLinkVerified;
  const webauthn = input.factors.filter((factor) => factor.kind === 'webauthn');
  const hasOtp = input.factors.some((factor) => factor.kind === 'totp' || factor.kind === 'recovery');
  const isMultiFactor = input.factors.some(isUserVerifiedPasskey) || (hasFirstFactor && input.factors.length > 0);
  const isPhishingResistant = isMultiFactor && webauthn.length > 0;

  const amr = new Set<AmrValue>();
  if (isPasswordVerified) amr.add('pwd');
  if (hasOtp || isLinkVerified) amr.add('otp');
  for (const factor of webauthn) amr.add(factor.hardwareBound ? 'hwk' : 'swk');
  if (isMultiFactor) amr.add('mfa');

  const hasAnyFactor = hasFirstFactor || input.factors.length > 0;
  const acr: AcrValue = isPhishingResistant ? ACR.phishingResistant : isMultiFactor ? ACR.mfa : hasAnyFactor ? ACR.singleFactor : ACR.none;

  const isEnrolled = input.enrolled.some((kind) => kind === 'totp' || kind === 'webauthn');
  let status: MfaStatus;
  if (isHighPrivilege && !input.enrolled.includes('webauthn')) status = 'passkey_required';
  else if (!isEnrolled) status = 'mfa_enrollment_required';
  else if (!isMultiFactor) status = 'mfa_required';
  else if (isHighPrivilege && !isPhishingResistant) status = 'passkey_required';
  else status = 'ok';

  return { status, ok: status === 'ok', isHighPrivilege, isMultiFactor, amr: [...amr], acr };
}

/** Throws 403 with the status as `reason` unless the sign-in satisfies ID-4/ID-5. */
export function requireMfa(input: MfaInput): MfaDecision {
  const decision = assertMfaSatisfied(input);
  if (!decision.ok) {
    throw new RampartError('forbidden', { detail: 'a second factor is required to continue', extensions: { reason: decision.status } });
  }
  return decision;
}

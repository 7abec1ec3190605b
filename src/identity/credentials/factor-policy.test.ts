import { describe, expect, it } from 'vitest';
import { RampartError } from '../../core/index.js';
import { ACR, assertMfaSatisfied, requireMfa, type MfaInput, type MfaStatus, type VerifiedFactor } from './factor-policy.js';

const totp: VerifiedFactor = { kind: 'totp' };
const recovery: VerifiedFactor = { kind: 'recovery' };
const passkeyUv: VerifiedFactor = { kind: 'webauthn', userVerified: true };
const passkeyNoUv: VerifiedFactor = { kind: 'webauthn', userVerified: false };
const hardwareKeyUv: VerifiedFactor = { kind: 'webauthn', userVerified: true, hardwareBound: true };

type Row = { name: string; input: MfaInput; status: MfaStatus; amr: string[]; acr: string };

const member = { roles: ['member'], highPrivilegeRoles: [] as string[] };
const admin = { roles: ['member', 'admin'], highPrivilegeRoles: [] as string[] };

const table: Row[] = [
  // ID-4: mandatory MFA for everyone
  { name: 'ID-4 member, password only, nothing enrolled -> enroll', input: { ...member, passwordVerified: true, factors: [], enrolled: [] }, status: 'mfa_enrollment_required', amr: ['pwd'], acr: ACR.singleFactor },
  { name: 'ID-4 member, password only, TOTP enrolled -> present it (not "enroll")', input: { ...member, passwordVerified: true, factors: [], enrolled: ['totp'] }, status: 'mfa_required', amr: ['pwd'], acr: ACR.singleFactor },
  { name: 'ID-4 member, recovery codes only enrolled -> still must enroll a real factor', input: { ...member, passwordVerified: true, factors: [recovery], enrolled: ['recovery'] }, status: 'mfa_enrollment_required', amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa },
  { name: 'ID-4 member, password + TOTP -> ok', input: { ...member, passwordVerified: true, factors: [totp], enrolled: ['totp'] }, status: 'ok', amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa },
  { name: 'ID-4 member, password + recovery code -> ok', input: { ...member, passwordVerified: true, factors: [recovery], enrolled: ['totp', 'recovery'] }, status: 'ok', amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa },
  { name: 'ID-4 member, TOTP without password -> one factor', input: { ...member, factors: [totp], enrolled: ['totp'] }, status: 'mfa_required', amr: ['otp'], acr: ACR.singleFactor },
  { name: 'ID-4 member, passkey with UV alone -> ok, phishing-resistant', input: { ...member, factors: [passkeyUv], enrolled: ['webauthn'] }, status: 'ok', amr: ['swk', 'mfa'], acr: ACR.phishingResistant },
  { name: 'ID-4 anchor bug: passkey without UV alone is NOT MFA', input: { ...member, factors: [passkeyNoUv], enrolled: ['webauthn'] }, status: 'mfa_required', amr: ['swk'], acr: ACR.singleFactor },
  { name: 'ID-4 userVerified missing counts as no UV', input: { ...member, factors: [{ kind: 'webauthn' }], enrolled: ['webauthn'] }, status: 'mfa_required', amr: ['swk'], acr: ACR.singleFactor },
  { name: 'ID-4 password + passkey without UV -> two factors', input: { ...member, passwordVerified: true, factors: [passkeyNoUv], enrolled: ['webauthn'] }, status: 'ok', amr: ['pwd', 'swk', 'mfa'], acr: ACR.phishingResistant },
  { name: 'ID-4 nothing verified', input: { ...member, factors: [], enrolled: ['totp'] }, status: 'mfa_required', amr: [], acr: ACR.none },
  // ID-5: high-privilege roles need WebAuthn
  { name: 'ID-5 admin, password + TOTP -> passkey required', input: { ...admin, passwordVerified: true, factors: [totp], enrolled: ['totp', 'webauthn'] }, status: 'passkey_required', amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa },
  { name: 'ID-5 admin without a passkey enrolled -> passkey required even with TOTP', input: { ...admin, passwordVerified: true, factors: [totp], enrolled: ['totp'] }, status: 'passkey_required', amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa },
  { name: 'ID-5 admin with nothing enrolled -> passkey required', input: { ...admin, passwordVerified: true, factors: [], enrolled: [] }, status: 'passkey_required', amr: ['pwd'], acr: ACR.singleFactor },
  { name: 'ID-5 admin, password + recovery code -> passkey required (enroll-only session)', input: { ...admin, passwordVerified: true, factors: [recovery], enrolled: ['webauthn', 'recovery'] }, status: 'passkey_required', amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa },
  { name: 'ID-5 admin, hardware key with UV -> ok', input: { ...admin, factors: [hardwareKeyUv], enrolled: ['webauthn'] }, status: 'ok', amr: ['hwk', 'mfa'], acr: ACR.phishingResistant },
  { name: 'ID-5 admin, passkey without UV alone -> not MFA', input: { ...admin, factors: [passkeyNoUv], enrolled: ['webauthn'] }, status: 'mfa_required', amr: ['swk'], acr: ACR.singleFactor },
  { name: 'ID-5 admin, password + passkey without UV -> ok', input: { ...admin, passwordVerified: true, factors: [passkeyNoUv], enrolled: ['webauthn'] }, status: 'ok', amr: ['pwd', 'swk', 'mfa'], acr: ACR.phishingResistant },
  { name: 'ID-5 finance is built-in high-privilege', input: { roles: ['finance'], highPrivilegeRoles: [], passwordVerified: true, factors: [totp], enrolled: ['totp'] }, status: 'passkey_required', amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa },
  { name: 'ID-5 a role the app marks high-privilege', input: { roles: ['payroll'], highPrivilegeRoles: ['payroll'], passwordVerified: true, factors: [totp], enrolled: ['totp'] }, status: 'passkey_required', amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa },
  { name: 'ID-5 the same role unmarked -> TOTP is enough', input: { roles: ['payroll'], highPrivilegeRoles: [], passwordVerified: true, factors: [totp], enrolled: ['totp'] }, status: 'ok', amr: ['pwd', 'otp', 'mfa'], acr: ACR.mfa },
];

describe('ID-4/ID-5 factor policy table', () => {
  it.each(table)('$name', ({ input, status, amr, acr }) => {
    const decision = assertMfaSatisfied(input);
    expect(decision.status).toBe(status);
    expect(decision.ok).toBe(status === 'ok');
    expect([...decision.amr].sort()).toEqual([...amr].sort());
    expect(decision.acr).toBe(acr);
  });

  it('ID-5 reports whether the user is high-privilege', () => {
    expect(assertMfaSatisfied({ ...admin, factors: [], enrolled: [] }).isHighPrivilege).toBe(true);
    expect(assertMfaSatisfied({ ...member, factors: [], enrolled: [] }).isHighPrivilege).toBe(false);
  });

  it('ID-4 requireMfa throws 403 with the reason, and returns the decision when ok', () => {
    expect(() => requireMfa({ ...member, passwordVerified: true, factors: [], enrolled: [] })).toThrow(RampartError);
    try {
      requireMfa({ ...admin, passwordVerified: true, factors: [totp], enrolled: ['totp', 'webauthn'] });
    } catch (error) {
      expect(error).toMatchObject({ status: 403, extensions: { reason: 'passkey_required' } });
    }
    expect(requireMfa({ ...member, factors: [passkeyUv], enrolled: ['webauthn'] }).acr).toBe(ACR.phishingResistant);
  });
});

import { commonPasswordForm, loadCommonPasswords, type CommonPasswordSet } from './common-passwords.js';
import { MAX_PASSWORD_INPUT_LENGTH } from './password.js';

/**
 * Password policy (issue 3 item 2, NIST SP 800-63B 5.1.1.2): length and a blocklist, no
 * composition rules (they push users to `Password1!`). Length counts Unicode code points after
 * NFKC, the same form that is hashed, so `e` + combining acute counts once, as the user sees it.
 */

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;
/** Parts of an email or name shorter than this are not checked: `al` would refuse `always`. */
const MIN_USER_INPUT_PART = 4;

export type PasswordProblemCode = 'too_short' | 'too_long' | 'common' | 'contains_user_input';
export type PasswordProblem = { code: PasswordProblemCode; message: string };

export type PasswordPolicyOptions = {
  /** The user's email, name, username: a password that contains one of them is refused. */
  userInputs?: ReadonlyArray<string | null | undefined>;
  /** Defaults to the shipped 100k list; tests and callers holding it already pass it in. */
  commonPasswords?: CommonPasswordSet;
};

/** The length the policy measures: code points after NFKC. */
export const passwordLength = (password: string): number => [...password.normalize('NFKC')].length;

/** Lower-cased pieces of the user's own data worth refusing: whole values, email local parts, words. */
function userInputParts(inputs: ReadonlyArray<string | null | undefined>): string[] {
  const parts = new Set<string>();
  for (const raw of inputs) {
    if (!raw) continue;
    const value = raw.normalize('NFKC').toLowerCase().trim();
    // For an email, the local part and its words; the domain (gmail, company names) is not personal.
    const at = value.lastIndexOf('@');
    const personal = at > 0 ? value.slice(0, at) : value;
    const candidates = [value, personal, ...personal.split(/[^\p{L}\p{N}]+/u)];
    for (const candidate of candidates) if ([...candidate].length >= MIN_USER_INPUT_PART) parts.add(candidate);
  }
  return [...parts];
}

/**
 * Returns every problem with the password (empty when acceptable), in a stable order, with
 * messages safe to show the user. Never includes the password itself.
 */
export async function checkPasswordPolicy(password: string, options: PasswordPolicyOptions = {}): Promise<PasswordProblem[]> {
  if (password.length > MAX_PASSWORD_INPUT_LENGTH) {
    // Refuse before NFKC: normalising a huge string is the expensive part.
    return [{ code: 'too_long', message: `Use at most ${PASSWORD_MAX_LENGTH} characters.` }];
  }
  const problems: PasswordProblem[] = [];
  const length = passwordLength(password);
  if (length < PASSWORD_MIN_LENGTH) problems.push({ code: 'too_short', message: `Use at least ${PASSWORD_MIN_LENGTH} characters.` });
  if (length > PASSWORD_MAX_LENGTH) problems.push({ code: 'too_long', message: `Use at most ${PASSWORD_MAX_LENGTH} characters.` });

  const common = options.commonPasswords ?? (await loadCommonPasswords());
  if (common.has(commonPasswordForm(password))) {
    problems.push({ code: 'common', message: 'This password is among the most common passwords; choose another.' });
  }

  const lowered = password.normalize('NFKC').toLowerCase();
  if (userInputParts(options.userInputs ?? []).some((part) => lowered.includes(part))) {
    problems.push({ code: 'contains_user_input', message: 'Do not use your email address or name in your password.' });
  }
  return problems;
}

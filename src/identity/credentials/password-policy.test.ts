import { describe, expect, it } from 'vitest';
import { COMMON_PASSWORD_LIST, loadCommonPasswords, parseCommonPasswordList } from './common-passwords.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, checkPasswordPolicy, passwordLength } from './password-policy.js';

const codes = async (password: string, userInputs?: string[]) => (await checkPasswordPolicy(password, { userInputs })).map((p) => p.code);

describe('ID-4 password policy', () => {
  it('ID-4 accepts a long uncommon password', async () => {
    expect(await checkPasswordPolicy('violet kettle marathon 42')).toEqual([]);
  });

  it('ID-4 length: 11 code points is too short, 12 is enough', async () => {
    expect(PASSWORD_MIN_LENGTH).toBe(12);
    expect(await codes('zq8#Lw2!mR4p')).toEqual([]);
    expect(await codes('zq8#Lw2!mR4')).toEqual(['too_short']);
  });

  it('ID-4 length counts code points, not UTF-16 units: 12 emoji pass, 6 emoji (12 units) do not', async () => {
    expect(await codes('🦊🐢🦉🐙🦀🐝🦊🐢🦉🐙🦀🐝')).toEqual([]);
    expect('🦊🐢🦉🐙🦀🐝'.length).toBe(12);
    expect(await codes('🦊🐢🦉🐙🦀🐝')).toEqual(['too_short']);
  });

  it('ID-4 length counts after NFKC: combining accents fold into their letter', async () => {
    const decomposed = 'e\u0301'.repeat(6) + 'zq8#Lw'; // 18 code points typed, 12 after NFKC
    expect(passwordLength(decomposed)).toBe(12);
    expect(await codes(decomposed)).toEqual([]);
    const short = 'e\u0301'.repeat(6) + 'zq8#L'; // 17 code points raw, 11 after NFKC
    expect([...short].length).toBe(17);
    expect(await codes(short)).toEqual(['too_short']);
  });

  it('ID-4 at most 256 code points; absurd inputs are refused before normalising', async () => {
    expect(PASSWORD_MAX_LENGTH).toBe(256);
    expect(await codes('x7'.repeat(128))).toEqual([]);
    expect(await codes(`${'x7'.repeat(128)}y`)).toEqual(['too_long']);
    expect(await codes('x'.repeat(1_000_000))).toEqual(['too_long']);
  });

  it('ID-4 refuses passwords from the shipped 100k list, in any letter case', async () => {
    // Entries of >= 12 characters, so only the list rule can refuse them.
    for (const password of ['1q2w3e4r5t6y', '1Q2W3E4R5T6Y', 'qwertyuiop123', 'QwErTyUiOp123', 'password1234']) {
      expect(await codes(password), password).toEqual(['common']);
    }
    expect(await codes('password')).toEqual(['too_short', 'common']);
  });

  it('ID-4 the shipped list holds the 100k most common passwords, lower-cased', async () => {
    const list = await loadCommonPasswords();
    expect(await loadCommonPasswords()).toBe(list); // loaded once
    expect(list.size).toBeGreaterThan(95_000); // 100,000 lines, 96.5k distinct once case-folded
    expect(list.size).toBeLessThanOrEqual(COMMON_PASSWORD_LIST.entries);
    for (const entry of ['123456', 'password', 'qwerty', 'dragon', 'iloveyou']) expect(list.has(entry)).toBe(true);
    for (const entry of list) expect(entry).toBe(entry.toLowerCase());
  });

  it('ID-4 the list parser stops at the limit and strips CRLF', () => {
    expect([...parseCommonPasswordList('a\r\nB\nc\nd', 3)]).toEqual(['a', 'b', 'c']);
  });

  it('ID-4 refuses a password containing the email, its local part or a name', async () => {
    const inputs = ['Marguerite.Dubois@example.com', 'Marguerite Dubois'];
    expect(await codes('my marguerite.dubois@example.com', inputs)).toEqual(['contains_user_input']);
    expect(await codes('XMARGUERITE.DUBOISX', inputs)).toEqual(['contains_user_input']);
    expect(await codes('gentle-dubois-2024!', inputs)).toEqual(['contains_user_input']);
    expect(await codes('violet kettle marathon 42', inputs)).toEqual([]);
  });

  it('ID-4 short name parts do not refuse ordinary words', async () => {
    expect(await codes('always planning ahead', ['al@example.com', 'Al Ng'])).toEqual([]);
  });

  it('ID-4 reports every problem at once and never echoes the password', async () => {
    const problems = await checkPasswordPolicy('jo@x.io', { userInputs: ['jo@x.io'] });
    expect(problems.map((p) => p.code)).toEqual(['too_short', 'contains_user_input']);
    for (const problem of problems) expect(problem.message).not.toContain('jo@x.io');
  });

  it('ID-4 takes an injected list (no load)', async () => {
    expect(await checkPasswordPolicy('violet kettle marathon 42', { commonPasswords: new Set(['violet kettle marathon 42']) })).toMatchObject([{ code: 'common' }]);
  });
});

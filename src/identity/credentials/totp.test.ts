import { generateSync } from 'otplib';
import { describe, expect, it } from 'vitest';
import { createTotpEnrollment, totpCodeAt, totpStep, verifyTotp } from './totp.js';

// RFC 6238 appendix B: the SHA-1 seed "12345678901234567890" in base32.
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const NOW = new Date('2026-03-01T12:00:10Z'); // 10 s into its 30 s step
const STEP = totpStep(NOW);
const at = (step: number) => totpCodeAt({ secret: RFC_SECRET, step });

describe('ID-4 TOTP enrollment', () => {
  it('ID-4 creates a 160-bit base32 secret, an otpauth URI and a QR code SVG', async () => {
    const enrollment = await createTotpEnrollment({ accountName: 'ana@example.com', issuer: 'Rampart Demo' });
    expect(enrollment.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrollment.otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Rampart Demo:ana@example.com');
    expect(uri.searchParams.get('secret')).toBe(enrollment.secret);
    expect(uri.searchParams.get('issuer')).toBe('Rampart Demo');
    expect((await createTotpEnrollment({ accountName: 'ana@example.com', issuer: 'Rampart Demo' })).secret).not.toBe(enrollment.secret);
  });

  it('ID-4 the QR SVG is inert under a strict CSP: no script, handler, style, foreign object or external reference', async () => {
    const { qrSvg, qrDataUri } = await createTotpEnrollment({ accountName: 'ana@example.com', issuer: 'Rampart Demo' });
    expect(qrSvg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(qrSvg).not.toMatch(/<script|\son\w+=|style|foreignObject|href|url\(|javascript:/i);
    // Only svg and path elements.
    expect(new Set([...qrSvg.matchAll(/<(\w+)/g)].map((m) => m[1]))).toEqual(new Set(['svg', 'path']));
    expect(qrDataUri.startsWith('data:image/svg+xml;base64,')).toBe(true);
    expect(Buffer.from(qrDataUri.split(',')[1]!, 'base64').toString('utf8')).toBe(qrSvg);
  });

  it('ID-4 refuses labels that would break the issuer:account form', async () => {
    await expect(createTotpEnrollment({ accountName: 'a:b', issuer: 'Rampart' })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(createTotpEnrollment({ accountName: 'ana', issuer: '' })).rejects.toMatchObject({ code: 'bad_request' });
  });
});

describe('ID-4 TOTP verification', () => {
  it('ID-4 matches the RFC 6238 SHA-1 test vector (T=59 -> 94287082, 6 digits 287082)', () => {
    expect(at(1)).toBe('287082');
    expect(generateSync({ secret: RFC_SECRET, epoch: 59, digits: 8 })).toBe('94287082');
  });

  it('ID-4 accepts the current code at a fixed now and returns its step', () => {
    expect(verifyTotp({ secret: RFC_SECRET, code: at(STEP), now: NOW })).toEqual({ ok: true, step: STEP });
  });

  it('ID-4 window is ±1 step: previous and next accepted, two away refused', () => {
    expect(verifyTotp({ secret: RFC_SECRET, code: at(STEP - 1), now: NOW })).toEqual({ ok: true, step: STEP - 1 });
    expect(verifyTotp({ secret: RFC_SECRET, code: at(STEP + 1), now: NOW })).toEqual({ ok: true, step: STEP + 1 });
    expect(verifyTotp({ secret: RFC_SECRET, code: at(STEP - 2), now: NOW })).toEqual({ ok: false, reason: 'invalid' });
    expect(verifyTotp({ secret: RFC_SECRET, code: at(STEP + 2), now: NOW })).toEqual({ ok: false, reason: 'invalid' });
  });

  it('ID-4 window edges follow step boundaries, not seconds from now', () => {
    const lastSecond = new Date((STEP * 30 + 29) * 1000);
    const nextStepStart = new Date((STEP + 1) * 30 * 1000);
    expect(verifyTotp({ secret: RFC_SECRET, code: at(STEP - 1), now: lastSecond }).ok).toBe(true);
    expect(verifyTotp({ secret: RFC_SECRET, code: at(STEP - 1), now: nextStepStart })).toEqual({ ok: false, reason: 'invalid' });
  });

  it('ID-4 replay: a code whose step <= lastUsedStep is refused, a later one accepted', () => {
    const code = at(STEP);
    const first = verifyTotp({ secret: RFC_SECRET, code, now: NOW });
    expect(first).toEqual({ ok: true, step: STEP });
    expect(verifyTotp({ secret: RFC_SECRET, code, lastUsedStep: STEP, now: NOW })).toEqual({ ok: false, reason: 'replayed' });
    expect(verifyTotp({ secret: RFC_SECRET, code: at(STEP - 1), lastUsedStep: STEP, now: NOW })).toEqual({ ok: false, reason: 'replayed' });
    expect(verifyTotp({ secret: RFC_SECRET, code: at(STEP + 1), lastUsedStep: STEP, now: NOW })).toEqual({ ok: true, step: STEP + 1 });
    // A lastUsedStep ahead of the window (clock moved back) refuses instead of throwing.
    expect(verifyTotp({ secret: RFC_SECRET, code, lastUsedStep: STEP + 5, now: NOW })).toEqual({ ok: false, reason: 'replayed' });
    expect(verifyTotp({ secret: RFC_SECRET, code, lastUsedStep: null, now: NOW }).ok).toBe(true);
  });

  it('ID-4 malformed codes are refused before any HMAC: whitespace, separators, length, non-ASCII digits', () => {
    const code = at(STEP);
    const malformed = [
      ` ${code}`,
      `${code} `,
      `${code}\n`,
      `${code.slice(0, 3)} ${code.slice(3)}`,
      `${code.slice(0, 3)}-${code.slice(3)}`,
      code.slice(0, 5),
      `${code}0`,
      '',
      'abcdef',
      code.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))), // full-width digits
      code.replace(/[0-9]/g, (d) => String.fromCharCode(0x0660 + Number(d))), // Arabic-Indic digits
      '+12345',
      '1e5000',
    ];
    for (const input of malformed) expect(verifyTotp({ secret: RFC_SECRET, code: input, now: NOW }), JSON.stringify(input)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyTotp({ secret: RFC_SECRET, code: 123456 as unknown as string, now: NOW })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('ID-4 a code for another secret is refused', async () => {
    const { secret } = await createTotpEnrollment({ accountName: 'ana', issuer: 'Rampart' });
    expect(verifyTotp({ secret, code: at(STEP), now: NOW }).ok).toBe(false);
    expect(verifyTotp({ secret, code: totpCodeAt({ secret, step: STEP }), now: NOW }).ok).toBe(true);
  });

  it('ID-4 a stored secret that is not base32 is a server fault', () => {
    expect(() => verifyTotp({ secret: 'not a secret', code: '123456', now: NOW })).toThrow(expect.objectContaining({ code: 'internal' }));
  });
});

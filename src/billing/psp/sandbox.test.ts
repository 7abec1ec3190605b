import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../webhooks/signature.js';
import { createSandboxPsp, SANDBOX_TEST_CARDS, type SandboxEvent, type SandboxPsp } from './sandbox.js';

/** BI-1 the sandbox PSP: its own origin, hosted fields, tokens, test cards, Stripe-signed webhooks. */

const secret = 'whsec_sandbox_test_0123456789';
const delivered: SandboxEvent[] = [];
let psp: SandboxPsp;
let origin: string;

beforeAll(async () => {
  psp = createSandboxPsp({ webhookSecrets: [secret], deliver: async (event) => {
      delivered.push(event);
      return true;
    }, });
  origin = await psp.listen({ port: 0 });
});
afterAll(() => psp.close());

const card = (number: string) => ({ number, expMonth: 12, expYear: new Date().getUTCFullYear() + 2, cvc: '123' });
const charge = (number: string, key: string) => psp.charge({ amount: 1999n, currency: 'EUR', paymentMethod: psp.tokenize(card(number)).id, idempotencyKey: key, metadata: { rampart_tenant: 't' } });

describe('sandbox PSP', () => {
  it('BI-1 serves the hosted-fields page from its own origin with a strict CSP, and tokenizes there', async () => {
    expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const session = await psp.createSetupSession({ metadata: { rampart_customer: 'c' } });
    expect(session.url.startsWith(`${origin}/hosted-fields?session=`)).toBe(true);
    const page = await fetch(session.url);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await page.text()).toContain('<script src="/hosted-fields.js"></script>');
    const token = await (await fetch(`${origin}/v1/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ number: SANDBOX_TEST_CARDS.success, exp_month: 12, exp_year: 2099, cvc: '123' }) })).json();
    expect(token.id).toMatch(/^tok_[A-Za-z0-9]{24}$/);
    expect(token.card).toEqual({ brand: 'visa', last4: '4242' });
    const done = await fetch(`${origin}/v1/setup_sessions/${session.id}/complete`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: token.id }) });
    expect(done.status).toBe(200);
    await psp.flush();
    expect(delivered.at(-1)!.type).toBe('setup_intent.succeeded');
    expect(delivered.at(-1)!.body).not.toContain(SANDBOX_TEST_CARDS.success);
  });
  it('its API needs the secret key', async () => {
    expect((await fetch(`${origin}/v1/payment_intents`, { method: 'POST', body: '{}' })).status).toBe(401);
  });
  it('test cards: success, decline, insufficient funds, 3-D Secure, expired', async () => {
    expect(await charge(SANDBOX_TEST_CARDS.success, 'k1')).toMatchObject({ status: 'succeeded' });
    expect(await charge(SANDBOX_TEST_CARDS.decline, 'k2')).toMatchObject({ status: 'failed', failureCode: 'card_declined' });
    expect(await charge(SANDBOX_TEST_CARDS.insufficientFunds, 'k3')).toMatchObject({ status: 'failed', failureCode: 'insufficient_funds' });
    expect(await charge(SANDBOX_TEST_CARDS.expired, 'k4')).toMatchObject({ status: 'failed', failureCode: 'expired_card' });
    const past = psp.tokenize({ number: SANDBOX_TEST_CARDS.success, expMonth: 1, expYear: 2020, cvc: '123' });
    expect(await psp.charge({ amount: 1n, currency: 'EUR', paymentMethod: past.id, idempotencyKey: 'k5', metadata: {} })).toMatchObject({ failureCode: 'expired_card' });
    const challenged = await charge(SANDBOX_TEST_CARDS.threeDs, 'k6');
    expect(challenged).toMatchObject({ status: 'requires_action' });
    expect(challenged.nextActionUrl).toBe(`${origin}/3ds/${challenged.id}`);
    const passed = await (await fetch(challenged.nextActionUrl!, { method: 'POST', body: JSON.stringify({ result: 'pass' }) })).json();
    expect(passed.status).toBe('succeeded');
  });
  it('the same idempotency key never charges twice; refunds never exceed the capture', async () => {
    const token = psp.tokenize(card(SANDBOX_TEST_CARDS.success)).id;
    const first = await psp.charge({ amount: 500n, currency: 'EUR', paymentMethod: token, idempotencyKey: 'same', metadata: {} });
    const again = await psp.charge({ amount: 500n, currency: 'EUR', paymentMethod: token, idempotencyKey: 'same', metadata: {} });
    expect(again.id).toBe(first.id);
    expect((await psp.refund({ paymentId: first.id, amount: 300n, idempotencyKey: 'r1', metadata: {} })).status).toBe('succeeded');
    expect((await psp.refund({ paymentId: first.id, amount: 201n, idempotencyKey: 'r2', metadata: {} })).status).toBe('failed');
    expect((await psp.refund({ paymentId: first.id, amount: 200n, idempotencyKey: 'r3', metadata: {} })).status).toBe('succeeded');
  });
  it('BI-2 signs webhooks exactly like Stripe (t=…,v1=… over timestamp.payload)', async () => {
    await psp.flush();
    const event = delivered.find((e) => e.type === 'payment_intent.succeeded')!;
    expect(event.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(() => verifySignature({ payload: event.body, header: event.signature, secrets: [secret], now: new Date() })).not.toThrow();
    expect(() => verifySignature({ payload: event.body, header: event.signature, secrets: ['another_secret_123456'], now: new Date() })).toThrow();
  });
});

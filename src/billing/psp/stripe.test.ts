import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripePsp } from './stripe.js';

/**
 * The Stripe adapter's request shapes, with the official SDK pointed at a fake Stripe on loopback
 * (no network): form-encoded PaymentIntent/Refund/Checkout bodies, Idempotency-Key, metadata.
 */

type Captured = { method: string; path: string; headers: IncomingMessage['headers']; body: URLSearchParams };
const captured: Captured[] = [];
let server: Server;
let port = 0;
let nextResponse: { status: number; body: unknown } = { status: 200, body: {} };

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    captured.push({ method: request.method!, path: request.url!, headers: request.headers, body: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) });
    response.writeHead(nextResponse.status, { 'content-type': 'application/json', 'request-id': 'req_fake' });
    response.end(JSON.stringify(nextResponse.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const psp = () => createStripePsp({ secretKey: 'sk_test_fake', api: { host: '127.0.0.1', port, protocol: 'http' }, maxNetworkRetries: 0 });

describe('BI-1 Stripe adapter request shapes', () => {
  it('charges with an off-session, confirmed PaymentIntent, the idempotency key and tenant metadata', async () => {
    nextResponse = { status: 200, body: { id: 'pi_123', object: 'payment_intent', status: 'succeeded' } };
    const result = await psp().charge({ amount: 11_900n, currency: 'EUR', paymentMethod: 'pm_abcdefgh12', idempotencyKey: 'rampart:t:renewal:1', metadata: { rampart_tenant: 't1', rampart_invoice: 'i1' } });
    expect(result).toEqual({ id: 'pi_123', status: 'succeeded' });
    const request = captured.at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/payment_intents');
    expect(request.headers['idempotency-key']).toBe('rampart:t:renewal:1');
    expect(request.headers.authorization).toBe('Bearer sk_test_fake');
    expect(Object.fromEntries(request.body)).toMatchObject({ amount: '11900', currency: 'eur', payment_method: 'pm_abcdefgh12', confirm: 'true', off_session: 'true', 'metadata[rampart_tenant]': 't1', 'metadata[rampart_invoice]': 'i1' });
  });
  it('maps a card decline (HTTP 402 with the PaymentIntent) to a failed outcome, not an exception', async () => {
    nextResponse = { status: 402, body: { error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.', payment_intent: { id: 'pi_declined', object: 'payment_intent', status: 'requires_payment_method' } } } };
    expect(await psp().charge({ amount: 100n, currency: 'EUR', paymentMethod: 'pm_abcdefgh12', idempotencyKey: 'k2', metadata: {} })).toEqual({ id: 'pi_declined', status: 'failed', failureCode: 'insufficient_funds' });
  });
  it('maps 3-D Secure to requires_action with the redirect URL', async () => {
    nextResponse = { status: 200, body: { id: 'pi_3ds', object: 'payment_intent', status: 'requires_action', next_action: { type: 'redirect_to_url', redirect_to_url: { url: 'https://hooks.stripe.com/3d_secure' } } } };
    expect(await psp().charge({ amount: 100n, currency: 'EUR', paymentMethod: 'pm_abcdefgh12', idempotencyKey: 'k3', metadata: {} })).toEqual({ id: 'pi_3ds', status: 'requires_action', nextActionUrl: 'https://hooks.stripe.com/3d_secure' });
  });
  it('refunds a PaymentIntent with an amount and idempotency key', async () => {
    nextResponse = { status: 200, body: { id: 're_1', object: 'refund', status: 'succeeded' } };
    expect(await psp().refund({ paymentId: 'pi_123', amount: 500n, idempotencyKey: 'rampart:t:refund:r1', metadata: { rampart_refund: 'r1' } })).toEqual({ id: 're_1', status: 'succeeded' });
    const request = captured.at(-1)!;
    expect(request.path).toBe('/v1/refunds');
    expect(request.headers['idempotency-key']).toBe('rampart:t:refund:r1');
    expect(Object.fromEntries(request.body)).toMatchObject({ payment_intent: 'pi_123', amount: '500', 'metadata[rampart_refund]': 'r1' });
  });
  it('collects cards in Stripe Checkout (setup mode): Rampart only gets the session URL', async () => {
    nextResponse = { status: 200, body: { id: 'cs_1', object: 'checkout.session', url: 'https://checkout.stripe.com/c/cs_1' } };
    expect(await psp().createSetupSession({ metadata: { rampart_customer: 'c1' }, returnUrl: 'https://app.example/billing' })).toEqual({ id: 'cs_1', url: 'https://checkout.stripe.com/c/cs_1' });
    expect(Object.fromEntries(captured.at(-1)!.body)).toMatchObject({ mode: 'setup', 'metadata[rampart_customer]': 'c1', 'setup_intent_data[metadata][rampart_customer]': 'c1' });
  });
  it('refuses an amount beyond the safe integer range before calling Stripe', async () => {
    const before = captured.length;
    await expect(psp().charge({ amount: 2n ** 60n, currency: 'EUR', paymentMethod: 'pm_abcdefgh12', idempotencyKey: 'k9', metadata: {} })).rejects.toThrow(/safe integer/);
    expect(captured.length).toBe(before);
  });
});

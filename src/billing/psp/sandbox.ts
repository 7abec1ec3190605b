import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock, type Logger } from '../../core/index.js';
import { signatureHeader } from '../webhooks/signature.js';
import { luhnValid } from './pan.js';
import { hostedFieldsPage, hostedFieldsScript, threeDsPage } from './sandbox-pages.js';
import type { ChargeInput, ChargeResult, PaymentProvider, RefundInput, RefundResult, SetupSession } from './types.js';

/**
 * The built-in sandbox PSP: the embedded default and the test double (BI-1). It plays the part of
 * a real provider, on its own origin (its own port), so the card never touches Rampart even in a
 * demo: the hosted-fields page and the token endpoint live here, and Rampart only ever sees
 * `tok_…` ids. Its webhooks are signed exactly like Stripe's. Dev only: it logs a warning at
 * start and billing refuses it in production.
 *
 * Test cards (any future expiry, any CVC), as in Stripe's test mode:
 *   4242 4242 4242 4242  succeeds
 *   4000 0000 0000 0002  declined (card_declined)
 *   4000 0000 0000 9995  insufficient funds (insufficient_funds)
 *   4000 0000 0000 3220  3-D Secure challenge (requires_action, then pass or fail)
 *   4000 0000 0000 0069  expired card (expired_card); so is any card with a past expiry
 */

export const SANDBOX_TEST_CARDS = {
  success: '4242424242424242',
  decline: '4000000000000002',
  insufficientFunds: '4000000000009995',
  threeDs: '4000000000003220',
  expired: '4000000000000069',
} as const;

type Behaviour = 'success' | 'card_declined' | 'insufficient_funds' | 'three_ds' | 'expired_card';
const BEHAVIOUR: Record<string, Behaviour> = {
  [SANDBOX_TEST_CARDS.decline]: 'card_declined',
  [SANDBOX_TEST_CARDS.insufficientFunds]: 'insufficient_funds',
  [SANDBOX_TEST_CARDS.threeDs]: 'three_ds',
  [SANDBOX_TEST_CARDS.expired]: 'expired_card',
};

type Token = { id: string; last4: string; brand: string; behaviour: Behaviour };
type Intent = { id: string; amount: bigint; currency: string; status: ChargeResult['status']; failureCode?: string; refunded: bigint; metadata: Record<string, string>; token: string };

export type SandboxEvent = { id: string; type: string; body: string; signature: string };

export type SandboxPsp = PaymentProvider & {
  readonly secretKey: string;
  /** Card entry happens here; returns a token (the PSP side of hosted fields). */
  tokenize(card: { number: string; expMonth: number; expYear: number; cvc: string }): Token;
  completeThreeDs(intentId: string, pass: boolean): ChargeResult;
  completeSetup(sessionId: string, token: string): void;
  listen(options?: { port?: number; host?: string }): Promise<string>;
  origin(): string;
  /** Every event sent so far, as delivered (tests replay them). */
  readonly events: SandboxEvent[];
  /** Resolves when every webhook delivery in flight has finished (tests). */
  flush(): Promise<void>;
  close(): Promise<void>;
};

export type SandboxOptions = {
  webhookSecrets: readonly string[];
  /** Where webhooks go; by default POSTed to `webhookUrl`. */
  deliver?: (event: SandboxEvent) => Promise<boolean>;
  webhookUrl?: string;
  clock?: Clock;
  log?: Logger;
  retries?: number;
  retryDelayMs?: number;
};

const id = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url').replace(/[^A-Za-z0-9]/g, '').slice(0, 24).padEnd(24, '0')}`;

function brandOf(number: string): string {
  if (number.startsWith('4')) return 'visa';
  if (/^5[1-5]/.test(number)) return 'mastercard';
  if (/^3[47]/.test(number)) return 'amex';
  return 'unknown';
}

export function createSandboxPsp(options: SandboxOptions): SandboxPsp {
  const clock = options.clock ?? systemClock;
  const secretKey = `sk_sandbox_${randomBytes(24).toString('hex')}`;
  const tokens = new Map<string, Token>();
  const intents = new Map<string, Intent>();
  const sessions = new Map<string, { metadata: Record<string, string>; returnUrl?: string; token?: string }>();
  const idempotent = new Map<string, unknown>();
  const events: SandboxEvent[] = [];
  const inFlight = new Set<Promise<void>>();
  let server: Server | undefined;
  let listeningOrigin = '';

  const deliver =
    options.deliver ??
    (async (event: SandboxEvent) => {
      if (!options.webhookUrl) return true;
      const response = await fetch(options.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': event.signature }, body: event.body });
      return response.ok;
    });

  /** Sends a signed event; retries on failure like a PSP does (the intake dedupes). */
  function emit(type: string, object: Record<string, unknown>): void {
    const created = Math.floor(clock.now().getTime() / 1000);
    const event = { id: id('evt'), object: 'event', type, created, livemode: false, data: { object } };
    const body = JSON.stringify(event, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2);
    const signed: SandboxEvent = { id: event.id, type, body, signature: signatureHeader({ payload: body, secrets: options.webhookSecrets.slice(0, 1), timestamp: created }) };
    events.push(signed);
    const attempts = options.retries ?? 5;
    const run = (async () => {
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const ok = await deliver(signed).catch(() => false);
        if (ok) return;
        await new Promise((resolve) => setTimeout(resolve, (options.retryDelayMs ?? 200) * attempt));
      }
      options.log?.warn({ event: event.id, type }, 'sandbox PSP gave up delivering a webhook');
    })();
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
  }

  const intentObject = (intent: Intent) => ({
    id: intent.id,
    object: 'payment_intent',
    amount: intent.amount,
    amount_refunded: intent.refunded,
    currency: intent.currency.toLowerCase(),
    status: intent.status === 'failed' ? 'requires_payment_method' : intent.status,
    last_payment_error: intent.failureCode ? { code: intent.failureCode, decline_code: intent.failureCode } : null,
    metadata: intent.metadata,
  });

  const once = <T>(key: string, fn: () => T): T => {
    if (idempotent.has(key)) return idempotent.get(key) as T;
    const result = fn();
    idempotent.set(key, result);
    return result;
  };

  function settle(intent: Intent, status: 'succeeded' | 'failed', failureCode?: string): ChargeResult {
    intent.status = status;
    if (failureCode) intent.failureCode = failureCode;
    emit(status === 'succeeded' ? 'payment_intent.succeeded' : 'payment_intent.payment_failed', intentObject(intent));
    return { id: intent.id, status, ...(failureCode ? { failureCode } : {}) };
  }

  function charge(input: ChargeInput): ChargeResult {
    return once(`charge:${input.idempotencyKey}`, () => {
      const token = tokens.get(input.paymentMethod);
      const intent: Intent = { id: id('pi'), amount: input.amount, currency: input.currency, status: 'pending', refunded: 0n, metadata: input.metadata, token: input.paymentMethod };
      intents.set(intent.id, intent);
      if (input.amount <= 0n) return settle(intent, 'failed', 'amount_too_small');
      if (!token) return settle(intent, 'failed', 'resource_missing');
      switch (token.behaviour) {
        case 'success':
          return settle(intent, 'succeeded');
        case 'three_ds':
          intent.status = 'requires_action';
          emit('payment_intent.requires_action', intentObject(intent));
          return { id: intent.id, status: 'requires_action', nextActionUrl: `${listeningOrigin || 'http://sandbox.invalid'}/3ds/${intent.id}` };
        default:
          return settle(intent, 'failed', token.behaviour);
      }
    });
  }

  function refund(input: RefundInput): RefundResult {
    return once(`refund:${input.idempotencyKey}`, () => {
      const intent = intents.get(input.paymentId);
      if (!intent || intent.status !== 'succeeded') return { id: id('re'), status: 'failed' as const };
      if (input.amount <= 0n || intent.refunded + input.amount > intent.amount) return { id: id('re'), status: 'failed' as const };
      intent.refunded += input.amount;
      const refundId = id('re');
      emit('charge.refunded', { ...intentObject(intent), object: 'charge', payment_intent: intent.id, refund: { id: refundId, amount: input.amount }, metadata: { ...intent.metadata, ...input.metadata } });
      return { id: refundId, status: 'succeeded' as const };
    });
  }

  function tokenize(card: { number: string; expMonth: number; expYear: number; cvc: string }): Token {
    const number = card.number.replace(/[\s-]/g, '');
    if (!/^\d{13,19}$/.test(number) || !luhnValid(number)) throw new Error('invalid card number');
    if (!/^\d{3,4}$/.test(card.cvc)) throw new Error('invalid cvc');
    const now = clock.now();
    const expired = card.expYear < now.getUTCFullYear() || (card.expYear === now.getUTCFullYear() && card.expMonth < now.getUTCMonth() + 1);
    const token: Token = { id: id('tok'), last4: number.slice(-4), brand: brandOf(number), behaviour: expired ? 'expired_card' : (BEHAVIOUR[number] ?? 'success') };
    tokens.set(token.id, token);
    return token;
  }

  function completeThreeDs(intentId: string, pass: boolean): ChargeResult {
    const intent = intents.get(intentId);
    if (!intent || intent.status !== 'requires_action') throw new Error('no payment awaiting authentication');
    return pass ? settle(intent, 'succeeded') : settle(intent, 'failed', 'authentication_failed');
  }

  function completeSetup(sessionId: string, token: string): void {
    const session = sessions.get(sessionId);
    if (!session || session.token) throw new Error('unknown or completed setup session');
    const card = tokens.get(token);
    if (!card) throw new Error('unknown token');
    session.token = token;
    emit('setup_intent.succeeded', { id: sessionId, object: 'setup_intent', status: 'succeeded', payment_method: token, card: { brand: card.brand, last4: card.last4 }, metadata: session.metadata });
  }

  async function flush(): Promise<void> {
    while (inFlight.size) await Promise.allSettled([...inFlight]);
  }

  async function createSetupSession({ metadata, returnUrl }: { metadata: Record<string, string>; returnUrl?: string }): Promise<SetupSession> {
    const sessionId = id('seti');
    sessions.set(sessionId, { metadata, ...(returnUrl ? { returnUrl } : {}) });
    return { id: sessionId, url: `${listeningOrigin || 'http://sandbox.invalid'}/hosted-fields?session=${sessionId}` };
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://sandbox');
    const send = (status: number, body: unknown, type = 'application/json') => {
      response.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        // The card page may be framed by nobody and runs only its own script.
        'content-security-policy': "default-src 'none'; script-src 'self'; connect-src 'self'; form-action 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
      });
      response.end(typeof body === 'string' ? body : JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)));
    };
    const body = async (): Promise<Record<string, unknown>> => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request) {
        size += (chunk as Buffer).length;
        if (size > 64 * 1024) throw new Error('body too large');
        chunks.push(chunk as Buffer);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    };
    const authorized = () => {
      const given = Buffer.from(request.headers.authorization ?? '');
      const expected = Buffer.from(`Bearer ${secretKey}`);
      return given.length === expected.length && timingSafeEqual(given, expected);
    };
    try {
      if (request.method === 'GET' && url.pathname === '/hosted-fields') return send(200, hostedFieldsPage(url.searchParams.get('session') ?? ''), 'text/html; charset=utf-8');
      if (request.method === 'GET' && url.pathname === '/hosted-fields.js') return send(200, hostedFieldsScript, 'text/javascript; charset=utf-8');
      if (request.method === 'POST' && url.pathname === '/v1/tokens') {
        const input = await body();
        const token = tokenize({ number: String(input.number ?? ''), expMonth: Number(input.exp_month), expYear: Number(input.exp_year), cvc: String(input.cvc ?? '') });
        return send(200, { id: token.id, object: 'token', card: { brand: token.brand, last4: token.last4 } });
      }
      const setup = /^\/v1\/setup_sessions\/([A-Za-z0-9_]+)\/complete$/.exec(url.pathname);
      if (request.method === 'POST' && setup) {
        const input = await body();
        completeSetup(setup[1]!, String(input.token ?? ''));
        return send(200, { id: setup[1], status: 'succeeded', return_url: sessions.get(setup[1]!)?.returnUrl ?? null });
      }
      const threeDs = /^\/3ds\/([A-Za-z0-9_]+)$/.exec(url.pathname);
      if (threeDs && request.method === 'GET') return send(200, threeDsPage(threeDs[1]!), 'text/html; charset=utf-8');
      if (threeDs && request.method === 'POST') return send(200, completeThreeDs(threeDs[1]!, (await body()).result === 'pass'));
      if (url.pathname.startsWith('/v1/') && !authorized()) return send(401, { error: { type: 'authentication_error' } });
      const key = String(request.headers['idempotency-key'] ?? id('idem'));
      if (request.method === 'POST' && url.pathname === '/v1/payment_intents') {
        const input = await body();
        return send(200, charge({ amount: BigInt(String(input.amount)), currency: String(input.currency).toUpperCase(), paymentMethod: String(input.payment_method), idempotencyKey: key, metadata: (input.metadata ?? {}) as Record<string, string> }));
      }
      if (request.method === 'POST' && url.pathname === '/v1/refunds') {
        const input = await body();
        return send(200, refund({ paymentId: String(input.payment_intent), amount: BigInt(String(input.amount)), idempotencyKey: key, metadata: (input.metadata ?? {}) as Record<string, string> }));
      }
      return send(404, { error: { type: 'invalid_request_error', message: 'not found' } });
    } catch (error) {
      return send(400, { error: { type: 'invalid_request_error', message: error instanceof Error ? error.message.slice(0, 200) : 'bad request' } });
    }
  }

  return {
    name: 'sandbox',
    secretKey,
    events,
    charge: async (input) => charge(input),
    refund: async (input) => refund(input),
    createSetupSession,
    tokenize,
    completeThreeDs,
    completeSetup,
    origin: () => listeningOrigin,
    async listen({ port = 0, host = '127.0.0.1' } = {}) {
      if (server) return listeningOrigin;
      server = createServer((request, response) => void handle(request, response));
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      listeningOrigin = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      options.log?.warn({ origin: listeningOrigin }, 'sandbox PSP is running: test payments only, never use it in production (set billing.psp to "stripe")');
      return listeningOrigin;
    },
    flush,
    async close() {
      await flush();
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = undefined;
    },
  };
}

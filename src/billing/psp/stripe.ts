import Stripe from 'stripe';
import { toSafeNumber } from '../money/index.js';
import type { ChargeInput, ChargeResult, PaymentProvider, RefundResult } from './types.js';

/**
 * Stripe behind the PaymentProvider interface, through the official SDK (BI-1). Cards are entered
 * in Stripe Checkout (setup mode), so Rampart only ever holds `pm_…` ids; charges are off-session
 * PaymentIntents confirmed with a saved payment method, refunds are Refunds. Every call carries
 * Rampart's idempotency key, so the SDK's own network retries and ours cannot charge twice.
 *
 * `api` overrides the endpoint (tests point the SDK at a loopback fake; nothing leaves the host).
 */

export type StripePspOptions = {
  secretKey: string;
  api?: { host: string; port: number; protocol: 'http' | 'https' };
  successUrl?: string;
  cancelUrl?: string;
  maxNetworkRetries?: number;
};

const chargeStatus = (intent: Stripe.PaymentIntent): ChargeResult['status'] => {
  switch (intent.status) {
    case 'succeeded':
      return 'succeeded';
    case 'requires_action':
    case 'requires_confirmation':
      return 'requires_action';
    case 'processing':
    case 'requires_capture':
      return 'pending';
    default:
      return 'failed';
  }
};

export function createStripePsp(options: StripePspOptions): PaymentProvider {
  const stripe = new Stripe(options.secretKey, {
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    telemetry: false,
    timeout: 30_000,
    ...(options.api ? { host: options.api.host, port: options.api.port, protocol: options.api.protocol } : {}),
  });

  async function charge(input: ChargeInput): Promise<ChargeResult> {
    try {
      const intent = await stripe.paymentIntents.create(
        {
          amount: toSafeNumber(input.amount),
          currency: input.currency.toLowerCase(),
          payment_method: input.paymentMethod,
          confirm: true,
          off_session: true,
          metadata: input.metadata,
          ...(input.description ? { description: input.description } : {}),
        },
        { idempotencyKey: input.idempotencyKey },
      );
      const status = chargeStatus(intent);
      const nextActionUrl = intent.next_action?.redirect_to_url?.url ?? undefined;
      const failureCode = intent.last_payment_error?.decline_code ?? intent.last_payment_error?.code ?? undefined;
      return { id: intent.id, status, ...(nextActionUrl ? { nextActionUrl } : {}), ...(status === 'failed' && failureCode ? { failureCode } : {}) };
    } catch (error) {
      // An off-session decline is an error carrying the PaymentIntent; it is an outcome, not a fault.
      if (error instanceof Stripe.errors.StripeCardError) {
        const intent = (error as { payment_intent?: Stripe.PaymentIntent }).payment_intent;
        const raw = error as { decline_code?: string; code?: string };
        return { id: intent?.id ?? `failed:${input.idempotencyKey}`, status: 'failed', failureCode: raw.decline_code ?? raw.code ?? 'card_declined' };
      }
      throw error;
    }
  }

  return {
    name: 'stripe',
    charge,
    async refund(input): Promise<RefundResult> {
      const refund = await stripe.refunds.create({ payment_intent: input.paymentId, amount: toSafeNumber(input.amount), metadata: input.metadata }, { idempotencyKey: input.idempotencyKey });
      return { id: refund.id, status: refund.status === 'succeeded' ? 'succeeded' : refund.status === 'failed' || refund.status === 'canceled' ? 'failed' : 'pending' };
    },
    async createSetupSession({ metadata, returnUrl }) {
      const session = await stripe.checkout.sessions.create({
        mode: 'setup',
        metadata,
        setup_intent_data: { metadata },
        success_url: returnUrl ?? options.successUrl ?? 'https://example.invalid/billing/setup/done',
        cancel_url: returnUrl ?? options.cancelUrl ?? 'https://example.invalid/billing/setup/cancelled',
      });
      return { id: session.id, url: session.url ?? '' };
    },
  };
}

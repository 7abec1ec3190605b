/**
 * What Rampart asks of a payment provider (BI-1). Rampart sends amounts it computed itself and a
 * payment-method token; it never sends or receives a card number. Both implementations (the
 * sandbox and Stripe) take an idempotency key on every call that moves money, so a retry after a
 * timeout or a crash cannot charge or refund twice.
 */

export type ChargeStatus = 'succeeded' | 'requires_action' | 'failed' | 'pending';

export type ChargeInput = {
  amount: bigint;
  currency: string;
  paymentMethod: string;
  idempotencyKey: string;
  /** Carried back in webhooks; `rampart_tenant` routes the event to its tenant. */
  metadata: Record<string, string>;
  description?: string;
};

export type ChargeResult = { id: string; status: ChargeStatus; failureCode?: string; nextActionUrl?: string };

export type RefundInput = { paymentId: string; amount: bigint; idempotencyKey: string; metadata: Record<string, string> };
export type RefundResult = { id: string; status: 'succeeded' | 'pending' | 'failed' };

/** Where the customer's browser enters the card: the provider's hosted fields, never a Rampart page. */
export type SetupSession = { id: string; url: string; clientSecret?: string };

export type PaymentProvider = {
  readonly name: 'sandbox' | 'stripe';
  charge(input: ChargeInput): Promise<ChargeResult>;
  refund(input: RefundInput): Promise<RefundResult>;
  createSetupSession(input: { metadata: Record<string, string>; returnUrl?: string }): Promise<SetupSession>;
};

import { requestCredit } from '../credits/credit-requests.js';
import { fromDb } from '../money/index.js';
import { getSettings } from '../store.js';
import { billingTables, type BillingDeps, type CreditRequestRow, type OperationContext, type RefundRow, type Tx } from '../types.js';
import { refundableOn, refundPayment } from './refund-payment.js';

/** The API's refund: up to the tenant's threshold it runs now; above it, a `refund` request waits for a second person (BI-3). */
export async function refundOrRequest(tx: Tx, deps: BillingDeps, context: OperationContext, input: { paymentId: string; amount: bigint | null; justification: string }): Promise<{ refund: RefundRow; request: null } | { refund: null; request: CreditRequestRow }> {
  const trx = billingTables(tx);
  const payment = await trx.selectFrom('billing_payments').selectAll().where('id', '=', input.paymentId).forUpdate().executeTakeFirst();
  const threshold = fromDb((await getSettings(trx, context.tenantId)).refund_approval_threshold);
  const amount = input.amount ?? (payment ? await refundableOn(trx, payment) : 0n);
  if (payment && amount > threshold) return { refund: null, request: await requestCredit(tx, deps, context, { kind: 'refund', paymentId: input.paymentId, amount, justification: input.justification }) };
  return { refund: await refundPayment(tx, deps, context, input, null), request: null };
}

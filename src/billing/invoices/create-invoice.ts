import { uuidv7 } from '../../core/index.js';
import { fromDb } from '../money/index.js';
import { getSettings } from '../store.js';
import { computeDocument, decideVat, type Discount, type TaxBehavior } from '../tax/index.js';
import { billingTables, type BillingDeps, type CouponRow, type CustomerRow, type InvoiceRow, type OperationContext } from '../types.js';
import type { Transaction } from 'kysely';
import type { Schema } from '../../db/index.js';

/**
 * Builds a draft invoice from lines the server priced (BI-3): the VAT treatment comes from the
 * seller's and the buyer's jurisdictions (BI-5), the discount from a coupon capped by tenant
 * policy, and the totals from `computeDocument` (EN 16931 rounding). Buyer and seller are
 * snapshotted, so a later address change never rewrites an issued invoice.
 */

export type LineSpec = {
  description: string;
  priceId: string | null;
  quantity: bigint;
  amount: bigint;
  taxBehavior: TaxBehavior;
  proration?: boolean;
  discountable?: boolean;
  periodStart?: Date | null;
  periodEnd?: Date | null;
};

/** The coupon's discount under today's caps: a coupon made under a looser policy is re-capped on every invoice (BI-3). */
export function couponDiscount(coupon: CouponRow | null | undefined, currency: string, cap: bigint | null, maxPercentBasisPoints: number): Discount | null {
  if (!coupon || !coupon.active) return null;
  if (coupon.percent_off_bp !== null) return { percentBasisPoints: Math.min(coupon.percent_off_bp, maxPercentBasisPoints), cap };
  if (coupon.amount_off !== null && coupon.currency === currency) return { amountOff: fromDb(coupon.amount_off), cap };
  return null;
}

export async function createDraftInvoice(
  tx: Transaction<Schema>,
  deps: BillingDeps,
  context: OperationContext,
  input: { customer: CustomerRow; subscriptionId: string | null; kind: InvoiceRow['kind']; currency: string; lines: LineSpec[]; coupon?: CouponRow | null; periodStart?: Date | null; periodEnd?: Date | null },
): Promise<InvoiceRow> {
  const trx = billingTables(tx);
  const settings = await getSettings(trx, context.tenantId);
  const now = deps.clock.now();
  const vat = decideVat({
    seller: { country: settings.seller_country, vatId: settings.seller_vat_id },
    buyer: { country: input.customer.country, vatId: input.customer.tax_id_valid ? input.customer.tax_id : null, isBusiness: input.customer.is_business, exempt: input.customer.tax_exempt },
    date: now,
    nonEuRates: settings.non_eu_rates,
    ossDestination: settings.oss_destination,
  });
  const discount = couponDiscount(input.coupon, input.currency, settings.max_discount_amount, settings.max_discount_percent_bp);
  const document = computeDocument({
    lines: input.lines.map((line) => ({ amount: line.amount, taxBehavior: line.taxBehavior, category: vat.category, rate: vat.rate, discountable: line.discountable ?? !line.proration })),
    discount,
    perLineRounding: settings.per_line_rounding,
  });
  const id = uuidv7(now.getTime());
  const invoice = await trx
    .insertInto('billing_invoices')
    .values({
      tenant_id: context.tenantId,
      id,
      customer_id: input.customer.id,
      subscription_id: input.subscriptionId,
      kind: input.kind,
      status: 'draft',
      series: 'INV',
      currency: input.currency,
      period_start: input.periodStart ?? null,
      period_end: input.periodEnd ?? null,
      subtotal: document.subtotal,
      discount_total: document.discountTotal,
      taxable_total: document.taxableTotal,
      tax_total: document.taxTotal,
      total: document.total,
      amount_due: document.total > 0n ? document.total : 0n,
      tax_breakdown: JSON.stringify(document.breakdown.map((b) => ({ ...b, taxable: b.taxable.toString(), tax: b.tax.toString(), note: vat.note, country: vat.country }))),
      buyer: JSON.stringify({ name: input.customer.name, country: input.customer.country, address: input.customer.address, vat_id: input.customer.tax_id, is_business: input.customer.is_business }),
      seller: JSON.stringify({ name: settings.seller_name, country: settings.seller_country, vat_id: settings.seller_vat_id }),
      coupon_id: discount ? (input.coupon?.id ?? null) : null,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  if (document.lines.length) {
    await trx
      .insertInto('billing_invoice_lines')
      .values(
        document.lines.map((line, index) => {
          const spec = input.lines[index]!;
          return {
            tenant_id: context.tenantId,
            id: uuidv7(now.getTime()),
            invoice_id: id,
            position: index + 1,
            description: spec.description.slice(0, 500),
            price_id: spec.priceId,
            quantity: spec.quantity,
            amount: line.amount,
            discount: line.discount,
            net: line.net,
            tax: line.tax,
            gross: line.gross,
            tax_behavior: line.taxBehavior,
            vat_category: line.category,
            vat_rate: line.rate,
            proration: spec.proration ?? false,
            period_start: spec.periodStart ?? null,
            period_end: spec.periodEnd ?? null,
          };
        }),
      )
      .execute();
  }
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: 'billing.invoice.created',
    target: { type: 'billing_invoice', id },
    diff: { kind: { after: input.kind }, total: { after: document.total.toString() }, currency: { after: input.currency } },
    ...(context.request ? { context: context.request } : {}),
  });
  return invoice;
}

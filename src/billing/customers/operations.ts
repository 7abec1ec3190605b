import { RampartError, uuidv7 } from '../../core/index.js';
import { fromDb, moneyJson } from '../money/index.js';
import { isEu, isValidVatIdFormat, normalizeVatId } from '../tax/index.js';
import { billingTables, type BillingDeps, type CustomerRow, type OperationContext, type Tx } from '../types.js';

/**
 * Billing customers: address and country (the VAT place of supply), EU VAT id validated by format
 * (a malformed id is refused, so reverse charge is never granted on a typo), tax exemption, and a
 * PSP payment-method token (BI-1: a token, never card data).
 */

export type CustomerInput = {
  name: string;
  email?: string | null;
  address?: Record<string, string>;
  country: string;
  isBusiness?: boolean;
  taxId?: string | null;
  taxExempt?: boolean;
};

function checkTaxId(country: string, taxId: string | null | undefined): { tax_id: string | null; tax_id_valid: boolean } {
  if (!taxId) return { tax_id: null, tax_id_valid: false };
  const normalized = normalizeVatId(taxId);
  if (isEu(country) && !isValidVatIdFormat(country, normalized)) {
    throw new RampartError('validation_failed', { detail: `not a valid ${country} VAT id format`, issues: [{ pointer: '/tax_id', message: `not a valid ${country === 'GR' ? 'EL' : country} VAT id` }] });
  }
  return { tax_id: normalized, tax_id_valid: isEu(country) };
}

export async function createCustomer(tx: Tx, deps: BillingDeps, context: OperationContext, input: CustomerInput): Promise<CustomerRow> {
  const now = deps.clock.now();
  const customer = await billingTables(tx)
    .insertInto('billing_customers')
    .values({
      tenant_id: context.tenantId,
      id: uuidv7(now.getTime()),
      name: input.name,
      email: input.email ?? null,
      address: JSON.stringify(input.address ?? {}),
      country: input.country,
      is_business: input.isBusiness ?? false,
      ...checkTaxId(input.country, input.taxId),
      tax_exempt: input.taxExempt ?? false,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: 'billing.customer.created', target: { type: 'billing_customer', id: customer.id }, diff: { country: { after: customer.country }, tax_exempt: { after: customer.tax_exempt } }, ...(context.request ? { context: context.request } : {}) });
  return customer;
}

export async function updateCustomer(tx: Tx, deps: BillingDeps, context: OperationContext, id: string, input: Partial<CustomerInput>): Promise<CustomerRow> {
  const trx = billingTables(tx);
  const before = await trx.selectFrom('billing_customers').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!before) throw new RampartError('not_found', { detail: 'no such customer' });
  const country = input.country ?? before.country;
  const taxId = input.taxId !== undefined ? input.taxId : before.tax_id;
  const updated = await trx
    .updateTable('billing_customers')
    .set({
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.email !== undefined ? { email: input.email } : {}),
      ...(input.address !== undefined ? { address: JSON.stringify(input.address) } : {}),
      ...(input.isBusiness !== undefined ? { is_business: input.isBusiness } : {}),
      ...(input.taxExempt !== undefined ? { tax_exempt: input.taxExempt } : {}),
      country,
      ...checkTaxId(country, taxId),
      updated_at: deps.clock.now(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  const diff: Record<string, { before: unknown; after: unknown }> = {};
  for (const key of ['name', 'email', 'country', 'is_business', 'tax_id', 'tax_exempt'] as const) if (before[key] !== updated[key]) diff[key] = { before: before[key], after: updated[key] };
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: 'billing.customer.updated', target: { type: 'billing_customer', id }, diff, ...(context.request ? { context: context.request } : {}) });
  return updated;
}

const TOKEN = /^(tok|pm)_[A-Za-z0-9]{8,64}$/;

/** Stores the PSP token the hosted fields returned (from the API or the setup webhook). */
export async function setPaymentMethod(tx: Tx, deps: BillingDeps, context: OperationContext, id: string, token: string): Promise<CustomerRow> {
  if (!TOKEN.test(token)) throw new RampartError('validation_failed', { detail: 'a payment method token from the payment provider (tok_… or pm_…)', issues: [{ pointer: '/token', message: 'a tok_… or pm_… token' }] });
  const trx = billingTables(tx);
  const before = await trx.selectFrom('billing_customers').select(['id', 'payment_method']).where('id', '=', id).forUpdate().executeTakeFirst();
  if (!before) throw new RampartError('not_found', { detail: 'no such customer' });
  const updated = await trx.updateTable('billing_customers').set({ payment_method: token, updated_at: deps.clock.now() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: 'billing.customer.payment_method_set', target: { type: 'billing_customer', id }, diff: { payment_method: { before: before.payment_method ? 'set' : null, after: 'set' } }, ...(context.request ? { context: context.request } : {}) });
  return updated;
}

export const customerView = (c: CustomerRow) => ({
  id: c.id,
  name: c.name,
  email: c.email,
  address: c.address,
  country: c.country,
  is_business: c.is_business,
  tax_id: c.tax_id,
  tax_id_valid: c.tax_id_valid,
  tax_exempt: c.tax_exempt,
  has_payment_method: c.payment_method !== null,
  balance: c.balance_currency ? moneyJson({ amount: fromDb(c.balance), currency: c.balance_currency }) : null,
  created_at: c.created_at,
});

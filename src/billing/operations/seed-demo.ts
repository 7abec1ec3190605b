import { withTenant } from '../../db/index.js';
import { createCoupon, createPrice, createProduct } from '../catalog/operations.js';
import { billingTables, SYSTEM_ACTOR, type BillingDeps } from '../types.js';

/** The demo tenant's catalog: a per-seat plan (monthly and yearly), a metered API add-on, a coupon. Idempotent. */
export async function seedDemoCatalog(deps: BillingDeps, tenantId: string): Promise<void> {
  const context = { tenantId, actor: SYSTEM_ACTOR };
  await withTenant(deps.db, context, async (tx) => {
    const existing = await billingTables(tx).selectFrom('billing_products').select('id').limit(1).executeTakeFirst();
    if (existing) return;
    const team = await createProduct(tx, deps, context, { name: 'Team plan', description: 'Per seat, billed monthly or yearly' });
    await createPrice(tx, deps, context, { productId: team.id, currency: 'EUR', type: 'per_seat', unitAmount: 1_200n, tiersMode: null, tiers: [], interval: 'month', taxBehavior: 'exclusive' });
    await createPrice(tx, deps, context, { productId: team.id, currency: 'EUR', type: 'per_seat', unitAmount: 12_000n, tiersMode: null, tiers: [], interval: 'year', taxBehavior: 'exclusive' });
    const api = await createProduct(tx, deps, context, { name: 'API calls', description: 'Metered, graduated tiers' });
    await createPrice(tx, deps, context, {
      productId: api.id,
      currency: 'EUR',
      type: 'metered',
      unitAmount: 0n,
      tiersMode: 'graduated',
      tiers: [
        { upTo: 10_000n, unitAmount: 0n, flatAmount: 0n },
        { upTo: null, unitAmount: 1n, flatAmount: 0n },
      ],
      interval: 'month',
      taxBehavior: 'exclusive',
    });
    await createCoupon(tx, deps, context, { code: 'WELCOME10', percentOffBasisPoints: 1_000, duration: 'repeating', durationMonths: 3 });
  });
}

/**
 * Billing costs (issue: billing core), each against a baseline in the same run:
 *
 *  - invoice: a 50-line invoice computed (VAT decision, EN 16931 document totals) and persisted
 *    as a draft, then finalized with its gapless number, in one `withTenant` transaction with its
 *    audit events, versus the bare computation (`computeDocument`) without persistence.
 *  - webhook: intake of a signed event (raw-body HMAC check + exactly-once claim of the event id
 *    in a tenant transaction), versus the bare HMAC check (`verifySignature`).
 *
 *   npx tsx bench/billing.ts                 # embedded PGlite, in memory
 *   BENCH_N=500 npx tsx bench/billing.ts
 */
import { createAuditLog } from '../src/audit/index.js';
import { billingTables, computeDocument, createBilling, createCustomer, createDraftInvoice, finalizeInvoice, receiveWebhook, signatureHeader, verifySignature, type DocumentLineInput } from '../src/billing/index.js';
import { createLogger } from '../src/core/index.js';
import { createTenant, migrate, migrations, openDatabase, withTenant } from '../src/db/index.js';

const N = Number(process.env.BENCH_N ?? 300);
const LINES = 50;

async function rate(label: string, n: number, fn: (i: number) => Promise<void> | void): Promise<number> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(-1 - i); // warm-up
  const started = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  const opsPerSec = n / ((performance.now() - started) / 1000);
  console.log(`  ${label.padEnd(58)} ${opsPerSec.toFixed(0).padStart(9)} ops/s`);
  return opsPerSec;
}

async function main(): Promise<void> {
  const log = createLogger({ level: 'silent' });
  const db = await openDatabase({ url: 'memory://' });
  await migrate({ db, list: migrations });
  const tenant = await createTenant(db, { slug: 'bench-billing', name: 'Bench' });
  const secret = 'whsec_bench_0123456789abcdef';
  const billing = createBilling({ db, audit: createAuditLog({ rules: [] }), log, production: false, psp: 'sandbox', webhookSecrets: [secret] });
  const deps = billing.deps;
  const context = { tenantId: tenant.id, actor: { type: 'user' as const, id: 'bench' } };
  const customer = await withTenant(db, context, (tx) => createCustomer(tx, deps, context, { name: 'Bench GmbH', country: 'DE' }));
  const lines = Array.from({ length: LINES }, (_, i) => ({ description: `Line ${i}`, priceId: null, quantity: BigInt(i + 1), amount: BigInt(1_000 + i * 37), taxBehavior: 'exclusive' as const }));
  const documentLines: DocumentLineInput[] = lines.map((l) => ({ amount: l.amount, taxBehavior: l.taxBehavior, category: 'S', rate: '19' }));

  console.log(`Billing benchmarks (PGlite in memory, N=${N}, ${LINES}-line invoices)`);
  const bare = await rate('invoice: bare computeDocument (baseline)', N * 10, () => void computeDocument({ lines: documentLines, discount: { percentBasisPoints: 1000 } }));
  const persisted = await rate('invoice: compute + persist draft + finalize (gapless number)', N, () =>
    withTenant(db, context, async (tx) => {
      const draft = await createDraftInvoice(tx, deps, context, { customer, subscriptionId: null, kind: 'one_off', currency: 'EUR', lines });
      await finalizeInvoice(tx, deps, context, draft.id);
    }),
  );
  console.log(`  ratio: persisted is ${(bare / persisted).toFixed(0)}x slower than the bare computation`);

  const bodies = Array.from({ length: N * 2 + 40 }, (_, i) => JSON.stringify({ id: `evt_bench_${i}`, object: 'event', type: 'customer.updated', created: Math.floor(Date.now() / 1000), data: { object: { id: `cus_${i}`, metadata: { rampart_tenant: tenant.id } } } }, null, 2));
  const signed = bodies.map((body) => ({ raw: Buffer.from(body), header: signatureHeader({ payload: body, secrets: [secret], timestamp: Math.floor(Date.now() / 1000) }) }));
  const hmac = await rate('webhook: bare HMAC check (baseline)', N * 10, (i) => void verifySignature({ payload: signed[Math.abs(i) % signed.length]!.raw, header: signed[Math.abs(i) % signed.length]!.header, secrets: [secret], now: new Date() }));
  let next = 0;
  const intake = await rate('webhook: verify + exactly-once claim (new event each)', N, async () => {
    const event = signed[next++]!;
    await receiveWebhook(deps, { provider: 'stripe', rawBody: event.raw, signature: event.header });
  });
  const duplicate = await rate('webhook: verify + duplicate detected (redelivery)', N, async () => {
    await receiveWebhook(deps, { provider: 'stripe', rawBody: signed[0]!.raw, signature: signed[0]!.header });
  });
  console.log(`  ratio: intake is ${(hmac / intake).toFixed(0)}x slower than the bare HMAC; a redelivery ${(hmac / duplicate).toFixed(0)}x`);
  const stored = await withTenant(db, context, async (tx) => Number((await billingTables(tx).selectFrom('billing_webhook_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n));
  console.log(`  (${stored} distinct events stored)`);
  await billing.close();
  await db.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

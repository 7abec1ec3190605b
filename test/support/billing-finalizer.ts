import { setFlagsFromString } from 'node:v8';
import { createAuditLog } from '../../src/audit/index.js';
import { billingTables, createBilling, createDraftInvoice, finalizeInvoice } from '../../src/billing/index.js';
import { createLogger } from '../../src/core/index.js';
import { openDatabase, withTenant } from '../../src/db/index.js';

/**
 * The victim of the crash tests (test/billing-crash.test.ts, test/services/billing.test.ts): a
 * separate process that opens a real database (an embedded data dir on disk, or PostgreSQL) and
 * finalizes invoices in a loop, each draft made in one transaction and finalized in the next, the
 * way the API and the renewal job do it. It reports on stdout, one line per step, so the parent
 * can SIGKILL it at a chosen moment:
 *   `assigned <n>`   the number is taken inside the still-open finalization transaction
 *   `stalled <n>`    (at STALL_AT) it stops right there, holding the uncommitted number
 *   `committed <n>`  the finalization committed
 * Environment: RAMPART_DATA_DIR or DATABASE_URL, TENANT_ID, COUNT, STALL_AT (optional).
 */

if (Number(process.versions.v8.split('.')[0]) <= 12) setFlagsFromString('--no-turbo-inline-js-wasm-calls');

const env = process.env;
const tenantId = env.TENANT_ID!;
const count = Number(env.COUNT ?? '1000');
const stallAt = env.STALL_AT ? BigInt(env.STALL_AT) : undefined;
const log = createLogger({ level: 'silent' });
const db = await openDatabase(env.DATABASE_URL ? { url: env.DATABASE_URL, poolSize: 2 } : { dataDir: env.RAMPART_DATA_DIR! });
const billing = createBilling({ db, audit: createAuditLog(), log, production: false, psp: 'sandbox', webhookSecrets: ['crash-test-webhook-secret-0123456789'] });
const context = { tenantId, actor: { type: 'system' as const, id: 'crash-test' } };
const write = (line: string) => new Promise<void>((resolve) => process.stdout.write(`${line}\n`, () => resolve()));

await write('ready');
for (let i = 0; i < count; i++) {
  const draft = await withTenant(db, context, async (tx) => {
    const customer = await billingTables(tx).selectFrom('billing_customers').selectAll().orderBy('created_at').executeTakeFirstOrThrow();
    return createDraftInvoice(tx, billing.deps, context, { customer, subscriptionId: null, kind: 'one_off', currency: 'EUR', lines: [{ description: `Crash test ${i}`, priceId: null, quantity: 1n, amount: 1000n + BigInt(i), taxBehavior: 'exclusive' }] });
  });
  const invoice = await withTenant(db, context, (tx) =>
    finalizeInvoice(tx, billing.deps, context, draft.id, {
      afterNumberAssigned: async (number) => {
        await write(`assigned ${number}`);
        if (number === stallAt) {
          await write(`stalled ${number}`);
          // Hold the transaction open until the parent kills us (the timer keeps the event loop alive).
          await new Promise<never>(() => setInterval(() => {}, 1000));
        }
      },
    }),
  );
  await write(`committed ${invoice.number}`);
}
await write('done');
await billing.close();
await db.close();

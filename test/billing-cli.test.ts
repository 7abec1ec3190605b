import { mkdtempSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../src/audit/index.js';
import { billingTables, createBilling, createCustomer, createDraftInvoice, createPrice, createProduct, createSubscription, finalizeInvoice } from '../src/billing/index.js';
import { run, type CliIo } from '../src/cli/main.js';
import { createLogger } from '../src/core/index.js';
import { createJobQueue, createTenant, openDatabase, withTenant, type Database } from '../src/db/index.js';
import { templateDataDir } from './support/rampart.js';

/**
 * `rampart billing …` in-process on an embedded data directory (BI-2, BI-3, BI-5): lists, finalize
 * and void audited with the CLI user as actor, a renewal run queued for the server, numbering
 * verification that exits 1 on an orphaned number; exit codes 0/1/2.
 */

const dir = mkdtempSync(join(tmpdir(), 'rampart-billing-cli-'));
const dataDir = join(dir, '.rampart');
const ACTOR = { type: 'system' as const, id: 'test' };
const CLI_ACTOR = `cli:${userInfo().username}`;
let tenantId = '';
const drafts: string[] = [];
let open = '';

const cli = async (...args: string[]) => {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), env: { RAMPART_LOG_LEVEL: 'silent' }, cwd: dir };
  const code = await run(args, io);
  return { code, out, err };
};

/** The CLI closes the data dir after each command; tests look at it the same way, one at a time. */
async function inspect<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase({ dataDir });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const billingOn = (db: Database, jobs?: ReturnType<typeof createJobQueue>) => createBilling({ db, audit: createAuditLog(), log: createLogger({ level: 'silent' }), production: false, psp: 'sandbox', webhookSecrets: ['whsec_cli_test_0123456789'], ...(jobs ? { jobs } : {}) });

beforeAll(async () => {
  const db = await openDatabase({ dataDir, loadDataDir: await templateDataDir() });
  tenantId = (await createTenant(db, { slug: 'acme', name: 'Acme' })).id;
  await createTenant(db, { slug: 'empty', name: 'Empty' });
  const billing = billingOn(db);
  const context = { tenantId, actor: ACTOR };
  await withTenant(db, context, async (tx) => {
    const customer = await createCustomer(tx, billing.deps, context, { name: 'Erika Muster', email: 'erika@example.test', country: 'DE' });
    const product = await createProduct(tx, billing.deps, context, { name: 'Plan' });
    const price = await createPrice(tx, billing.deps, context, { productId: product.id, currency: 'EUR', type: 'flat', tiersMode: null, tiers: [], interval: 'month', taxBehavior: 'exclusive', unitAmount: 1000n });
    await createSubscription(tx, billing.deps, context, { customerId: customer.id, priceId: price.id, quantity: 1n, trialDays: 14 });
    for (let i = 0; i < 3; i++) drafts.push((await createDraftInvoice(tx, billing.deps, context, { customer, subscriptionId: null, kind: 'one_off', currency: 'EUR', lines: [{ description: `Work ${i}`, priceId: null, quantity: 1n, amount: 5000n, taxBehavior: 'exclusive' }] })).id);
  });
  open = (await withTenant(db, context, (tx) => finalizeInvoice(tx, billing.deps, context, drafts.shift()!))).id;
  await billing.close();
  await db.close();
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each command opens the on-disk data dir (PGlite start-up), so a test running several is slow by nature.
describe('rampart billing', { timeout: 120_000 }, () => {
  it('lists customers, subscriptions and invoices of a tenant (text and JSON); unknown tenant or bad flags exit 2', async () => {
    const customers = await cli('billing', 'customers', '--tenant', 'acme');
    expect(customers.code, customers.err).toBe(0);
    expect(customers.out).toMatch(/DE {2}B2C {2}no card {2}balance 0 {2}Erika Muster/);
    const json = JSON.parse((await cli('billing', 'customers', '--tenant', 'acme', '--json')).out) as Array<Record<string, unknown>>;
    expect(json).toHaveLength(1);
    expect(json[0]).not.toHaveProperty('payment_method');
    expect((await cli('billing', 'subscriptions', '--tenant', 'acme', '--status', 'trialing')).out).toMatch(/trialing/);
    expect((await cli('billing', 'subscriptions', '--tenant', 'acme', '--status', 'active')).out).toBe('');
    const invoices = JSON.parse((await cli('billing', 'invoices', '--tenant', 'acme', '--json')).out) as Array<{ status: string; number: string | null; total: string }>;
    expect(invoices.map((i) => i.status).sort()).toEqual(['draft', 'draft', 'open']);
    expect(invoices.find((i) => i.status === 'open')).toMatchObject({ number: '1', total: '5950' });
    expect((await cli('billing', 'invoices', '--tenant', 'acme', '--status', 'open')).out).toMatch(/INV-1 +open +total 59\.50 EUR {2}due 59\.50 EUR/);
    expect((await cli('billing', 'customers', '--tenant', 'empty')).out).toBe('');
    expect((await cli('billing', 'customers', '--tenant', 'nope')).code).toBe(2);
    expect((await cli('billing', 'invoices', '--tenant', 'acme', '--status', 'lost')).code).toBe(2);
    expect((await cli('billing', 'invoices', '--tenant', 'acme', '--limit', '999')).code).toBe(2);
    expect((await cli('billing', 'customers')).code).toBe(2);
  });

  it('BI-5 finalize gives the next number, audited with the CLI user; a second finalize exits 1; a bad id exits 2', async () => {
    const done = await cli('billing', 'finalize', drafts[0]!, '--tenant', 'acme');
    expect(done.code, done.err).toBe(0);
    expect(done.out).toMatch(/^finalized \S+ as INV-2: open, due 59\.50 EUR\n$/);
    const again = await cli('billing', 'finalize', drafts[0]!, '--tenant', 'acme');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/not a draft/);
    expect((await cli('billing', 'finalize', '00000000-0000-7000-8000-000000000000', '--tenant', 'acme')).code).toBe(1);
    expect((await cli('billing', 'finalize', 'not-a-uuid', '--tenant', 'acme')).code).toBe(2);
    const events = await inspect((db) => withTenant(db, { tenantId, actor: ACTOR }, (tx) => tx.selectFrom('audit_events').select(['action', 'actor_id']).where('target_id', '=', drafts[0]!).execute()));
    expect(events).toContainEqual({ action: 'billing.invoice.finalized', actor_id: CLI_ACTOR });
  });

  it('BI-3 void needs a justification (exit 2 without), voids an open invoice audited with it, refuses a paid or voided one (exit 1)', async () => {
    expect((await cli('billing', 'void', open, '--tenant', 'acme', '--justification', 'short')).code).toBe(2);
    const voided = await cli('billing', 'void', open, '--tenant', 'acme', '--justification', 'the order was cancelled by phone');
    expect(voided.code, voided.err).toBe(0);
    expect(voided.out).toContain('(INV-1)');
    expect((await cli('billing', 'void', open, '--tenant', 'acme', '--justification', 'the order was cancelled by phone')).code).toBe(1);
    const event = await inspect((db) => withTenant(db, { tenantId, actor: ACTOR }, (tx) => tx.selectFrom('audit_events').select(['actor_id', 'justification']).where('target_id', '=', open).where('action', '=', 'billing.invoice.voided').executeTakeFirstOrThrow()));
    expect(event).toEqual({ actor_id: CLI_ACTOR, justification: 'the order was cancelled by phone' });
  });

  it('renew queues one renewal run for the server (audited); the server job runs it for that tenant', async () => {
    const queued = await cli('billing', 'renew', '--tenant', 'acme');
    expect(queued.code, queued.err).toBe(0);
    const jobId = /^queued renewal run (\S+) for tenant acme/.exec(queued.out)?.[1];
    expect(jobId).toBeDefined();
    await inspect(async (db) => {
      const job = await db.owner.selectFrom('jobs').selectAll().where('id', '=', jobId!).executeTakeFirstOrThrow();
      expect(job).toMatchObject({ kind: 'billing.renewals', status: 'queued', payload: { tenant_id: tenantId } });
      const event = await db.owner.selectFrom('audit_events').select(['actor_id', 'tenant_id']).where('action', '=', 'billing.renewals.requested').executeTakeFirstOrThrow();
      expect(event).toEqual({ actor_id: CLI_ACTOR, tenant_id: tenantId });
      // What a running server does with it: the billing job handler picks it up once.
      const jobs = createJobQueue({ db, log: createLogger({ level: 'silent' }) });
      const billing = billingOn(db, jobs);
      expect(await jobs.runDue()).toBeGreaterThanOrEqual(1);
      expect((await db.owner.selectFrom('jobs').select('status').where('id', '=', jobId!).executeTakeFirstOrThrow()).status).toBe('succeeded');
      await billing.close();
    });
    expect((await cli('billing', 'renew', '--tenant', 'nope')).code).toBe(2);
  });

  it('BI-5 verify-numbering exits 0 when intact and 1 naming an orphaned number', async () => {
    const ok = await cli('billing', 'verify-numbering', '--tenant', 'acme');
    expect(ok.code, ok.out + ok.err).toBe(0);
    expect(ok.out).toMatch(/invoices +INV +2 numbered, highest 2, next 3/);
    expect(ok.out).toContain('tenant acme: numbering intact');
    const all = await cli('billing', 'verify-numbering', '--json');
    expect(all.code).toBe(0);
    expect((JSON.parse(all.out) as Array<{ tenant: string }>).map((r) => r.tenant).sort()).toEqual(['acme', 'empty']);
    // A number handed out without its invoice (what a sequence outside the transaction would leave).
    await inspect((db) => sql`UPDATE billing_number_sequences SET next_number = next_number + 1 WHERE tenant_id = ${tenantId} AND series = 'INV'`.execute(db.owner));
    const broken = await cli('billing', 'verify-numbering', '--tenant', 'acme');
    expect(broken.code).toBe(1);
    expect(broken.out).toContain('PROBLEM orphaned_number in INV: the sequence is at 4 but the highest invoice is 2: numbers 3..3 left the sequence without a document');
    expect(broken.out).toContain('NUMBERING BROKEN');
    const invoices = await inspect((db) => withTenant(db, { tenantId, actor: ACTOR }, (tx) => billingTables(tx).selectFrom('billing_invoices').select('number').where('number', 'is not', null).execute()));
    expect(invoices).toHaveLength(2);
  });
});

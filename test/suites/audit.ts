import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog, diffRecords, generateSigningKeyPem, signerFromPem, verifierFor, verifyAuditLog, writeCheckpoints, type AuditLog, type CheckpointSigner } from '../../src/audit/index.js';
import { execScript, createTenant, findAuditTamperRisks, unsafeAsSystem, withTenant, type Database, type Tenant } from '../../src/db/index.js';
import { eventHash } from '../../src/audit/index.js';
import type { DbHarness } from './harness.js';

const admin = { type: 'user' as const, id: 'admin-1' };

/** The tamper-evident audit log (MO-1) and alert rules (MO-2), on both database kinds. */
export function auditSuite(harness: DbHarness): void {
  describe(`audit log (${harness.kind})`, () => {
    let db: Database;
    let audit: AuditLog;
    let signer: CheckpointSigner;
    let counter = 0;
    const freshTenant = () => createTenant(db, { slug: `audit-${(counter += 1)}`, name: `Audit ${counter}` });
    const record = (tenant: Tenant, action: string, extra: Partial<Parameters<AuditLog['record']>[1]> = {}) =>
      withTenant(db, { tenantId: tenant.id, actor: admin }, (trx) => audit.record(trx, { tenantId: tenant.id, actor: admin, action, target: { type: 'customer', id: `c-${action}` }, ...extra }));
    const recordMany = async (tenant: Tenant, n: number) => {
      for (let i = 1; i <= n; i += 1) await record(tenant, `customer.updated`, { diff: { name: { before: `n${i - 1}`, after: `n${i}` } } });
    };
    const verifyTenant = (tenant: Tenant) => verifyAuditLog({ db, verifier: verifierFor(signer.publicKey), chains: [tenant.id] });
    /** Tampering as a superuser would: with the append-only triggers switched off. */
    const asSuperuser = async (statements: string) => {
      await execScript(db.owner, `ALTER TABLE audit_events DISABLE TRIGGER USER; ${statements}; ALTER TABLE audit_events ENABLE TRIGGER USER;`);
    };

    beforeAll(async () => {
      db = await harness.migrated();
      audit = createAuditLog();
      signer = signerFromPem(generateSigningKeyPem());
    });
    afterAll(() => harness.cleanup());

    it('MO-1 the app role may only insert and read: update, delete and truncate are refused', async () => {
      const tenant = await freshTenant();
      await record(tenant, 'customer.created');
      const scope = { tenantId: tenant.id, actor: admin };
      await expect(withTenant(db, scope, (trx) => trx.updateTable('audit_events').set({ action: 'customer.viewed' }).execute())).rejects.toThrow(/permission denied/);
      await expect(withTenant(db, scope, (trx) => trx.deleteFrom('audit_events').execute())).rejects.toThrow(/permission denied/);
      await expect(withTenant(db, scope, (trx) => sql`truncate audit_events`.execute(trx))).rejects.toThrow(/permission denied/);
    });

    it('MO-1 even the owner is refused by the trigger', async () => {
      const tenant = await freshTenant();
      await record(tenant, 'customer.created');
      await expect(db.owner.updateTable('audit_events').set({ action: 'x.y' }).where('chain', '=', tenant.id).execute()).rejects.toThrow(/append-only/);
      await expect(db.owner.deleteFrom('audit_events').where('chain', '=', tenant.id).execute()).rejects.toThrow(/append-only/);
      await expect(sql`truncate audit_events cascade`.execute(db.owner)).rejects.toThrow(/append-only/);
    });

    it('MO-1 an event commits with its change or not at all, and seq stays gapless', async () => {
      const tenant = await freshTenant();
      await record(tenant, 'customer.created');
      await expect(
        withTenant(db, { tenantId: tenant.id, actor: admin }, async (trx) => {
          await audit.record(trx, { tenantId: tenant.id, actor: admin, action: 'customer.deleted' });
          throw new Error('the change failed');
        }),
      ).rejects.toThrow('the change failed');
      await record(tenant, 'customer.updated');
      const rows = await db.owner.selectFrom('audit_events').select(['seq', 'action']).where('chain', '=', tenant.id).orderBy('seq').execute();
      expect(rows).toEqual([
        { seq: 1n, action: 'customer.created' },
        { seq: 2n, action: 'customer.updated' },
      ]);
      expect((await verifyTenant(tenant)).ok).toBe(true);
    });

    it('MO-1 concurrent appends to one chain stay a single gapless, valid chain', async () => {
      const tenant = await freshTenant();
      await Promise.all(Array.from({ length: 30 }, (_, i) => record(tenant, 'customer.updated', { justification: `parallel ${i}` })));
      const seqs = (await db.owner.selectFrom('audit_events').select('seq').where('chain', '=', tenant.id).orderBy('seq').execute()).map((r) => Number(r.seq));
      expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      const report = await verifyTenant(tenant);
      expect(report.ok).toBe(true);
      expect(report.events).toBe(30);
    });

    it('MO-1 a tenant reads only its own chain and cannot write into another', async () => {
      const a = await freshTenant();
      const b = await freshTenant();
      await record(a, 'customer.created');
      await record(b, 'customer.created');
      const seen = await withTenant(db, { tenantId: a.id, actor: admin }, (trx) => trx.selectFrom('audit_events').select('chain').execute());
      expect(seen.map((r) => r.chain)).toEqual([a.id]);
      await expect(withTenant(db, { tenantId: a.id, actor: admin }, (trx) => audit.record(trx, { tenantId: b.id, actor: admin, action: 'customer.deleted' }))).rejects.toThrow(/row-level security/);
    });

    it('MO-1 every event carries who, what, target, where and why', async () => {
      const tenant = await freshTenant();
      const { event } = await withTenant(db, { tenantId: tenant.id, actor: { type: 'agent', id: 'assistant', onBehalfOf: 'u-7' } }, (trx) =>
        audit.record(trx, {
          tenantId: tenant.id,
          actor: { type: 'agent', id: 'assistant', onBehalfOf: 'u-7' },
          action: 'customer.updated',
          target: { type: 'customer', id: 'c-1' },
          diff: diffRecords({ name: 'Ann', email: 'ann@example.com', password: 'old' }, { name: 'Anne', email: 'anne@example.com', password: 'new' }, { classes: { email: 'pii' } }),
          justification: 'customer asked for a name fix',
          context: { ip: '203.0.113.9', userAgent: 'Mozilla/5.0', deviceId: 'dev-1', requestId: 'req-1' },
        }),
      );
      const stored = await db.owner.selectFrom('audit_events').selectAll().where('id', '=', event.id).executeTakeFirstOrThrow();
      expect(stored).toMatchObject({ actor_type: 'agent', actor_id: 'assistant', on_behalf_of: 'u-7', target_type: 'customer', target_id: 'c-1', ip: '203.0.113.9', user_agent: 'Mozilla/5.0', device_id: 'dev-1', request_id: 'req-1', justification: 'customer asked for a name fix' });
      expect(stored.diff).toEqual({ name: { before: 'Ann', after: 'Anne' }, email: { before: '[redacted]', after: '[redacted]', redacted: true }, password: { before: '[redacted]', after: '[redacted]', redacted: true } });
      expect(JSON.stringify(stored, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toMatch(/ann@example|anne@example|"old"|"new"/);
      expect(eventHash(stored)).toBe(stored.hash);
    });

    it('MO-1 an intact chain with checkpoints verifies; checkpoints are written only for moved chains', async () => {
      const tenant = await freshTenant();
      await recordMany(tenant, 5);
      const first = await writeCheckpoints({ db, signer });
      expect(first.some((c) => c.chain === tenant.id && c.seq === 5n)).toBe(true);
      const again = await writeCheckpoints({ db, signer });
      expect(again.some((c) => c.chain === tenant.id)).toBe(false);
      const report = await verifyTenant(tenant);
      expect(report).toMatchObject({ ok: true, events: 5 });
      expect(report.chains[0]!.lastCheckpointSeq).toBe(5n);
    });

    it('MO-1 tamper: an edited event is named (altered)', async () => {
      const tenant = await freshTenant();
      await recordMany(tenant, 6);
      await asSuperuser(`UPDATE audit_events SET justification = 'nothing to see' WHERE chain = '${tenant.id}' AND seq = 3`);
      const report = await verifyTenant(tenant);
      expect(report.ok).toBe(false);
      expect(report.chains[0]!.problem).toMatchObject({ kind: 'altered', seq: 3n });
    });

    it('MO-1 tamper: a deleted event is named (removed)', async () => {
      const tenant = await freshTenant();
      await recordMany(tenant, 6);
      await asSuperuser(`DELETE FROM audit_events WHERE chain = '${tenant.id}' AND seq = 4`);
      const problem = (await verifyTenant(tenant)).chains[0]!.problem;
      expect(problem).toMatchObject({ kind: 'removed', seq: 4n });
    });

    it('MO-1 tamper: a deleted event with the chain renumbered is still named', async () => {
      const tenant = await freshTenant();
      await recordMany(tenant, 6);
      await asSuperuser(`DELETE FROM audit_events WHERE chain = '${tenant.id}' AND seq = 2; UPDATE audit_events SET seq = seq - 1 WHERE chain = '${tenant.id}' AND seq > 2`);
      const problem = (await verifyTenant(tenant)).chains[0]!.problem;
      expect(problem?.seq).toBe(2n);
      expect(['altered', 'removed', 'reordered']).toContain(problem?.kind);
    });

    it('MO-1 tamper: two events swapped in order are named at the first swapped position', async () => {
      const tenant = await freshTenant();
      await recordMany(tenant, 6);
      await asSuperuser(`UPDATE audit_events SET seq = 1000 WHERE chain = '${tenant.id}' AND seq = 3;
        UPDATE audit_events SET seq = 3 WHERE chain = '${tenant.id}' AND seq = 4;
        UPDATE audit_events SET seq = 4 WHERE chain = '${tenant.id}' AND seq = 1000`);
      const problem = (await verifyTenant(tenant)).chains[0]!.problem;
      expect(problem?.seq).toBe(3n);
    });

    it('MO-1 tamper: events cut from the end are caught by the signed checkpoint (truncated)', async () => {
      const tenant = await freshTenant();
      await recordMany(tenant, 6);
      await writeCheckpoints({ db, signer });
      await asSuperuser(`DELETE FROM audit_events WHERE chain = '${tenant.id}' AND seq > 4`);
      const problem = (await verifyTenant(tenant)).chains[0]!.problem;
      expect(problem).toMatchObject({ kind: 'truncated', seq: 6n });
    });

    it('MO-1 tamper: a chain rewritten with recomputed hashes is caught by the checkpoint', async () => {
      const tenant = await freshTenant();
      await recordMany(tenant, 4);
      await writeCheckpoints({ db, signer });
      // The attacker knows the algorithm: rewrites event 2 and re-chains everything after it.
      const rows = await db.owner.selectFrom('audit_events').selectAll().where('chain', '=', tenant.id).orderBy('seq').execute();
      let prev = rows[0]!.hash;
      const statements: string[] = [];
      for (const row of rows.slice(1)) {
        const forged = { ...row, justification: row.seq === 2n ? 'rewritten' : row.justification, prev_hash: prev };
        const hash = eventHash(forged);
        statements.push(`UPDATE audit_events SET justification = ${forged.justification === null ? 'NULL' : `'${forged.justification}'`}, prev_hash = '${prev}', hash = '${hash}' WHERE id = '${row.id}'`);
        prev = hash;
      }
      await asSuperuser(statements.join(';'));
      const problem = (await verifyTenant(tenant)).chains[0]!.problem;
      expect(problem).toMatchObject({ kind: 'altered', seq: 4n });
    });

    it('MO-1 tamper: a forged checkpoint is rejected (bad signature)', async () => {
      const tenant = await freshTenant();
      await recordMany(tenant, 2);
      const forger = signerFromPem(generateSigningKeyPem());
      await writeCheckpoints({ db, signer: forger });
      const problem = (await verifyTenant(tenant)).chains[0]!.problem;
      expect(problem).toMatchObject({ kind: 'bad_checkpoint', seq: 2n });
    });

    it('MO-1 system events form their own chain, invisible to tenants', async () => {
      await unsafeAsSystem(db, { reason: 'test records a system event' }, (trx) => audit.record(trx, { tenantId: null, actor: { type: 'system', id: 'keys' }, action: 'keys.rotated' }));
      const report = await verifyAuditLog({ db, verifier: verifierFor(signer.publicKey), chains: ['system'] });
      expect(report.ok).toBe(true);
      const tenant = await freshTenant();
      const seen = await withTenant(db, { tenantId: tenant.id, actor: admin }, (trx) => trx.selectFrom('audit_events').select('id').where('chain', '=', 'system').execute());
      expect(seen).toEqual([]);
    });

    it('MO-2 permission changes, role escalations and payout edits raise alerts in the same transaction', async () => {
      const tenant = await freshTenant();
      const matrix = await record(tenant, 'authz.matrix.updated', { justification: 'quarterly review' });
      expect(matrix.alerts.map((a) => [a.rule, a.severity])).toEqual([['permission-change', 'high']]);
      const escalation = await record(tenant, 'member.role.granted', { diff: { role: { after: 'admin' } } });
      expect(escalation.alerts.map((a) => a.rule)).toEqual(['role-escalation']);
      const harmless = await record(tenant, 'member.role.granted', { diff: { role: { after: 'viewer' } } });
      expect(harmless.alerts).toEqual([]);
      const payout = await record(tenant, 'billing.bank_details.updated');
      expect(payout.alerts.map((a) => [a.rule, a.severity])).toEqual([['payout-edit', 'critical']]);
      const stored = await withTenant(db, { tenantId: tenant.id, actor: admin }, (trx) => trx.selectFrom('alerts').select(['rule', 'seq']).orderBy('seq').execute());
      expect(stored.map((a) => a.rule)).toEqual(['permission-change', 'role-escalation', 'payout-edit']);
    });

    it('MO-2 a sign-in failure spike raises one alert per window', async () => {
      const tenant = await freshTenant();
      const raised: string[] = [];
      for (let i = 0; i < 25; i += 1) {
        const { alerts } = await record(tenant, 'identity.signin.failed', { context: { ip: '198.51.100.7' } });
        raised.push(...alerts.map((a) => a.rule));
      }
      expect(raised).toEqual(['signin-failure-spike']);
    });

    it('MO-1 DE-2 findAuditTamperRisks: the app role can neither disable the append-only triggers nor alter the audit tables', async () => {
      expect(await findAuditTamperRisks(db)).toEqual([]);
      const tenant = await freshTenant();
      const scope = { tenantId: tenant.id, actor: admin };
      for (const statement of ['ALTER TABLE audit_events DISABLE TRIGGER USER', 'ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_no_update', 'DROP TRIGGER audit_events_no_update ON audit_events']) {
        await expect(withTenant(db, scope, (trx) => sql.raw(statement).execute(trx)), statement).rejects.toThrow(/must be owner|permission denied/);
      }
      await expect(withTenant(db, scope, (trx) => sql`set local session_replication_role = replica`.execute(trx))).rejects.toThrow(/permission denied/);
    });

    it('MO-1 DE-2 findAuditTamperRisks fails on each way the app role could get round the triggers', async () => {
      const broken = await harness.migrated();
      await execScript(
        broken.owner,
        `GRANT TRIGGER, TRUNCATE ON audit_events TO rampart_app;
         ALTER TABLE audit_checkpoints OWNER TO rampart_app;
         ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_truncate;
         GRANT SET ON PARAMETER session_replication_role TO rampart_app;`,
      );
      // A parameter grant belongs to the cluster, not to this throwaway database: take it back at
      // once, or every later database on the server (and the next run) inherits the risk.
      const risks = await findAuditTamperRisks(broken).finally(() => execScript(broken.owner, 'REVOKE SET ON PARAMETER session_replication_role FROM rampart_app;'));
      expect(risks).toEqual(
        expect.arrayContaining([
          { object: 'audit_events', problem: 'rampart_app holds TRUNCATE' },
          { object: 'audit_events', problem: 'rampart_app holds TRIGGER' },
          { object: 'audit_checkpoints', problem: expect.stringContaining('owns the table') },
          { object: 'audit_events.audit_events_no_truncate', problem: expect.stringContaining('disabled') },
          { object: 'session_replication_role', problem: expect.stringContaining('replica') },
        ]),
      );
      // The check names a real power: as owner, the app role does switch the trigger off.
      const tenant = await createTenant(broken, { slug: 'tamper', name: 'Tamper' });
      await withTenant(broken, { tenantId: tenant.id, actor: admin }, (trx) => sql`ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_no_update`.execute(trx));
      expect(await findAuditTamperRisks(broken)).toContainEqual({ object: 'audit_checkpoints.audit_checkpoints_no_update', problem: expect.stringContaining('disabled') });
    });
  });
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, openDatabase, type Database } from '../src/db/index.js';
import { finalizeRemainingDrafts, inspectAfterRestart, lastCommitted, seedCrashTenant, startFinalizer } from './support/billing-crash.js';
import { templateDataDir } from './support/rampart.js';

/**
 * BI-5 gapless numbering survives a crash on the embedded database: a child process finalizing
 * invoices against an on-disk data dir is SIGKILLed (while it holds a number in an open
 * transaction, then at an arbitrary moment), and the reopened data dir shows numbers 1..N with
 * no gap, no duplicate and no orphan, nothing half-finalized, and numbering continues at N+1.
 */

const dir = mkdtempSync(join(tmpdir(), 'rampart-billing-crash-'));
const dataDir = join(dir, '.rampart');
let tenantId = '';
const reopen = (): Promise<Database> => openDatabase({ dataDir });

beforeAll(async () => {
  const db = await openDatabase({ dataDir, loadDataDir: await templateDataDir() });
  tenantId = (await createTenant(db, { slug: 'crash', name: 'Crash' })).id;
  await seedCrashTenant(db, tenantId);
  await db.close();
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('BI-5 kill the process mid-finalization (embedded data dir)', () => {
  it('BI-5 SIGKILL while a number is held in an open transaction: after restart 1..N, no gap, no orphan, nothing half-finalized', async () => {
    const victim = startFinalizer({ RAMPART_DATA_DIR: dataDir, TENANT_ID: tenantId, STALL_AT: '6' });
    await victim.waitFor(/^stalled 6$/m);
    victim.kill();
    expect((await victim.exited).signal).toBe('SIGKILL');

    const db = await reopen();
    try {
      const after = await inspectAfterRestart(db, tenantId);
      expect(after.report).toMatchObject({ ok: true, problems: [] });
      // Invoice 6 had its number when the process died: the number went back with the rollback.
      expect(after.numbers).toHaveLength(5);
      expect(after.drafts).toBe(1);
    } finally {
      await db.close();
    }
  }, 180_000);

  it('BI-5 SIGKILL at an arbitrary moment of a finalization loop, then finalizing resumes at N+1', async () => {
    const victim = startFinalizer({ RAMPART_DATA_DIR: dataDir, TENANT_ID: tenantId });
    await victim.waitFor(/^committed 15$/m);
    victim.kill();
    expect((await victim.exited).signal).toBe('SIGKILL');
    const reported = lastCommitted(victim.stdout());

    const db = await reopen();
    try {
      const after = await inspectAfterRestart(db, tenantId);
      expect(after.report).toMatchObject({ ok: true, problems: [] });
      // Everything the child saw committed is there; at most the one it was finishing committed unseen.
      expect(after.numbers.length).toBeGreaterThanOrEqual(reported);
      expect(after.numbers.length).toBeLessThanOrEqual(reported + 1);
      const resumed = await finalizeRemainingDrafts(db, tenantId);
      expect(resumed).toEqual(Array.from({ length: after.drafts }, (_, i) => BigInt(after.numbers.length + i + 1)));
      const final = await inspectAfterRestart(db, tenantId);
      expect(final.report.ok).toBe(true);
      expect(final.drafts).toBe(0);
    } finally {
      await db.close();
    }
  }, 180_000);
});

import { afterEach, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { verifierFor, verifyAuditLog } from '../src/audit/index.js';
import { embeddedHarness } from './support/embedded-harness.js';
import { testRampart } from './support/rampart.js';
import { auditSuite } from './suites/audit.js';

auditSuite(embeddedHarness());

describe('audit checkpoints of a new tenant', () => {
  let rampart: Rampart | undefined;
  afterEach(() => rampart?.close());

  // Until the first checkpoint, cutting the tail of a chain leaves a shorter chain that verifies.
  it('MO-1 a tenant chain has a signed checkpoint from its creation on, not after the first interval', async () => {
    rampart = await testRampart();
    const tenant = await rampart.createTenant({ slug: 'fresh', name: 'Fresh' });
    const report = await verifyAuditLog({ db: rampart.db, verifier: verifierFor(rampart.audit.signer.publicKey), chains: [tenant.id] });
    expect(report.ok).toBe(true);
    expect(report.chains).toEqual([expect.objectContaining({ chain: tenant.id, problem: null })]);
    expect(report.chains[0]!.lastCheckpointSeq).not.toBeNull();
  });
});

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../src/audit/index.js';
import { createCapturingLogger, createKekRing, kekId, systemClock } from '../src/core/index.js';
import type { Database } from '../src/db/index.js';
import { createSigningKeys } from '../src/identity/index.js';
import { testDatabase } from './support/rampart.js';

/** ID-3: signing keys are sealed under the master key; what happens when a node lacks that key. */

const ringOf = () => {
  const key = randomBytes(32);
  return createKekRing({ id: kekId(key), key });
};
let db: Database | undefined;
afterEach(async () => db?.close());

const keysWith = (ring: ReturnType<typeof ringOf>, production: boolean, log = createCapturingLogger('warn').log) =>
  createSigningKeys({ db: db!, ring, audit: createAuditLog(), clock: systemClock, log, rotationIntervalSeconds: 90 * 86_400, retiredKeyRetentionSeconds: 86_400, production });

describe('ID-3 signing keys under a master key', () => {
  it('private keys are stored sealed, never as JWK text', async () => {
    db = await testDatabase();
    await keysWith(ringOf(), false).ensure();
    const rows = await db.owner.selectFrom('oidc_signing_keys').select(['private_ciphertext', 'public_jwk']).execute();
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      // Sealed base64url: no JSON (no quotes or braces) can be in it.
      expect(row.private_ciphertext).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(row.public_jwk).not.toHaveProperty('d');
    }
  });

  it('production refuses keys sealed under a master key it does not hold; development retires them loudly and makes new ones', async () => {
    db = await testDatabase();
    const first = keysWith(ringOf(), false);
    await first.ensure();
    const before = (await first.list()).map((k) => k.kid);

    await expect(keysWith(ringOf(), true).ensure()).rejects.toThrow(/this process does not hold/);

    const capture = createCapturingLogger('warn');
    const second = keysWith(ringOf(), false, capture.log);
    await second.ensure();
    expect(capture.lines().join('\n')).toMatch(/MUST CHANGE: OIDC signing keys were sealed under a master key/);
    const loaded = await second.load();
    expect(loaded).toHaveLength(4);
    expect(loaded.map((k) => k.kid).some((kid) => before.includes(kid))).toBe(false);
  });
});

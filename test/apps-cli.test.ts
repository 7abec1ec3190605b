import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEMPLATES } from '../src/apps/index.js';
import { createAuditLog } from '../src/audit/index.js';
import { createAuthz } from '../src/authz/index.js';
import { run, type CliIo } from '../src/cli/main.js';
import { createTenant, openDatabase } from '../src/db/index.js';
import { templateDataDir } from './support/rampart.js';

/** `rampart app lint|plan|approve|apply` in-process on an embedded data directory (DE-4). */

const dir = mkdtempSync(join(tmpdir(), 'rampart-apps-cli-'));
const cli = async (...args: string[]) => {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), env: { RAMPART_LOG_LEVEL: 'silent' }, cwd: dir };
  const code = await run(args, io);
  return { code, out, err };
};

beforeAll(async () => {
  const db = await openDatabase({ dataDir: join(dir, '.rampart'), loadDataDir: await templateDataDir() });
  const authz = createAuthz({ db, audit: createAuditLog() });
  await createTenant(db, { slug: 'acme', name: 'Acme' }, undefined, (trx, tenant) => authz.provisionTenant(trx, tenant));
  await db.close();
  writeFileSync(join(dir, 'crm.json'), JSON.stringify(TEMPLATES.crm));
  writeFileSync(join(dir, 'bad.yaml'), 'app: crm\nversion: 1\ntitle: CRM\nresources:\n  - name: lead\n    fields:\n      - name: email\n        type: email\nmatrix: {}\n');
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rampart app', () => {
  it('lint: ok for a template, exit 1 with code and pointer for each finding', async () => {
    expect(await cli('app', 'lint', join(dir, 'crm.json'))).toMatchObject({ code: 0, out: `${join(dir, 'crm.json')}: ok\n` });
    const bad = await cli('app', 'lint', join(dir, 'bad.yaml'));
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('field/no-class at /resources/0/fields/0/class');
    expect((await cli('app', 'lint', join(dir, 'missing.yaml'))).code).toBe(2);
  });

  it('plan then apply by plan id; the same spec again is refused', async () => {
    const planned = await cli('app', 'plan', join(dir, 'crm.json'), '--tenant', 'acme', '--justification', 'install the CRM from the CLI', '--json');
    expect(planned.code, planned.err).toBe(0);
    const plan = JSON.parse(planned.out) as { id: string; status: string; sql: string };
    expect(plan.status).toBe('pending');
    expect(plan.sql).toContain('FORCE ROW LEVEL SECURITY');
    const applied = await cli('app', 'apply', plan.id, '--tenant', 'acme', '--justification', 'install the CRM from the CLI');
    expect(applied.code, applied.err).toBe(0);
    expect(applied.out).toContain('applied');
    const again = await cli('app', 'apply', join(dir, 'crm.json'), '--tenant', 'acme', '--justification', 'install the CRM twice over');
    expect(again.code).toBe(2);
    expect(again.err).toContain('already installed');
  }, 60_000);
});

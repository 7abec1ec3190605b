import { describe, inject } from 'vitest';
import { auditSuite } from '../suites/audit.js';
import { jobsSuite } from '../suites/jobs.js';
import { keysSuite } from '../suites/keys.js';
import { migrationsSuite } from '../suites/migrations.js';
import { tenancySuite } from '../suites/tenancy.js';
import { postgresHarness } from './pg-harness.js';

const hasPostgres = !inject('servicesMissing').some((m) => m.startsWith('PostgreSQL'));

describe.skipIf(!hasPostgres)('PostgreSQL', () => {
  tenancySuite(postgresHarness());
  migrationsSuite(postgresHarness());
  jobsSuite(postgresHarness());
  keysSuite(postgresHarness());
  auditSuite(postgresHarness());
});

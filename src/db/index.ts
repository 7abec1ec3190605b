export { openDatabase, execScript, deriveAppUrl, APP_ROLE, type Database, type DbKind, type OpenDatabaseOptions } from './connect.js';
export { migrate, migrationStatus, ensureAppRole, checksum, MigrationError, type Migration, type MigrationStatus, type MigrateResult } from './migrate.js';
export { migrations } from './migrations/index.js';
export { withTenant, readAsTenant, unsafeAsSystem, createTenant, findTenantBySlug, listTenants, actorId, type Actor, type TenantScope, type TenantTransaction } from './tenancy.js';
export { createJobQueue, backoffMs, nextSlot, type JobQueue, type JobHandler, type JobContext, type EnqueueInput, type ScheduleInput } from './jobs.js';
export { dataKeyStore, envelopeFor, rotateTenantDataKey, rewrapDataKeys } from './keys.js';
export type { Schema, Tenant, Job, AuditEvent, Alert, AuditCheckpoint, AuditActorType, AlertSeverity, GrantTriple } from './schema.js';
export { findRlsViolations, type RlsViolation } from './invariants.js';
export { lockDataDir, DataDirLockedError, LOCK_FILE, type DataDirLock, type LockHolder } from './lock.js';

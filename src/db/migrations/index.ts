import type { Migration } from '../migrate.js';
import { coreMigration } from './0001_core.js';
import { auditMigration } from './0002_audit.js';

/** Every migration, in version order. Modules append theirs as they land. */
export const migrations: readonly Migration[] = [coreMigration, auditMigration];

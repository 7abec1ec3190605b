import type { Migration } from '../migrate.js';
import { coreMigration } from './0001_core.js';
import { auditMigration } from './0002_audit.js';
import { authzMigration } from './0003_authz.js';
import { identityMigration } from './0004_identity.js';
import { passkeysMigration } from './0005_passkeys.js';
import { oidcMigration } from './0006_oidc.js';
import { identityExtrasMigration } from './0007_identity_extras.js';
import { appsMigration } from './0008_apps.js';
import { billingMigration } from './0009_billing.js';
import { oidcRevokedGrantsMigration } from './0010_oidc_revoked_grants.js';
import { platformMigration } from './0011_platform.js';
import { billingCreditLikeMigration } from './0012_billing_credit_like.js';

/** Every migration, in version order. Modules append theirs as they land. */
export const migrations: readonly Migration[] = [coreMigration, auditMigration, authzMigration, identityMigration, passkeysMigration, oidcMigration, identityExtrasMigration, appsMigration, billingMigration, oidcRevokedGrantsMigration, platformMigration, billingCreditLikeMigration];

import type { AuditLog } from '../../audit/index.js';
import type { Clock, KekRing } from '../../core/index.js';
import type { Database } from '../../db/index.js';
import type { Argon2Params, Pepper } from '../credentials/index.js';
import type { SessionCache } from '../sessions/index.js';

/** What account operations need, built once by the composition root and passed in. */
export type AccountDeps = {
  db: Database;
  audit: AuditLog;
  /** Master key ring: TOTP secrets are sealed under the tenant's data key (DA-2). */
  ring: KekRing;
  /** Server-side pepper (>= 32 bytes) for recovery code HMACs. */
  recoveryPepper: Pepper;
  clock?: Clock;
  /** Defaults to DEFAULT_ARGON2_PARAMS; tests may pass the OWASP floor to run faster. */
  passwordParams?: Argon2Params;
  /** Issuer shown in authenticator apps. */
  totpIssuer?: string;
  /**
   * The WebAuthn relying party (passkeys). `rpId` is the registrable domain the passkeys are bound
   * to, `origins` every origin the browser may report. Defaults: rpId `localhost`, rpName
   * `Rampart`, origins `http://localhost:3000`.
   */
  webauthn?: { rpId: string; rpName: string; origins: string[] };
  /** This node's memory of full sessions (sessions/cache.ts); operations that change a session forget it. */
  sessionCache?: SessionCache;
  /**
   * Called after a first-admin setup created a tenant's owner. The composition root makes that
   * account the install's platform operator when there is none yet (`authz/platform.ts`).
   */
  onSetupCompleted?: (account: { tenantId: string; userId: string }) => Promise<unknown>;
};

import type { RequestContext } from '../../../audit/index.js';
import { RampartError } from '../../../core/index.js';
import type { TenantTransaction } from '../../../db/index.js';
import { BUILT_IN_HIGH_PRIVILEGE_ROLES } from '../../credentials/index.js';
import type { ValidSession } from '../../sessions/index.js';
import type { AccountDeps } from '../deps.js';
import { mfaContextOf } from '../store.js';
import { assertFreshForFactorChange, withSessionUser } from './second-factor.js';

/**
 * A signed-in user manages their own factors (controls ID-4, ID-5, ID-7). Listing and renaming
 * need a full session; removing a factor also needs a re-verification within five minutes
 * (supabase/auth#1615: otherwise a hijacked session strips the victim's factors), and is refused
 * when it would leave the account without a second factor (ID-4) or a high-privilege user without
 * a passkey (ID-5). Every change is audited with IP and device.
 */

export type PasskeyView = { id: string; name: string; createdAt: Date; lastUsedAt: Date | null; backedUp: boolean; deviceType: 'singleDevice' | 'multiDevice' };

const notFound = () => new RampartError('not_found', { detail: 'no such passkey' });
const full = { allowPending: false } as const;

export async function listPasskeys(deps: AccountDeps, input: { token: string }): Promise<PasskeyView[]> {
  return withSessionUser(
    deps,
    input.token,
    async (trx, valid) => {
      const rows = await trx
        .selectFrom('webauthn_credentials')
        .select(['id', 'name', 'created_at', 'last_used_at', 'backed_up', 'device_type'])
        .where('user_id', '=', valid.user.id)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at, backedUp: r.backed_up, deviceType: r.device_type }));
    },
    full,
  );
}

export async function renamePasskey(deps: AccountDeps, input: { token: string; id: string; name: string; context?: RequestContext }): Promise<PasskeyView> {
  const name = input.name.normalize('NFKC').trim();
  if (name.length < 1 || name.length > 100) throw new RampartError('validation_failed', { detail: 'body /name: between 1 and 100 characters', issues: [{ in: 'body', pointer: '/name', message: 'between 1 and 100 characters' }] });
  return withSessionUser(
    deps,
    input.token,
    async (trx, valid) => {
      const row = await trx
        .updateTable('webauthn_credentials')
        .set({ name })
        .where('id', '=', input.id)
        .where('user_id', '=', valid.user.id)
        .returning(['id', 'name', 'created_at', 'last_used_at', 'backed_up', 'device_type'])
        .executeTakeFirst();
      if (!row) throw notFound();
      await deps.audit.record(trx, { tenantId: valid.session.tenant_id, actor: { type: 'user', id: valid.user.id }, action: 'identity.passkey.renamed', target: { type: 'webauthn_credential', id: row.id }, ...(input.context ? { context: input.context } : {}) });
      return { id: row.id, name: row.name, createdAt: row.created_at, lastUsedAt: row.last_used_at, backedUp: row.backed_up, deviceType: row.device_type };
    },
    full,
  );
}

async function factorState(trx: TenantTransaction, valid: ValidSession) {
  const mfa = await mfaContextOf(trx, valid.user.id);
  const passkeys = await trx.selectFrom('webauthn_credentials').select('id').where('user_id', '=', valid.user.id).execute();
  const highPrivilege = new Set([...BUILT_IN_HIGH_PRIVILEGE_ROLES, ...mfa.highPrivilegeRoles]);
  return { enrolled: mfa.enrolled, passkeyIds: passkeys.map((p) => p.id), hasTotp: mfa.enrolled.includes('totp'), isHighPrivilege: mfa.roles.some((r) => highPrivilege.has(r)) };
}

const lastFactor = () => new RampartError('forbidden', { detail: 'this is your last second factor: add another one before removing it', extensions: { reason: 'last_factor' } });

async function auditRemoval(deps: AccountDeps, trx: TenantTransaction, valid: ValidSession, factor: 'webauthn' | 'totp', target: { type: string; id: string }, context: RequestContext | undefined) {
  await deps.audit.record(trx, {
    tenantId: valid.session.tenant_id,
    actor: { type: 'user', id: valid.user.id },
    action: 'identity.factor.removed',
    target,
    diff: { factor: { after: factor }, session: { after: valid.session.id } },
    ...(context ? { context } : {}),
  });
}

export async function removePasskey(deps: AccountDeps, input: { token: string; id: string; context?: RequestContext }): Promise<void> {
  await withSessionUser(
    deps,
    input.token,
    async (trx, valid, clock) => {
      const state = await factorState(trx, valid);
      if (!state.passkeyIds.includes(input.id)) throw notFound();
      assertFreshForFactorChange(valid, state.enrolled, clock);
      const remainingPasskeys = state.passkeyIds.length - 1;
      if (remainingPasskeys === 0 && !state.hasTotp) throw lastFactor(); // ID-4
      if (remainingPasskeys === 0 && state.isHighPrivilege) {
        throw new RampartError('forbidden', { detail: 'your role needs a passkey: register another one before removing this one', extensions: { reason: 'passkey_required' } }); // ID-5
      }
      const removed = await trx.deleteFrom('webauthn_credentials').where('id', '=', input.id).where('user_id', '=', valid.user.id).returning('id').executeTakeFirst();
      if (!removed) throw notFound();
      await auditRemoval(deps, trx, valid, 'webauthn', { type: 'webauthn_credential', id: input.id }, input.context);
    },
    full,
  );
}

export async function removeTotp(deps: AccountDeps, input: { token: string; context?: RequestContext }): Promise<void> {
  await withSessionUser(
    deps,
    input.token,
    async (trx, valid, clock) => {
      const state = await factorState(trx, valid);
      if (!state.hasTotp) throw new RampartError('not_found', { detail: 'no authenticator app is enrolled' });
      assertFreshForFactorChange(valid, state.enrolled, clock);
      if (state.passkeyIds.length === 0) throw lastFactor(); // ID-4
      await trx.deleteFrom('totp_credentials').where('user_id', '=', valid.user.id).execute();
      await auditRemoval(deps, trx, valid, 'totp', { type: 'user', id: valid.user.id }, input.context);
    },
    full,
  );
}

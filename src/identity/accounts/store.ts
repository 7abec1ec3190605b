import { createHash } from 'node:crypto';
import type { Selectable } from 'kysely';
import { RampartError } from '../../core/index.js';
import type { Actor, Schema, TenantTransaction } from '../../db/index.js';
import type { FactorKind } from '../credentials/index.js';

/** SQL and small helpers for accounts, always inside the caller's tenant transaction. */

export type UserRow = Selectable<Schema['users']>;
export type PublicUser = Omit<UserRow, 'password_hash'>;
export const toPublicUser = ({ password_hash: _hidden, ...rest }: UserRow): PublicUser => rest;

const EMAIL = /^[^\s@]+@[^\s@]+$/u;

/** NFKC, trimmed, lower-case: one account per address however it was typed. 400 naming `/email`. */
export function normalizeEmail(input: unknown, pointer = '/email'): string {
  const email = typeof input === 'string' ? input.normalize('NFKC').trim().toLowerCase() : '';
  if (email.length < 3 || email.length > 320 || !EMAIL.test(email)) {
    throw new RampartError('validation_failed', { detail: `body ${pointer}: not an email address`, issues: [{ in: 'body', pointer, message: 'not an email address' }] });
  }
  return email;
}

/** For audit events about an account that may not exist: never the raw address (DA-4). */
export const accountFingerprint = (tenantId: string, email: string): string =>
  'sha256:' + createHash('sha256').update(`rampart:account:v1|${tenantId}|${email}`).digest('hex').slice(0, 32);

export const findUserByEmail = (trx: TenantTransaction, email: string) => trx.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
export const findUserById = (trx: TenantTransaction, id: string) => trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();

export const roleExists = async (trx: TenantTransaction, role: string) =>
  Boolean(await trx.selectFrom('authz_roles').select('name').where('name', '=', role).executeTakeFirst());

/** Everything assertMfaSatisfied needs about a user. */
export async function mfaContextOf(trx: TenantTransaction, userId: string): Promise<{ roles: string[]; enrolled: FactorKind[]; highPrivilegeRoles: string[] }> {
  const roles = (await trx.selectFrom('user_roles').select('role').where('user_id', '=', userId).execute()).map((r) => r.role);
  const totp = await trx.selectFrom('totp_credentials').select('confirmed_at').where('user_id', '=', userId).executeTakeFirst();
  const passkey = await trx.selectFrom('webauthn_credentials').select('id').where('user_id', '=', userId).limit(1).executeTakeFirst();
  const high = (await trx.selectFrom('authz_roles').select('name').where('high_privilege', '=', true).execute()).map((r) => r.name);
  const enrolled: FactorKind[] = [];
  if (totp?.confirmed_at) enrolled.push('totp');
  if (passkey) enrolled.push('webauthn');
  return { roles, enrolled, highPrivilegeRoles: high };
}

/** `user:abc` (as stored in invited_by) back to an Actor for the audit event at acceptance. */
export function actorFromId(id: string): Actor {
  const [type, ...rest] = id.split(':');
  const value = rest.join(':');
  if ((type === 'user' || type === 'system') && value) return { type, id: value };
  return { type: 'system', id: 'invitations' };
}

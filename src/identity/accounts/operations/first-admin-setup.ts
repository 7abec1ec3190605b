import type { RequestContext } from '../../../audit/index.js';
import { RampartError, systemClock, uuidv7 } from '../../../core/index.js';
import { withTenant, type TenantTransaction } from '../../../db/index.js';
import { checkPasswordPolicy, hashPassword } from '../../credentials/index.js';
import { hashToken, randomToken } from '../../sessions/index.js';
import type { AccountDeps } from '../deps.js';
import { findUserByEmail, normalizeEmail, toPublicUser, type PublicUser } from '../store.js';

/**
 * The first admin of a fresh install (control ID-4 applies right after). At start, a tenant with
 * no owner gets a one-time setup token (256 bits, SHA-256 stored, 24 h); a restart before it is
 * used supersedes it with a new one, so only the link printed last works. Using it creates the
 * owner account with a password; the owner then goes through the forced MFA / passkey flow like
 * anyone else (the owner role is high-privilege: a passkey is required, ID-5).
 */

export const SETUP_TOKEN_TTL_SECONDS = 24 * 60 * 60;
const TOKEN = /^rst1\.[A-Za-z0-9_-]{43}$/;
const SETUP_ACTOR = { type: 'system', id: 'first-admin-setup' } as const;

const hasOwner = async (trx: TenantTransaction) =>
  Boolean(await trx.selectFrom('user_roles').select('user_id').where('role', '=', 'owner').limit(1).executeTakeFirst());

/** A fresh setup token for a tenant without an owner (older unused ones are revoked); undefined once an owner exists. */
export async function issueSetupToken(deps: AccountDeps, input: { tenantId: string }): Promise<{ token: string; expiresAt: Date } | undefined> {
  const clock = deps.clock ?? systemClock;
  return withTenant(deps.db, { tenantId: input.tenantId, actor: SETUP_ACTOR }, async (trx) => {
    if (await hasOwner(trx)) return undefined;
    const now = clock.now();
    const revoked = await trx.updateTable('setup_tokens').set({ revoked_at: now }).where('used_at', 'is', null).where('revoked_at', 'is', null).returning('id').execute();
    const token = `rst1.${randomToken()}`;
    const expiresAt = new Date(now.getTime() + SETUP_TOKEN_TTL_SECONDS * 1000);
    const id = uuidv7(now.getTime());
    await trx.insertInto('setup_tokens').values({ tenant_id: input.tenantId, id, token_hash: hashToken(token), expires_at: expiresAt, used_at: null, used_by: null, revoked_at: null }).execute();
    await deps.audit.record(trx, { tenantId: input.tenantId, actor: SETUP_ACTOR, action: 'identity.setup.link_issued', target: { type: 'setup_token', id }, diff: { expires_at: { after: expiresAt.toISOString() }, superseded: { after: revoked.length } } });
    return { token, expiresAt };
  });
}

const invalid = () => new RampartError('not_found', { detail: 'this setup link does not exist, was already used, was replaced by a newer one or has expired' });

function cleanDisplayName(input: string): string {
  const name = input.normalize('NFKC').trim();
  if (name.length < 1 || name.length > 200) throw new RampartError('validation_failed', { detail: 'body /displayName: between 1 and 200 characters', issues: [{ in: 'body', pointer: '/displayName', message: 'between 1 and 200 characters' }] });
  return name;
}

/** Creates the owner account. Single use under concurrency (conditional UPDATE of the token). */
export async function completeSetup(
  deps: AccountDeps,
  input: { tenantId: string; token: string; email: string; displayName: string; password: string; context?: RequestContext },
): Promise<{ user: PublicUser; role: 'owner' }> {
  const clock = deps.clock ?? systemClock;
  if (!TOKEN.test(input.token)) throw invalid();
  const email = normalizeEmail(input.email);
  const displayName = cleanDisplayName(input.displayName);
  const tokenHash = hashToken(input.token);
  const anonymous = { tenantId: input.tenantId, actor: { type: 'anonymous' } as const };
  // Cheap check first: a wrong token never costs an argon2 hash.
  const live = await withTenant(
    deps.db,
    anonymous,
    (trx) => trx.selectFrom('setup_tokens').select('id').where('token_hash', '=', tokenHash).where('used_at', 'is', null).where('revoked_at', 'is', null).where('expires_at', '>', clock.now()).executeTakeFirst(),
    { readOnly: true },
  );
  if (!live) throw invalid();
  const problems = await checkPasswordPolicy(input.password, { userInputs: [email, displayName] });
  if (problems.length) {
    throw new RampartError('validation_failed', { detail: `body /password: ${problems[0]!.message}`, issues: problems.map((p) => ({ in: 'body' as const, pointer: '/password', message: p.message })) });
  }
  const passwordHash = await hashPassword(input.password, deps.passwordParams);

  const created = await withTenant(deps.db, anonymous, async (trx) => {
    const now = clock.now();
    const userId = uuidv7(now.getTime());
    const used = await trx
      .updateTable('setup_tokens')
      .set({ used_at: now, used_by: userId })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('id')
      .executeTakeFirst();
    if (!used) throw invalid();
    if (await hasOwner(trx)) throw new RampartError('conflict', { detail: 'this tenant already has an owner' });
    if (await findUserByEmail(trx, email)) throw new RampartError('conflict', { detail: 'an account with this email exists in this tenant' });
    const user = await trx
      .insertInto('users')
      .values({ tenant_id: input.tenantId, id: userId, email, display_name: displayName, department: null, region: null, password_hash: passwordHash, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx.insertInto('user_roles').values({ tenant_id: input.tenantId, user_id: userId, role: 'owner' }).execute();
    const context = input.context ? { context: input.context } : {};
    await deps.audit.record(trx, { tenantId: input.tenantId, actor: { type: 'user', id: userId }, action: 'member.joined', target: { type: 'user', id: userId }, diff: { setup_token: { after: used.id }, password_hash: { after: '[redacted]', redacted: true } }, ...context });
    // The owner grant is the setup's act; it raises the role-escalation alert like any owner grant (MO-2).
    await deps.audit.record(trx, { tenantId: input.tenantId, actor: SETUP_ACTOR, action: 'member.role.granted', target: { type: 'user', id: userId }, diff: { role: { after: 'owner' }, setup_token: { after: used.id } }, ...context });
    return { user: toPublicUser(user), role: 'owner' as const };
  });
  await deps.onSetupCompleted?.({ tenantId: input.tenantId, userId: created.user.id });
  return created;
}

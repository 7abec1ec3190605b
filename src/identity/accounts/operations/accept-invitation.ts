import type { RequestContext } from '../../../audit/index.js';
import { RampartError, systemClock, uuidv7 } from '../../../core/index.js';
import { withTenant } from '../../../db/index.js';
import { checkPasswordPolicy, hashPassword } from '../../credentials/index.js';
import { hashToken } from '../../sessions/index.js';
import type { AccountDeps } from '../deps.js';
import { actorFromId, findUserByEmail, toPublicUser, type PublicUser } from '../store.js';

const invalid = () => new RampartError('not_found', { detail: 'this invitation does not exist, was already used or has expired' });

function cleanDisplayName(input: unknown): string {
  const name = typeof input === 'string' ? input.normalize('NFKC').trim() : '';
  if (name.length < 1 || name.length > 200) {
    throw new RampartError('validation_failed', { detail: 'body /displayName: between 1 and 200 characters', issues: [{ in: 'body', pointer: '/displayName', message: 'between 1 and 200 characters' }] });
  }
  return name;
}

/**
 * Turns an invitation into an account. Single-use under concurrency: the invitation is consumed by
 * one conditional UPDATE (`used_at IS NULL AND expires_at > now`), so of N parallel accepts
 * exactly one creates the user. The slow password hash runs before that transaction.
 */
export async function acceptInvitation(
  { db, audit, clock = systemClock, passwordParams }: AccountDeps,
  input: { tenantId: string; token: string; password: string; displayName: string; context?: RequestContext },
): Promise<{ user: PublicUser; role: string }> {
  const displayName = cleanDisplayName(input.displayName);
  if (typeof input.token !== 'string' || input.token.length > 100) throw invalid();
  const tokenHash = hashToken(input.token);
  const anonymous = { tenantId: input.tenantId, actor: { type: 'anonymous' } as const };
  const pending = await withTenant(
    db,
    anonymous,
    (trx) => trx.selectFrom('invitations').select(['email']).where('token_hash', '=', tokenHash).where('used_at', 'is', null).where('expires_at', '>', clock.now()).executeTakeFirst(),
    { readOnly: true },
  );
  if (!pending) throw invalid();
  const password = typeof input.password === 'string' ? input.password : '';
  const problems = await checkPasswordPolicy(password, { userInputs: [pending.email, displayName] });
  if (problems.length) {
    throw new RampartError('validation_failed', { detail: `body /password: ${problems[0]!.message}`, issues: problems.map((p) => ({ in: 'body' as const, pointer: '/password', message: p.message })) });
  }
  const passwordHash = await hashPassword(password, passwordParams);

  return withTenant(db, anonymous, async (trx) => {
    const now = clock.now();
    const userId = uuidv7(now.getTime());
    const invitation = await trx
      .updateTable('invitations')
      .set({ used_at: now, used_by: userId })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['id', 'email', 'role', 'invited_by'])
      .executeTakeFirst();
    if (!invitation) throw invalid();
    if (await findUserByEmail(trx, invitation.email)) throw new RampartError('conflict', { detail: 'an account with this email exists in this tenant; sign in instead' });
    const user = await trx
      .insertInto('users')
      .values({ tenant_id: input.tenantId, id: userId, email: invitation.email, display_name: displayName, department: null, region: null, password_hash: passwordHash, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx.insertInto('user_roles').values({ tenant_id: input.tenantId, user_id: userId, role: invitation.role }).execute();
    const context = input.context ? { context: input.context } : {};
    await audit.record(trx, { tenantId: input.tenantId, actor: { type: 'user', id: userId }, action: 'member.joined', target: { type: 'user', id: userId }, diff: { invitation: { after: invitation.id }, password_hash: { after: '[redacted]', redacted: true } }, ...context });
    // The grant is the inviter's act; a high-privilege role raises the role-escalation alert (MO-2).
    await audit.record(trx, { tenantId: input.tenantId, actor: actorFromId(invitation.invited_by), action: 'member.role.granted', target: { type: 'user', id: userId }, diff: { role: { after: invitation.role }, invitation: { after: invitation.id } }, ...context });
    return { user: toPublicUser(user), role: invitation.role };
  });
}

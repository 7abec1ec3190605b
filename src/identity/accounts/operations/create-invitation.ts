import type { RequestContext } from '../../../audit/index.js';
import { requireJustification } from '../../../authz/index.js';
import { RampartError, systemClock, uuidv7 } from '../../../core/index.js';
import { actorId, withTenant, type Actor } from '../../../db/index.js';
import { hashToken, randomToken } from '../../sessions/index.js';
import type { AccountDeps } from '../deps.js';
import { normalizeEmail, roleExists } from '../store.js';

export const INVITATION_TTL_SECONDS = 7 * 24 * 60 * 60;
/** The apps module's anonymous role (src/apps ANONYMOUS_ROLE); identity does not depend on apps. */
const ANONYMOUS_ROLE = 'anonymous';

export type InvitationView = { id: string; email: string; role: string; expires_at: Date; invited_by: string };

/**
 * An admin invites someone into the tenant with one role (AZ-5: justified; invariant 3: audited in
 * the same transaction). The token is returned once; only its SHA-256 is stored.
 */
export async function createInvitation(
  { db, audit, clock = systemClock }: AccountDeps,
  input: { tenantId: string; actor: Actor; email: string; role: string; justification: unknown; context?: RequestContext; inviterRoles?: readonly string[] },
): Promise<{ invitation: InvitationView; token: string }> {
  const justification = requireJustification(input.justification);
  const email = normalizeEmail(input.email);
  return withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => {
    // An app whose spec grants anonymous access creates the tenant role "anonymous" (the role of
    // callers who are not signed in). A member in it would be a signed-in account that the
    // anonymous-only limits (public resources, list/read, no PII) were never meant to describe.
    if (input.role === ANONYMOUS_ROLE) {
      throw new RampartError('validation_failed', { detail: 'body /role: "anonymous" is the role of callers who are not signed in; nobody can be invited into it', issues: [{ in: 'body', pointer: '/role', message: 'reserved for callers who are not signed in' }] });
    }
    if (!(await roleExists(trx, input.role))) {
      throw new RampartError('validation_failed', { detail: `body /role: no role "${String(input.role).slice(0, 64)}"`, issues: [{ in: 'body', pointer: '/role', message: 'no such role' }] });
    }
    // Inviting into a high-privilege role is itself an escalation path: only an owner may do it
    // (an admin could otherwise invite a second address of their own as owner).
    if (input.inviterRoles && !input.inviterRoles.includes('owner')) {
      const target = await trx.selectFrom('authz_roles').select('high_privilege').where('name', '=', input.role).executeTakeFirst();
      if (target?.high_privilege) throw new RampartError('forbidden', { detail: `only an owner may invite into the high-privilege role "${input.role}"` });
    }
    const token = randomToken();
    const now = clock.now();
    const invitation = await trx
      .insertInto('invitations')
      .values({ tenant_id: input.tenantId, id: uuidv7(now.getTime()), email, role: input.role, token_hash: hashToken(token), expires_at: new Date(now.getTime() + INVITATION_TTL_SECONDS * 1000), invited_by: actorId(input.actor), created_at: now })
      .returning(['id', 'email', 'role', 'expires_at', 'invited_by'])
      .executeTakeFirstOrThrow();
    await audit.record(trx, {
      tenantId: input.tenantId,
      actor: input.actor,
      action: 'member.invited',
      target: { type: 'invitation', id: invitation.id },
      // The address is personal data: the event proves an invitation was made, the row says to whom.
      diff: { role: { after: input.role }, email: { redacted: true }, expires_at: { after: invitation.expires_at.toISOString() } },
      justification,
      ...(input.context ? { context: input.context } : {}),
    });
    return { invitation, token };
  });
}

import { isIP } from 'node:net';
import type { RequestContext } from '../../../audit/index.js';
import { RampartError, systemClock, uuidv7 } from '../../../core/index.js';
import { withTenant } from '../../../db/index.js';
import { assertMfaSatisfied, type MfaStatus } from '../../credentials/index.js';
import type { Mailer } from '../../mail/index.js';
import { createSession, hashToken, randomToken, type SessionView } from '../../sessions/index.js';
import type { AccountDeps } from '../deps.js';
import { findUserByEmail, mfaContextOf, normalizeEmail } from '../store.js';

/**
 * Magic sign-in links (controls ID-4, ID-9, ID-10). A link is ONE factor (possession of the
 * mailbox), exactly like the password: consuming it yields a pending session that still needs the
 * second factor (ID-4). The token is 256 random bits, stored as its SHA-256, single use (consumed
 * by a conditional UPDATE, so of two parallel consumes one wins) and valid for 15 minutes.
 *
 * The request answers the same whatever the account state (unknown, disabled, throttled): the
 * mail goes out in the background, so neither the answer nor its timing says whether the address
 * has an account.
 */

export const MAGIC_LINK_TTL_SECONDS = 15 * 60;
const TOKEN = /^rml1\.[A-Za-z0-9_-]{43}$/;

export type MagicLinkDeps = AccountDeps & { mailer: Mailer; /** Origin the link points to, e.g. https://id.example.com */ publicBaseUrl: string };

/** Where the hosted login page reads the token: in the fragment, which browsers never send to a server or put in a Referer. */
export const magicLinkUrl = (base: string, tenantSlug: string, token: string) => `${base.replace(/\/+$/, '')}/login/${encodeURIComponent(tenantSlug)}/magic-link#token=${token}`;

export async function requestMagicLink(deps: MagicLinkDeps, input: { tenantId: string; tenantSlug: string; email: string; context: RequestContext; sendMail?: boolean }): Promise<void> {
  if (deps.mailer.kind === 'disabled') throw new RampartError('unavailable', { detail: 'sign-in links by email are not configured on this server', expose: true });
  const email = normalizeEmail(input.email);
  const clock = deps.clock ?? systemClock;
  const issued = await withTenant(deps.db, { tenantId: input.tenantId, actor: { type: 'anonymous' } }, async (trx) => {
    const user = await findUserByEmail(trx, email);
    if (!user || user.status !== 'active' || input.sendMail === false) return undefined;
    const token = `rml1.${randomToken()}`;
    const now = clock.now();
    const id = uuidv7(now.getTime());
    await trx
      .insertInto('magic_links')
      .values({ tenant_id: input.tenantId, id, user_id: user.id, token_hash: hashToken(token), expires_at: new Date(now.getTime() + MAGIC_LINK_TTL_SECONDS * 1000), used_at: null, ip: input.context.ip && isIP(input.context.ip) ? input.context.ip : null })
      .execute();
    await deps.audit.record(trx, { tenantId: input.tenantId, actor: { type: 'anonymous' }, action: 'identity.magic_link.requested', target: { type: 'user', id: user.id }, diff: { link: { after: id } }, context: input.context });
    return { token, to: user.email };
  });
  if (!issued) return;
  deps.mailer.sendInBackground({
    to: issued.to,
    subject: 'Your sign-in link',
    text: [
      'Someone (hopefully you) asked to sign in with this address.',
      '',
      `Open this link within ${MAGIC_LINK_TTL_SECONDS / 60} minutes to continue; it works once:`,
      magicLinkUrl(deps.publicBaseUrl, input.tenantSlug, issued.token),
      '',
      'You will still be asked for your second factor. If you did not ask for this, ignore this mail.',
    ].join('\n'),
  });
}

const invalid = () => new RampartError('not_found', { detail: 'this sign-in link does not exist, was already used or has expired' });

/** Spends the link and opens a pending session, like the password step (never a full one). */
export async function consumeMagicLink(
  deps: AccountDeps,
  input: { tenantId: string; token: string; ip: string; context: RequestContext },
): Promise<{ stage: Exclude<MfaStatus, 'ok'>; token: string; session: SessionView }> {
  const clock = deps.clock ?? systemClock;
  const wellFormed = TOKEN.test(input.token);
  const outcome = await withTenant(deps.db, { tenantId: input.tenantId, actor: { type: 'anonymous' } }, async (trx) => {
    const now = clock.now();
    const link = wellFormed
      ? await trx
          .updateTable('magic_links')
          .set({ used_at: now })
          .where('token_hash', '=', hashToken(input.token))
          .where('used_at', 'is', null)
          .where('expires_at', '>', now)
          .returning(['id', 'user_id'])
          .executeTakeFirst()
      : undefined;
    const user = link ? await trx.selectFrom('users').selectAll().where('id', '=', link.user_id).executeTakeFirst() : undefined;
    if (!link || !user || user.status !== 'active') {
      await deps.audit.record(trx, { tenantId: input.tenantId, actor: { type: 'anonymous' }, action: 'identity.signin.failed', ...(user ? { target: { type: 'user', id: user.id } } : {}), diff: { method: { after: 'magic_link' }, reason: { after: user ? 'disabled' : 'invalid_link' } }, context: input.context });
      return undefined;
    }
    const mfa = await mfaContextOf(trx, user.id);
    const decision = assertMfaSatisfied({ factors: [], linkVerified: true, ...mfa });
    const stage = decision.status === 'ok' ? 'mfa_required' : decision.status;
    const { token, session } = await createSession(trx, { tenantId: input.tenantId, userId: user.id, stage, amr: decision.amr, acr: decision.acr, ip: input.ip, userAgent: input.context.userAgent }, clock);
    await deps.audit.record(trx, {
      tenantId: input.tenantId,
      actor: { type: 'user', id: user.id },
      action: 'identity.signin.succeeded',
      target: { type: 'user', id: user.id },
      diff: { method: { after: 'magic_link' }, stage: { after: stage }, session: { after: session.id }, amr: { after: decision.amr }, link: { after: link.id } },
      context: input.context,
    });
    // One factor so far: like the password step, nothing about the account until the second (ID-4).
    return { stage, token, session };
  });
  if (!outcome) throw invalid();
  return outcome;
}

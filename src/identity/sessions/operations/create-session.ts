import { systemClock, uuidv7, type Clock } from '../../../core/index.js';
import type { TenantTransaction } from '../../../db/index.js';
import { PENDING_SESSION_SECONDS, SESSION_ABSOLUTE_SECONDS, SESSION_IDLE_SECONDS } from '../policy.js';
import { safeIp, toView, type SessionStage, type SessionView } from '../store.js';
import { hashToken, newSessionToken } from '../tokens.js';

export type CreateSessionInput = {
  tenantId: string;
  userId: string;
  /** 'ok' only when the sign-in satisfied MFA (ID-4); anything else is a short pending session. */
  stage: SessionStage;
  amr: string[];
  acr: string;
  ip?: string | undefined;
  userAgent?: string | undefined;
  /** A user-verified passkey was proven by this sign-in: starts the step-up clock (ID-7). */
  webauthnVerified?: boolean;
};

/** Expiries for a session in `stage`, measured from its creation (absolute) and now (idle). */
export function expiriesFor(stage: SessionStage, createdAt: Date, now: Date): { idle: Date; absolute: Date } {
  const isFull = stage === 'ok';
  const absolute = new Date(createdAt.getTime() + (isFull ? SESSION_ABSOLUTE_SECONDS : PENDING_SESSION_SECONDS) * 1000);
  const idle = new Date(Math.min(now.getTime() + (isFull ? SESSION_IDLE_SECONDS : PENDING_SESSION_SECONDS) * 1000, absolute.getTime()));
  return { idle, absolute };
}

/**
 * Inserts a session in the caller's transaction (so it commits with the sign-in's audit event) and
 * returns its token, once: only the token's SHA-256 is stored.
 */
export async function createSession(trx: TenantTransaction, input: CreateSessionInput, clock: Clock = systemClock): Promise<{ token: string; session: SessionView }> {
  const now = clock.now();
  const token = newSessionToken(input.tenantId);
  const { idle, absolute } = expiriesFor(input.stage, now, now);
  const row = await trx
    .insertInto('sessions')
    .values({
      tenant_id: input.tenantId,
      id: uuidv7(now.getTime()),
      user_id: input.userId,
      token_hash: hashToken(token),
      stage: input.stage,
      created_at: now,
      last_seen_at: now,
      idle_expires_at: idle,
      absolute_expires_at: absolute,
      auth_time: now,
      amr: input.amr,
      acr: input.acr,
      ip: safeIp(input.ip),
      user_agent: input.userAgent ? input.userAgent.slice(0, 512) : null,
      webauthn_verified_at: input.webauthnVerified ? now : null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token, session: toView(row) };
}

import type { AuditLog, RequestContext } from '../../audit/index.js';
import type { Authz, AuthzPrincipal } from '../../authz/index.js';
import type { Clock, Logger } from '../../core/index.js';
import type { Actor, Database } from '../../db/index.js';

/** What the app builder's operations receive from the composition root. */
export type AppsDeps = {
  db: Database;
  audit: AuditLog;
  authz: Authz;
  clock: Clock;
  /** Production (DE-4): a plan applies only after a second admin approved it. */
  requireApproval: boolean;
  log?: Logger;
};

/** `author`: the person's authorization principal, when a person (not the system) makes the call. */
export type Caller = { tenantId: string; actor: Actor; author?: AuthzPrincipal | undefined; context?: RequestContext };

/**
 * The person behind an actor: an agent acting for a user counts as that user, so a model cannot
 * approve the plan its user wrote (or that it wrote for them).
 */
export function actorKey(actor: Actor): string {
  switch (actor.type) {
    case 'user':
      return `user:${actor.id}`;
    case 'agent':
      return `user:${actor.onBehalfOf}`;
    case 'system':
      return `system:${actor.id}`;
    case 'anonymous':
      return 'anonymous';
  }
}

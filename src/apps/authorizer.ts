import type { AuditLog } from '../audit/index.js';
import type { Database } from '../db/index.js';
import { withTenant } from '../db/index.js';
import { actorOf, requestContext, type Authorizer } from '../http/index.js';
import { catalogName } from './spec/model.js';
import { IDENTIFIER } from './spec/schema.js';

/**
 * Data routes declare `{ action, resource: 'app_record' }`; the resource they act on is in the
 * URL (`/api/v1/apps/:app/:resource`). This authorizer wraps the engine's: it names the concrete
 * catalog resource (`<app>__<resource>`) and asks the engine about that, so the pipeline's
 * authorize step decides on the app resource itself (AZ-2). An app or resource the tenant does
 * not have is not in its catalog and is refused. A refused export is audited (DA-1).
 */
export const APP_RECORD = 'app_record';

export function appsAuthorizer(inner: Authorizer, deps: { db: Database; audit: AuditLog }): Authorizer {
  return async (input) => {
    if (input.resource !== APP_RECORD) return inner(input);
    const params = (input.request.params ?? {}) as { app?: unknown; resource?: unknown };
    const { app, resource } = params;
    if (typeof app !== 'string' || typeof resource !== 'string' || !IDENTIFIER.test(app) || !IDENTIFIER.test(resource) || app.includes('__') || resource.includes('__')) return false;
    const type = catalogName(app, resource);
    const allowed = await inner({ ...input, resource: type });
    if (!allowed && input.action === 'export') {
      await withTenant(deps.db, { tenantId: input.principal.tenantId, actor: actorOf(input.principal) }, (trx) =>
        deps.audit.record(trx, { tenantId: input.principal.tenantId, actor: actorOf(input.principal), action: 'app.records.export_denied', target: { type }, context: requestContext(input.request) }),
      );
    }
    return allowed;
  };
}

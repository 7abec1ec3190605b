import type { Authorizer } from '../http/index.js';
import { catalogName } from './spec/model.js';
import { IDENTIFIER } from './spec/schema.js';

/**
 * Data routes declare `{ action, resource: 'app_record' }`; the resource they act on is in the
 * URL (`/api/v1/apps/:app/:resource`). This authorizer wraps the engine's: it names the concrete
 * catalog resource (`<app>__<resource>`) and asks the engine about that, so the pipeline's
 * authorize step decides on the app resource itself (AZ-2). An app or resource the tenant does
 * not have is not in its catalog and is refused. Refusals (exports included, DA-1) are audited by
 * the pipeline's refusal path like every other denial.
 */
export const APP_RECORD = 'app_record';

export function appsAuthorizer(inner: Authorizer): Authorizer {
  return async (input) => {
    if (input.resource !== APP_RECORD) return inner(input);
    const params = (input.request.params ?? {}) as { app?: unknown; resource?: unknown };
    const { app, resource } = params;
    if (typeof app !== 'string' || typeof resource !== 'string' || !IDENTIFIER.test(app) || !IDENTIFIER.test(resource) || app.includes('__') || resource.includes('__')) return false;
    const type = catalogName(app, resource);
    return inner({ ...input, resource: type });
  };
}

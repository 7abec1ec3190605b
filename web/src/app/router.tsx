import type { QueryClient } from '@tanstack/react-query';
import { createRootRouteWithContext, createRoute, createRouter } from '@tanstack/react-router';
import { Access } from '../pages/Access.js';
import { Account } from '../pages/Account.js';
import { AppEditor, AppList } from '../pages/AppEditor.js';
import { AuditEventPage, AuditLog } from '../pages/Audit.js';
import { Drift } from '../pages/Drift.js';
import { Home } from '../pages/Home.js';
import { People } from '../pages/People.js';
import { RecordDetail, RecordEdit, RecordNew } from '../pages/Record.js';
import { RecordList } from '../pages/Records.js';
import { NotFound, Shell } from './Shell.js';

/** Client routes under /dashboard/ (the server answers every one of them with the app shell). */
export function createAppRouter({ queryClient }: { queryClient: QueryClient }) {
  const root = createRootRouteWithContext<{ queryClient: QueryClient }>()({ component: Shell, notFoundComponent: NotFound });
  const at = (path: string, component: () => React.ReactNode) => createRoute({ getParentRoute: () => root, path, component });
  const routeTree = root.addChildren([
    at('/', Home),
    at('/apps/$app/$resource', RecordList),
    at('/apps/$app/$resource/new', RecordNew),
    at('/apps/$app/$resource/$id', RecordDetail),
    at('/apps/$app/$resource/$id/edit', RecordEdit),
    at('/builder', AppList),
    at('/builder/$app', AppEditor),
    at('/people', People),
    at('/access', Access),
    at('/access/drift', Drift),
    at('/audit', AuditLog),
    at('/audit/$id', AuditEventPage),
    at('/account', Account),
  ]);
  return createRouter({ routeTree, basepath: '/dashboard', context: { queryClient }, defaultPreload: false, scrollRestoration: false });
}

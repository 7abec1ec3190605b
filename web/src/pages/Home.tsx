import { Link } from '@tanstack/react-router';
import { useSession } from '../app/session.js';
import { Card, PageHeader } from '../ui/controls.js';

/** The landing page: the tenant's apps and the administration areas this user may open. */
export function Home() {
  const { tenant, apps, identity, can } = useSession();
  const admin = [
    { to: '/people', title: 'People and roles', text: 'Invite colleagues and see the roles.', show: true },
    { to: '/access', title: 'Permissions', text: 'The role-permission matrix, per resource.', show: can('matrix', 'read') },
    { to: '/access/drift', title: 'Drift report', text: 'Permission changes no recorded change explains.', show: can('drift', 'run') },
    { to: '/audit', title: 'Audit log', text: 'Who did what, when, from where and why.', show: can('audit_event', 'list') },
    { to: '/account', title: 'Sessions and security keys', text: 'Where you are signed in; your passkeys.', show: true },
  ].filter((item) => item.show);
  return (
    <div className="space-y-8">
      <PageHeader title={tenant.name} description={`Welcome${identity.name ? `, ${identity.name}` : ''}.`} />
      <section aria-labelledby="apps-heading">
        <h2 id="apps-heading" className="mb-3 text-lg font-semibold">
          Apps
        </h2>
        {apps.length ? (
          <div className="grid gap-4 sm:grid-cols-2 xl:grid-cols-3">
            {apps.map((app) => (
              <Card key={app.app}>
                <h3 className="font-semibold">{app.title}</h3>
                <p className="mb-3 text-xs text-slate-600 dark:text-slate-400">
                  version {app.version} · {app.resources.length} resource{app.resources.length === 1 ? '' : 's'}
                </p>
                <ul className="space-y-1">
                  {app.resources.map((r) => (
                    <li key={r.name}>
                      <Link to="/apps/$app/$resource" params={{ app: app.app, resource: r.name }} className="text-sm text-indigo-700 hover:underline dark:text-indigo-300">
                        {r.label}
                      </Link>
                    </li>
                  ))}
                </ul>
              </Card>
            ))}
          </div>
        ) : (
          <p className="text-sm text-slate-600 dark:text-slate-400">No apps you may use are installed in this organisation.</p>
        )}
      </section>
      <section aria-labelledby="admin-heading">
        <h2 id="admin-heading" className="mb-3 text-lg font-semibold">
          Administration
        </h2>
        <div className="grid gap-4 sm:grid-cols-2 xl:grid-cols-3">
          {admin.map((item) => (
            <Link key={item.to} to={item.to} className="block rounded-lg border border-slate-200 bg-white p-4 shadow-sm hover:border-indigo-400 dark:border-slate-800 dark:bg-slate-900">
              <h3 className="font-semibold">{item.title}</h3>
              <p className="text-sm text-slate-600 dark:text-slate-400">{item.text}</p>
            </Link>
          ))}
        </div>
      </section>
    </div>
  );
}

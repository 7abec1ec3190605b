import * as Menu from '@radix-ui/react-dropdown-menu';
import { Link, Outlet } from '@tanstack/react-router';
import { useState, type FormEvent, type ReactNode } from 'react';
import { prefs, SLUG, type Theme } from '../auth/storage.js';
import { Button, Field, TextInput } from '../ui/controls.js';
import { Dialog } from '../ui/dialog.js';
import { useSession } from './session.js';
import { setTheme } from './theme.js';

/** Layout: top bar (tenant switcher, user menu), navigation generated from the tenant's apps, the page. */

const navLink =
  'block rounded-md px-3 py-2 text-sm text-slate-700 hover:bg-slate-200 dark:text-slate-300 dark:hover:bg-slate-800 [&.active]:bg-indigo-50 [&.active]:font-semibold [&.active]:text-indigo-800 dark:[&.active]:bg-indigo-950 dark:[&.active]:text-indigo-200';

function NavSection({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div>
      <h2 className="px-3 pb-1 text-xs font-semibold tracking-wide text-slate-600 uppercase dark:text-slate-400">{title}</h2>
      <ul className="space-y-0.5">{children}</ul>
    </div>
  );
}

function Navigation({ onNavigate }: { onNavigate: () => void }) {
  const { apps, can } = useSession();
  return (
    <nav aria-label="Main" className="space-y-6" onClick={(e) => (e.target as HTMLElement).closest('a') && onNavigate()}>
      <ul>
        <li>
          <Link to="/" className={navLink} activeOptions={{ exact: true }}>
            Overview
          </Link>
        </li>
      </ul>
      {apps.map((app) => (
        <NavSection key={app.app} title={app.title}>
          {app.resources.map((resource) => (
            <li key={resource.name}>
              <Link to="/apps/$app/$resource" params={{ app: app.app, resource: resource.name }} className={navLink} activeOptions={{ exact: false }}>
                {resource.label}
              </Link>
            </li>
          ))}
        </NavSection>
      ))}
      <NavSection title="Administration">
        <li>
          <Link to="/people" className={navLink}>
            People and roles
          </Link>
        </li>
        {can('matrix', 'read') ? (
          <li>
            <Link to="/access" className={navLink} activeOptions={{ exact: true }}>
              Permissions
            </Link>
          </li>
        ) : null}
        {can('drift', 'run') ? (
          <li>
            <Link to="/access/drift" className={navLink}>
              Drift report
            </Link>
          </li>
        ) : null}
        {can('app_spec', 'read') ? (
          <li>
            <Link to="/builder" className={navLink}>
              App builder
            </Link>
          </li>
        ) : null}
        {can('audit_event', 'list') ? (
          <li>
            <Link to="/audit" className={navLink}>
              Audit log
            </Link>
          </li>
        ) : null}
      </NavSection>
    </nav>
  );
}

const menuItem = 'flex cursor-default items-center rounded px-3 py-2 text-sm outline-none select-none data-[highlighted]:bg-indigo-50 data-[highlighted]:text-indigo-900 dark:data-[highlighted]:bg-indigo-950 dark:data-[highlighted]:text-indigo-100';
const menuContent = 'z-50 min-w-56 rounded-md border border-slate-200 bg-white p-1 text-slate-900 shadow-lg dark:border-slate-700 dark:bg-slate-900 dark:text-slate-100';

function TenantSwitcher() {
  const { auth, tenant } = useSession();
  const [other, setOther] = useState(false);
  const [slug, setSlug] = useState('');
  const [error, setError] = useState<string | undefined>();
  const others = prefs.tenants().filter((t) => t !== tenant.slug);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const value = slug.trim().toLowerCase();
    if (!SLUG.test(value)) return setError('Use the organisation’s short name: lowercase letters, digits and dashes.');
    void auth.switchTenant(value);
  };
  return (
    <>
      {/* Non-modal: a modal menu would inject a <style> tag to lock scrolling, which the CSP refuses. */}
      <Menu.Root modal={false}>
        <Menu.Trigger asChild>
          <Button variant="ghost" aria-label={`Organisation: ${tenant.name}. Switch organisation`} data-testid="tenant-switcher">
            <span className="font-semibold">{tenant.name}</span>
            <span className="text-xs text-slate-600 dark:text-slate-400">{tenant.slug}</span>
            <span aria-hidden="true">▾</span>
          </Button>
        </Menu.Trigger>
        <Menu.Portal>
          <Menu.Content className={menuContent} align="start" sideOffset={4}>
            <Menu.Label className="px-3 py-1 text-xs text-slate-600 dark:text-slate-400">Switch organisation</Menu.Label>
            {others.map((t) => (
              <Menu.Item key={t} className={menuItem} onSelect={() => void auth.switchTenant(t)}>
                {t}
              </Menu.Item>
            ))}
            <Menu.Item className={menuItem} onSelect={() => setOther(true)} data-testid="tenant-other">
              Another organisation…
            </Menu.Item>
          </Menu.Content>
        </Menu.Portal>
      </Menu.Root>
      <Dialog
        open={other}
        onClose={() => setOther(false)}
        title="Switch organisation"
        footer={
          <>
            <Button onClick={() => setOther(false)}>Cancel</Button>
            <Button variant="primary" type="submit" form="switch-tenant">
              Sign in there
            </Button>
          </>
        }
      >
        <form id="switch-tenant" onSubmit={submit}>
          <Field label="Organisation" hint="You sign in again: each organisation has its own account." error={error}>
            {({ id, describedBy, invalid }) => <TextInput id={id} name="tenant" value={slug} onChange={(e) => setSlug(e.target.value)} aria-describedby={describedBy} aria-invalid={invalid} autoFocus />}
          </Field>
        </form>
      </Dialog>
    </>
  );
}

function UserMenu() {
  const { auth, identity } = useSession();
  const [theme, setThemeState] = useState<Theme>(prefs.theme());
  const choose = (value: string) => {
    setTheme(value as Theme);
    setThemeState(value as Theme);
  };
  const label = identity.name ?? identity.email ?? 'Account';
  return (
    <Menu.Root modal={false}>
      <Menu.Trigger asChild>
        <Button variant="ghost" aria-label={`Account menu for ${label}`} data-testid="user-menu">
          <span aria-hidden="true" className="flex size-7 items-center justify-center rounded-full bg-indigo-600 text-xs font-semibold text-white">
            {label.slice(0, 1).toUpperCase()}
          </span>
          <span className="hidden sm:inline">{label}</span>
        </Button>
      </Menu.Trigger>
      <Menu.Portal>
        <Menu.Content className={menuContent} align="end" sideOffset={4}>
          <div className="px-3 py-2 text-sm">
            <p className="font-medium">{identity.name}</p>
            <p className="text-slate-600 dark:text-slate-400">{identity.email}</p>
          </div>
          <Menu.Separator className="my-1 h-px bg-slate-200 dark:bg-slate-700" />
          <Menu.Item className={menuItem} asChild>
            <Link to="/account">Sessions and security keys</Link>
          </Menu.Item>
          <Menu.Separator className="my-1 h-px bg-slate-200 dark:bg-slate-700" />
          <Menu.Label className="px-3 py-1 text-xs text-slate-600 dark:text-slate-400">Theme</Menu.Label>
          <Menu.RadioGroup value={theme} onValueChange={choose}>
            {(['system', 'light', 'dark'] as const).map((t) => (
              <Menu.RadioItem key={t} value={t} className={`${menuItem} gap-2`}>
                <span aria-hidden="true" className="w-3">
                  <Menu.ItemIndicator>✓</Menu.ItemIndicator>
                </span>
                {t === 'system' ? 'System' : t === 'light' ? 'Light' : 'Dark'}
              </Menu.RadioItem>
            ))}
          </Menu.RadioGroup>
          <Menu.Separator className="my-1 h-px bg-slate-200 dark:bg-slate-700" />
          <Menu.Item className={menuItem} onSelect={() => void auth.signOut()} data-testid="sign-out">
            Sign out
          </Menu.Item>
        </Menu.Content>
      </Menu.Portal>
    </Menu.Root>
  );
}

export function Shell() {
  const [navOpen, setNavOpen] = useState(false);
  return (
    <div className="min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 dark:focus:bg-slate-900">
        Skip to content
      </a>
      <header className="sticky top-0 z-40 flex h-14 items-center justify-between gap-2 border-b border-slate-200 bg-white/95 px-3 dark:border-slate-800 dark:bg-slate-900/95">
        <div className="flex items-center gap-1">
          <Button variant="ghost" className="lg:hidden" aria-expanded={navOpen} aria-controls="sidebar" onClick={() => setNavOpen((o) => !o)}>
            <span aria-hidden="true">☰</span>
            <span className="sr-only">Menu</span>
          </Button>
          <Link to="/" className="mr-2 font-semibold text-indigo-700 dark:text-indigo-300">
            Rampart
          </Link>
          <TenantSwitcher />
        </div>
        <UserMenu />
      </header>
      <div className="flex">
        <aside id="sidebar" className={`${navOpen ? 'block' : 'hidden'} fixed inset-y-14 left-0 z-30 w-64 overflow-y-auto border-r border-slate-200 bg-white p-3 lg:sticky lg:top-14 lg:block lg:h-[calc(100vh-3.5rem)] dark:border-slate-800 dark:bg-slate-900`}>
          <Navigation onNavigate={() => setNavOpen(false)} />
        </aside>
        <main id="main" tabIndex={-1} className="min-w-0 flex-1 p-4 md:p-8">
          <Outlet />
        </main>
      </div>
    </div>
  );
}

export function NotFound() {
  return (
    <div className="space-y-2">
      <h1 className="text-2xl font-semibold">Not found</h1>
      <p>
        There is nothing here. <Link to="/" className="text-indigo-700 underline dark:text-indigo-300">Back to the overview</Link>
      </p>
    </div>
  );
}

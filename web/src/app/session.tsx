import { createContext, useContext } from 'react';
import type { Api } from '../api/client.js';
import type { InstalledApp, TenantInfo } from '../api/types.js';
import type { AuthClient, Identity } from '../auth/oidc.js';

/**
 * Who is signed in and what the UI may offer them. The UI hides what the server would refuse,
 * never the other way round: `can` is derived from the token's scopes, which the provider narrowed
 * to what the user holds (ID-8), and narrowed further by every 403 the server answers. The server
 * still decides every call on its own (AZ-2).
 */
export type Session = {
  auth: AuthClient;
  api: Api;
  identity: Identity;
  tenant: TenantInfo;
  apps: InstalledApp[];
  can(resource: string, action: string): boolean;
  /** Remembers a refusal so the control that caused it disappears. */
  markDenied(resource: string, action: string): void;
  /** Loads the installed apps again (after a spec is applied: new fields, new resources). */
  reloadApps(): Promise<void>;
};

const READ_ACTIONS = new Set(['list', 'read']);

export function permissionsFrom(scopes: ReadonlySet<string>, denied: ReadonlySet<string>) {
  return (resource: string, action: string): boolean => {
    if (denied.has(`${resource}:${action}`)) return false;
    if (scopes.has(`rampart:${resource}`)) return true;
    return READ_ACTIONS.has(action) && scopes.has(`rampart:${resource}:read`);
  };
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in dashboard');
  return session;
}

export const appResource = (app: string, resource: string) => `${app}__${resource}`;

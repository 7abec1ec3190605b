import { describe, expect, it } from 'vitest';
import { grantableApiScopes, isWellFormedApiScope, scopeAllows } from './scopes.js';

describe('API scopes (ID-8)', () => {
  it('a read scope covers list and read only; the full scope covers every action of that resource only', () => {
    const read = new Set(['rampart:audit_event:read']);
    expect(scopeAllows(read, 'list', 'audit_event')).toBe(true);
    expect(scopeAllows(read, 'read', 'audit_event')).toBe(true);
    expect(scopeAllows(read, 'export', 'audit_event')).toBe(false);
    expect(scopeAllows(read, 'read', 'member')).toBe(false);
    const full = new Set(['rampart:member']);
    expect(scopeAllows(full, 'disable', 'member')).toBe(true);
    expect(scopeAllows(full, 'read', 'matrix')).toBe(false);
  });

  it('grants only what is requested, registered on the client and held; a reader asking for the full scope does not get it', () => {
    const held = new Set(['rampart:tenant:read', 'rampart:session', 'rampart:session:read']);
    const clientScopes = new Set(['rampart:tenant', 'rampart:session', 'rampart:member']);
    expect(grantableApiScopes({ requested: ['rampart:tenant', 'rampart:session', 'rampart:member', 'openid'], clientScopes, held })).toEqual(['rampart:session']);
    // Not registered on the client: never granted, even if held.
    expect(grantableApiScopes({ requested: ['rampart:session:read'], clientScopes: new Set(['rampart:tenant']), held })).toEqual([]);
    // The wildcard is never itself granted.
    expect(grantableApiScopes({ requested: ['rampart:*', 'rampart:tenant:read'], clientScopes: new Set(['rampart:*']), held })).toEqual(['rampart:tenant:read']);
  });

  it('well-formed scope names only', () => {
    expect(isWellFormedApiScope('rampart:crm__contacts:read')).toBe(true);
    for (const bad of ['rampart:*', 'rampart:', 'rampart:Tenant', 'rampart:tenant:write', 'openid', 'rampart:a b']) expect(isWellFormedApiScope(bad), bad).toBe(false);
  });
});

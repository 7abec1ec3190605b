import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TEMPLATES } from '../templates/index.js';
import { appSpecJsonSchema, parseSpecText } from '../spec/parse.js';
import { lintSpec } from './lint.js';

type Mutable = Record<string, unknown> & { resources: Array<Record<string, unknown> & { fields: Array<Record<string, unknown>> }>; matrix: Record<string, Record<string, string[]>>; rules: Array<Record<string, unknown>> };
const crm = () => structuredClone(TEMPLATES.crm) as Mutable;
const codes = (spec: unknown) => lintSpec(spec).findings.map((f) => `${f.code} ${f.pointer}`);

describe('app spec linter (DA-1, AZ-1)', () => {
  it('the built-in templates lint clean', () => {
    for (const template of Object.values(TEMPLATES)) expect(lintSpec(template)).toMatchObject({ ok: true, findings: [] });
  });

  it('the published JSON Schema is the one generated from the zod schema', () => {
    const published = JSON.parse(readFileSync(new URL('../spec/app-spec.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(published).toEqual(appSpecJsonSchema());
  });

  it('reads YAML and refuses alias bombs', () => {
    expect(parseSpecText('app: crm\nversion: 1\n')).toEqual({ app: 'crm', version: 1 });
    expect(() => parseSpecText('a: &x [1]\nb: *x\n')).toThrow();
  });

  it('invariant 7 refuses spec text nested deeper than 64 levels before the YAML parser recurses', () => {
    expect(() => parseSpecText(`a: ${'['.repeat(10_000)}${']'.repeat(10_000)}`)).toThrow('spec nests deeper than 64 levels');
    expect(parseSpecText(`a: ${'['.repeat(10)}${']'.repeat(10)}\nb: "[[[["`)).toMatchObject({ b: '[[[[' });
  });

  it('DA-1 a field without a data class', () => {
    const spec = crm();
    delete spec.resources[1]!.fields[2]!.class;
    expect(codes(spec)).toEqual(['field/no-class /resources/1/fields/2/class']);
  });

  it('AZ-1 a resource without a matrix entry', () => {
    const spec = crm();
    for (const grants of Object.values(spec.matrix)) delete grants.deal;
    spec.rules = [];
    expect(codes(spec)).toEqual(['matrix/missing /resources/2']);
  });

  it('public access without public: true, and PII readable by anonymous even with it', () => {
    const spec = crm();
    spec.matrix.anonymous = { contact: ['list', 'read', 'create'] };
    expect(codes(spec)).toEqual(['public/not-declared /matrix/anonymous/contact']);
    spec.resources[1]!.public = true;
    expect(codes(spec)).toEqual(['public/write /matrix/anonymous/contact/2', 'public/pii-readable /matrix/anonymous/contact']);
  });

  it('a permit rule for everyone covers anonymous callers too', () => {
    const spec = crm();
    spec.rules.push({ id: 'everyone-eu', effect: 'permit', roles: '*', resource: 'deal', actions: ['read'], when: [{ record: 'region', op: 'eq', value: 'eu' }] });
    expect(codes(spec)).toEqual(['public/not-declared /rules/3/roles']);
  });

  it('a write rule without a post-condition', () => {
    const spec = crm();
    delete spec.rules[0]!.check;
    expect(codes(spec)).toEqual(['rule/no-postcondition /rules/0/check']);
  });

  it('a reference across tenants or out of the app', () => {
    const spec = crm();
    spec.resources[1]!.fields[4]!.crossTenant = true;
    spec.resources[2]!.fields[3]!.to = 'billing.customer';
    expect(codes(spec)).toEqual(['reference/cross-tenant /resources/1/fields/4/crossTenant', 'reference/cross-tenant /resources/2/fields/3/to']);
  });

  it('names that do not exist: resource, action, role, attribute', () => {
    const spec = crm();
    spec.matrix.viewer!.invoice = ['read'];
    spec.matrix.viewer!.deal = ['read', 'refund'];
    spec.matrix.intern = { deal: ['read'] };
    (spec.rules[0]!.when as Array<Record<string, unknown>>)[0]!.record = 'department';
    expect(codes(spec).sort()).toEqual(['matrix/unknown-action /matrix/viewer/deal/1', 'matrix/unknown-resource /matrix/viewer/invoice', 'matrix/unknown-role /matrix/intern', 'rule/unknown-attribute /rules/0/when/0/record'].sort());
  });

  it('field checks: reserved names, enums, money, encrypted unique, bad pattern', () => {
    const spec = crm();
    spec.resources[0]!.fields.push(
      { name: 'owner_id', type: 'text', class: 'internal' },
      { name: 'tier', type: 'enum', class: 'internal' },
      { name: 'budget', type: 'money', class: 'internal' },
      { name: 'api_key', type: 'text', class: 'secret', unique: true },
      { name: 'code', type: 'text', class: 'internal', pattern: '(' },
    );
    expect(codes(spec)).toEqual([
      'field/reserved /resources/0/fields/6/name',
      'field/enum-values /resources/0/fields/7/values',
      'field/money-currency /resources/0/fields/8/currency',
      'field/encrypted-unique /resources/0/fields/9/unique',
      'field/pattern /resources/0/fields/10/pattern',
    ]);
  });

  it('identifiers are validated before they can reach SQL', () => {
    const spec = crm();
    spec.resources[0]!.name = 'company"; drop table users; --';
    spec.resources[0]!.fields[0]!.name = 'Name';
    const findings = lintSpec(spec).findings;
    expect(findings.map((f) => f.pointer)).toEqual(expect.arrayContaining(['/resources/0/name', '/resources/0/fields/0/name']));
    expect(findings.every((f) => f.code === 'spec/invalid')).toBe(true);
  });

  it('anything at all is refused with findings, never a crash', () => {
    for (const junk of [null, 42, 'text', [], {}, { app: 'x' }, { ...crm(), resources: 'nope' }, { ...crm(), matrix: [] }]) {
      const result = lintSpec(junk);
      expect(result.ok).toBe(false);
      expect(result.findings.length).toBeGreaterThan(0);
    }
  });
});

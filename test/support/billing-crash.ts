import { spawn } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { generateSigningKeyPem, signerFromPem, verifierFor, verifyAuditLog } from '../../src/audit/index.js';
import { billingTables, createBilling, createCustomer, finalizeInvoice, verifyNumbering, type NumberingReport } from '../../src/billing/index.js';
import { createAuditLog } from '../../src/audit/index.js';
import { createLogger } from '../../src/core/index.js';
import { withTenant, type Database } from '../../src/db/index.js';
import { childEnv, type Exit } from './process.js';

/**
 * "Kill the process mid-finalization -> no gap, no orphan after restart" (issue 6), shared by the
 * embedded (on-disk data dir) and the PostgreSQL variants. A child process
 * (`billing-finalizer.ts`) finalizes invoices; the parent SIGKILLs it twice (once while it holds a
 * number in an open transaction, once at whatever moment it happens to be in), reopens the
 * database each time and checks: numbers 1..N, no gap, no duplicate, the sequence at N+1, every
 * number on a finalized invoice with its audit event, no invoice half-finalized, the audit chain
 * intact; and that finalizing continues at N+1 afterwards.
 */

const FINALIZER = fileURLToPath(new URL('./billing-finalizer.ts', import.meta.url));
const ACTOR = { type: 'system' as const, id: 'crash-test' };

export type Victim = { stdout(): string; kill(): void; exited: Promise<Exit>; waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray> };

export function startFinalizer(env: Record<string, string>): Victim {
  const v8Flags = Number(process.versions.v8.split('.')[0]) <= 12 ? ['--no-turbo-inline-js-wasm-calls'] : [];
  const child = spawn(process.execPath, [...v8Flags, '--import', 'tsx', FINALIZER], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    waiters.forEach((w) => w());
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  let isDone = false;
  void exited.then(() => {
    isDone = true;
    waiters.forEach((w) => w());
  });
  return {
    stdout: () => out,
    kill: () => void child.kill('SIGKILL'),
    exited,
    waitFor: (pattern, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(() => reject(new Error(`finalizer printed no ${pattern} in ${timeoutMs} ms\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`))), timeoutMs);
        const check = () => {
          const match = pattern.exec(out);
          if (match) finish(() => resolve(match));
          else if (isDone) finish(() => reject(new Error(`finalizer exited before ${pattern}\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`)));
        };
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      }),
  };
}

const billingOn = (db: Database) => createBilling({ db, audit: createAuditLog(), log: createLogger({ level: 'silent' }), production: false, psp: 'sandbox', webhookSecrets: ['crash-test-webhook-secret-0123456789'] });

/** A customer for the finalizer to invoice (the tenant must exist). */
export async function seedCrashTenant(db: Database, tenantId: string): Promise<void> {
  const billing = billingOn(db);
  await withTenant(db, { tenantId, actor: ACTOR }, (tx) => createCustomer(tx, billing.deps, { tenantId, actor: ACTOR }, { name: 'Crash Test GmbH', email: null, country: 'DE', isBusiness: false, taxId: null, taxExempt: false }));
  await billing.close();
}

export type AfterRestart = { report: NumberingReport; numbers: bigint[]; drafts: number; finalizedEvents: number };

/** Everything the issue demands of the state a killed finalizer leaves behind. */
/** `checkpointKey`: the public key of the Rampart that created the tenant (its chain is checkpointed from creation on). */
export async function inspectAfterRestart(db: Database, tenantId: string, checkpointKey: KeyObject = signerFromPem(generateSigningKeyPem()).publicKey): Promise<AfterRestart> {
  const state = await withTenant(db, { tenantId, actor: ACTOR }, async (tx) => {
    const trx = billingTables(tx);
    const invoices = await trx.selectFrom('billing_invoices').select(['id', 'status', 'number', 'finalized_at']).execute();
    const events = await tx.selectFrom('audit_events').select(['target_id']).where('action', '=', 'billing.invoice.finalized').execute();
    const sequence = await trx.selectFrom('billing_number_sequences').select('next_number').where('series', '=', 'INV').executeTakeFirst();
    return { invoices, events, sequence, report: await verifyNumbering(tx) };
  });
  const finalized = state.invoices.filter((i) => i.status !== 'draft');
  const numbers = finalized.map((i) => i.number!).sort((a, b) => (a < b ? -1 : 1));
  // Every number belongs to a finalized invoice that carries its audit event, and vice versa.
  expect(state.invoices.filter((i) => i.number !== null).every((i) => i.status !== 'draft' && i.finalized_at !== null)).toBe(true);
  expect(new Set(state.events.map((e) => e.target_id))).toEqual(new Set(finalized.map((i) => i.id)));
  expect(state.events).toHaveLength(finalized.length);
  expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => BigInt(i + 1)));
  expect(state.sequence?.next_number ?? 1n).toBe(BigInt(numbers.length + 1));
  const verifier = verifierFor(checkpointKey);
  const audit = await verifyAuditLog({ db, verifier, chains: [tenantId] });
  expect(audit.ok, JSON.stringify(audit.chains, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).toBe(true);
  return { report: state.report, numbers, drafts: state.invoices.length - finalized.length, finalizedEvents: state.events.length };
}

/** After the crashes, the remaining drafts finalize with the next numbers: nothing was lost or skipped. */
export async function finalizeRemainingDrafts(db: Database, tenantId: string): Promise<bigint[]> {
  const billing = billingOn(db);
  const context = { tenantId, actor: ACTOR };
  const drafts = await withTenant(db, context, (tx) => billingTables(tx).selectFrom('billing_invoices').select('id').where('status', '=', 'draft').orderBy('created_at').execute());
  const numbers: bigint[] = [];
  for (const { id } of drafts) numbers.push((await withTenant(db, context, (tx) => finalizeInvoice(tx, billing.deps, context, id))).number!);
  await billing.close();
  return numbers;
}

/** The highest number the child reported as committed (it may have committed one more before it died). */
export const lastCommitted = (stdout: string): number => Math.max(0, ...[...stdout.matchAll(/^committed (\d+)$/gm)].map((m) => Number(m[1])));

import { sql } from 'kysely';
import { fromDb } from '../money/index.js';
import { billingTables, type Tx } from '../types.js';

/**
 * Checks a tenant's document numbering after the fact (BI-5, and the evidence a tax auditor asks
 * for): per series, the numbers in use are exactly 1..N (no gap, no duplicate), the sequence row
 * would hand out N+1 next (a higher value means a number left the sequence without its document,
 * an orphan; a lower one would issue a duplicate), and no invoice is half-finalized (a number
 * without `finalized_at`, a draft with a number, or a final invoice without one). The crash tests
 * and `rampart billing verify-numbering` both run it; it reads, never repairs.
 */

export type NumberingProblem = {
  series: string;
  document: 'invoice' | 'credit_note';
  kind: 'gap' | 'duplicate' | 'orphaned_number' | 'sequence_behind' | 'half_finalized';
  detail: string;
};

export type SeriesReport = { series: string; document: 'invoice' | 'credit_note'; count: number; highest: bigint; nextNumber: bigint | null };

export type NumberingReport = { ok: boolean; series: SeriesReport[]; problems: NumberingProblem[] };

const SHOW = 20;

type Document = { document: 'invoice' | 'credit_note'; table: 'billing_invoices' | 'billing_credit_notes' };
const DOCUMENTS: Document[] = [
  { document: 'invoice', table: 'billing_invoices' },
  { document: 'credit_note', table: 'billing_credit_notes' },
];

export async function verifyNumbering(tx: Tx): Promise<NumberingReport> {
  const trx = billingTables(tx);
  const sequences = new Map((await trx.selectFrom('billing_number_sequences').select(['series', 'next_number']).execute()).map((s) => [s.series, fromDb(s.next_number)]));
  const series: SeriesReport[] = [];
  const problems: NumberingProblem[] = [];

  for (const { document, table } of DOCUMENTS) {
    const groups = await trx
      .selectFrom(table)
      .select(['series', sql<bigint>`count(*)`.as('n'), sql<bigint>`count(DISTINCT number)`.as('distinct_numbers'), sql<bigint | null>`max(number)`.as('highest')])
      .where('number', 'is not', null)
      .groupBy('series')
      .orderBy('series')
      .execute();
    for (const group of groups) {
      const count = fromDb(group.n);
      const highest = fromDb(group.highest);
      const next = sequences.get(group.series) ?? null;
      series.push({ series: group.series, document, count: Number(count), highest, nextNumber: next });
      if (fromDb(group.distinct_numbers) !== count) {
        const duplicates = await trx.selectFrom(table).select('number').where('series', '=', group.series).where('number', 'is not', null).groupBy('number').having(sql`count(*)`, '>', 1).orderBy('number').limit(SHOW).execute();
        problems.push({ series: group.series, document, kind: 'duplicate', detail: `numbers issued more than once: ${duplicates.map((d) => String(d.number)).join(', ')}` });
      }
      if (highest !== count) {
        const missing = await sql<{ n: bigint }>`SELECT g.n FROM generate_series(1::int8, ${highest}::int8) AS g(n) WHERE NOT EXISTS (SELECT 1 FROM ${sql.table(table)} d WHERE d.series = ${group.series} AND d.number = g.n) ORDER BY g.n LIMIT ${SHOW}`.execute(trx);
        if (missing.rows.length) problems.push({ series: group.series, document, kind: 'gap', detail: `numbers missing: ${missing.rows.map((r) => String(r.n)).join(', ')}` });
      }
      if (next !== null && next > highest + 1n) problems.push({ series: group.series, document, kind: 'orphaned_number', detail: `the sequence is at ${next} but the highest ${document.replace('_', ' ')} is ${highest}: numbers ${highest + 1n}..${next - 1n} left the sequence without a document` });
      if (next === null || next <= highest) problems.push({ series: group.series, document, kind: 'sequence_behind', detail: `the sequence would issue ${next ?? 1} next, but ${highest} is already in use` });
    }
  }

  // A sequence that moved although no document of its series exists is an orphan too.
  for (const [name, next] of sequences) {
    if (next > 1n && !series.some((s) => s.series === name)) problems.push({ series: name, document: name === 'CN' ? 'credit_note' : 'invoice', kind: 'orphaned_number', detail: `the sequence is at ${next} but no document of the series has a number` });
  }

  const half = await trx
    .selectFrom('billing_invoices')
    .select(['id', 'series', 'status', 'number'])
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'draft'), eb.or([eb('number', 'is not', null), eb('finalized_at', 'is not', null)])]),
        eb.and([eb('status', '!=', 'draft'), eb.or([eb('number', 'is', null), eb('finalized_at', 'is', null)])]),
      ]),
    )
    .limit(SHOW)
    .execute();
  for (const invoice of half) problems.push({ series: invoice.series, document: 'invoice', kind: 'half_finalized', detail: `invoice ${invoice.id} is ${invoice.status} with number ${invoice.number ?? 'none'}` });

  return { ok: problems.length === 0, series, problems };
}

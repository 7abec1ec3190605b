import { sql } from 'kysely';
import { constraintFor, constraintSql, decide } from '../../authz/index.js';
import { withTenant, type TenantTransaction } from '../../db/index.js';
import { openCursor, sealCursor, type CursorBinding } from './cursor.js';
import { filterSql, keysetSql, parseListQuery } from './query.js';
import { attributesOf, columnsOf, envelopeIn, hiddenFields, present, scope, selectList, tenantOf, type DataCall, type DataDeps, type Row } from './records.js';

/**
 * Lists and CSV exports of the data API (AZ-3, DA-1): the caller's constraint in SQL, keyset
 * pagination with sealed cursors, the per-row check when the constraint over-approximates, and
 * masking by data class as for single records.
 */

type Page = { rows: Row[]; next: string | null };

/** SQL reads per page at most when rows fail the per-row check: a page costs a bounded amount of work. */
export const MAX_BATCHES_PER_PAGE = 8;

/**
 * One page. The constraint goes into SQL; when it is an over-approximation (a tenant policy the
 * compiler cannot read) every row is also decided on its own, and reading continues batch after
 * batch until the page is full or the rows run out (at most MAX_BATCHES_PER_PAGE reads). One row
 * beyond the page is looked for, so `next_cursor` appears only when an allowed row follows: it is
 * the position of the last row returned, sealed (cursor.ts). Only when the scan bound stops a
 * page early is it the position of the last row checked, still sealed, so the next call goes on
 * from there instead of checking the same rows again.
 */
async function page(trx: TenantTransaction, deps: DataDeps, call: DataCall, action: 'list' | 'export', query: Record<string, unknown>, limitOverride?: number): Promise<Page> {
  const { resource, table, type } = call.target;
  const list = parseListQuery(resource, query, { hidden: hiddenFields(call) });
  const limit = limitOverride ?? list.limit;
  const binding: CursorBinding = { ring: deps.keys.ring, tenantId: tenantOf(call), type, principalId: call.principal.id, sort: list.sortText };
  let after = list.cursor === undefined ? undefined : openCursor(binding, list.cursor);
  const constraint = constraintFor(call.set, { principal: call.principal, action, resourceType: type });
  if (constraint.kind === 'none') return { rows: [], next: null };
  const rowCheck = 'needsRowCheck' in constraint && constraint.needsRowCheck === true;
  const direction = list.sort.descending ? sql`desc` : sql`asc`;
  const allowed: Array<Row & { _cursor_value: string }> = [];
  for (let batch = 0; batch < MAX_BATCHES_PER_PAGE; batch++) {
    const where = [sql`${constraintSql(constraint, columnsOf(resource))}`, ...list.filters.map(filterSql), ...(after ? [keysetSql(list.sort, after)] : [])];
    // The sort value goes into the cursor as Postgres prints it: a JS Date would drop microseconds.
    const { rows } = await sql<Row & { _cursor_value: string }>`select ${selectList(resource)}, cast(${sql.ref(list.sort.column)} as text) as "_cursor_value" from ${sql.table(table)} where ${sql.join(where, sql` and `)} order by ${sql.ref(list.sort.column)} ${direction}, "id" ${direction} limit ${limit + 1}`.execute(trx);
    for (const row of rows) {
      if (!rowCheck || decide(call.set, { principal: call.principal, action, resource: { type, id: row.id, attributes: attributesOf(resource, row) } }).allowed) allowed.push(row);
      if (allowed.length > limit) {
        const last = allowed[limit - 1]!;
        return { rows: allowed.slice(0, limit), next: sealCursor(binding, last._cursor_value, last.id) };
      }
    }
    const last = rows.at(-1);
    if (rows.length <= limit || !last) return { rows: allowed, next: null };
    after = { value: last._cursor_value, id: last.id };
  }
  return { rows: allowed, next: after ? sealCursor(binding, after.value, after.id) : null };
}

export async function listRecords(deps: DataDeps, call: DataCall, query: Record<string, unknown>): Promise<{ items: Record<string, unknown>[]; next_cursor: string | null }> {
  return withTenant(deps.db, scope(call), async (trx) => {
    const result = await page(trx, deps, call, 'list', query);
    const envelope = envelopeIn(deps, trx);
    const items: Record<string, unknown>[] = [];
    for (const row of result.rows) items.push(await present(call, row, envelope, tenantOf(call)));
    return { items, next_cursor: result.next };
  }, { readOnly: true });
}

export const EXPORT_MAX_ROWS = 10_000;

/** A CSV cell; a leading =, +, - or @ is neutralised so a spreadsheet does not run it as a formula. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV export (its own `export` permission; masked like reads; audited with the row count and filters). */
export async function exportRecords(deps: DataDeps, call: DataCall, query: Record<string, unknown>): Promise<{ csv: string; rows: number }> {
  const { cursor: _cursor, limit: _limit, ...filters } = query;
  return withTenant(deps.db, scope(call), async (trx) => {
    const result = await page(trx, deps, call, 'export', filters, EXPORT_MAX_ROWS);
    const envelope = envelopeIn(deps, trx);
    const header = ['id', 'owner_id', 'created_at', 'updated_at', ...call.target.resource.fields.map((f) => f.name)];
    const lines = [header.join(',')];
    for (const row of result.rows) {
      const record = await present(call, row, envelope, tenantOf(call));
      lines.push(header.map((name) => csvCell(record[name])).join(','));
    }
    await deps.audit.record(trx, {
      tenantId: tenantOf(call),
      actor: call.actor,
      action: 'app.records.exported',
      target: { type: call.target.type },
      diff: { rows: { after: result.rows.length }, filters: { after: Object.keys(filters) }, truncated: { after: result.next !== null } },
      ...(call.context ? { context: call.context } : {}),
    });
    return { csv: `${lines.join('\r\n')}\r\n`, rows: result.rows.length };
  });
}

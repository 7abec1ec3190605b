/**
 * What kind of SQL statement a compiled query is, by its first keyword after any leading
 * comments (Rampart's markers are comments). Used to decide how a statement may be sent: kept
 * prepared (DML), batched (no transaction control) or sent with a tenant scope (a read).
 */
const startingWith = (keywords: string): RegExp => new RegExp(`^\\s*(?:/\\*[^]*?\\*/\\s*)*(?:${keywords})\\b`, 'i');

/** Statements the embedded driver keeps prepared; anything else may change the schema. */
export const DML = startingWith('select|insert|update|delete|with|values|begin|start|commit|rollback|savepoint|release');

/** Statements that open or end transactions: a batch may not contain them, or its settings could outlive it. */
export const TRANSACTION_CONTROL = startingWith('begin|start|commit|end|rollback|abort|savepoint|release|prepare\\s+transaction');

/** A read (readAsTenant). A data-modifying CTE passes and is then refused by the read-only transaction. */
export const READ_STATEMENT = startingWith('select|with|values|table');

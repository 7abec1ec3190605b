import { describe, expect, it } from 'vitest';
import { createCapturingLogger, createLogger, REDACT_PATHS, serializeError } from './logger.js';

const SENSITIVE = 'Zx9-sensitive-VALUE-q7';
const EMAIL = 'ann@example.com';

/** A Postgres-style driver error as node-postgres builds it: SQLSTATE in `code`, row values in `detail`. */
const pgError = (message: string, fields: Record<string, unknown> = {}): Error => Object.assign(new Error(message), fields);

const uuidSyntaxError = () =>
  pgError(`invalid input syntax for type uuid: "${EMAIL}"`, {
    code: '22P02',
    detail: `Key (email)=(${EMAIL}) already exists.`,
    hint: `check ${EMAIL}`,
    where: `unnamed portal parameter $1 = '${EMAIL}'`,
    schema: 'public',
    table: 'users',
    column: 'email',
    constraint: 'users_email_key',
    severity: 'ERROR',
    parameters: [EMAIL],
  });

const parse = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;

describe('createCapturingLogger redaction (DA-4)', () => {
  it.each([
    ['password', { password: SENSITIVE }],
    ['token', { token: SENSITIVE }],
    ['authorization', { authorization: `Bearer ${SENSITIVE}` }],
    ['secret', { secret: SENSITIVE }],
    ['nested *.secret', { app: { secret: SENSITIVE } }],
    ['nested *.password', { user: { password: SENSITIVE } }],
    ['nested *.token', { session: { token: SENSITIVE } }],
    ['accessToken / refreshToken', { grant: { accessToken: SENSITIVE, refreshToken: SENSITIVE } }],
    ['apiKey', { apiKey: SENSITIVE }],
    ['cookie', { cookie: `sid=${SENSITIVE}` }],
    ['req.headers.authorization', { req: { headers: { authorization: `Bearer ${SENSITIVE}` } } }],
    ['req.headers.cookie', { req: { headers: { cookie: `sid=${SENSITIVE}` } } }],
    ['req.headers x-api-key', { req: { headers: { 'x-api-key': SENSITIVE } } }],
    ['req.headers idempotency-key', { req: { headers: { 'idempotency-key': SENSITIVE } } }],
    ['res.headers set-cookie', { res: { headers: { 'set-cookie': [`sid=${SENSITIVE}`] } } }],
    ['headers.authorization', { headers: { authorization: `Basic ${SENSITIVE}` } }],
    ['headers set-cookie', { headers: { 'set-cookie': `sid=${SENSITIVE}` } }],
    ['connectionString', { db: { connectionString: `postgres://u:${SENSITIVE}@h/d` } }],
    ['masterKey', { masterKey: SENSITIVE }],
  ])('DA-4 redacts %s', (_label, object) => {
    const { log, lines } = createCapturingLogger();
    log.info(object, 'event');
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).not.toContain(SENSITIVE);
    expect(lines()[0]).toContain('[redacted]');
  });

  it('keeps non-sensitive fields next to redacted ones', () => {
    const { log, lines } = createCapturingLogger();
    log.info({ user: { id: 'u1', password: SENSITIVE }, req: { method: 'GET', headers: { authorization: SENSITIVE, accept: 'application/json' } } }, 'login');
    const line = parse(lines()[0]!);
    expect(line).toMatchObject({
      level: 'info',
      service: 'rampart',
      msg: 'login',
      user: { id: 'u1', password: '[redacted]' },
      req: { method: 'GET', headers: { authorization: '[redacted]', accept: 'application/json' } },
    });
    expect(typeof line.time).toBe('string');
  });

  it('does not mutate the logged object', () => {
    const { log } = createCapturingLogger();
    const object = { password: SENSITIVE, user: { token: SENSITIVE } };
    log.info(object);
    expect(object).toEqual({ password: SENSITIVE, user: { token: SENSITIVE } });
  });

  it('honours the level', () => {
    const { log, lines } = createCapturingLogger('warn');
    log.info('dropped');
    log.debug('dropped');
    log.warn('kept');
    expect(lines().map((l) => parse(l).msg)).toEqual(['kept']);
  });

  it('createLogger writes to the given destination with the given base', () => {
    const chunks: string[] = [];
    const log = createLogger({ level: 'info', base: { service: 'worker', pid: 1 }, destination: { write: (chunk: string) => void chunks.push(chunk) } });
    log.info({ token: SENSITIVE }, 'hello');
    const line = parse(chunks.join(''));
    expect(line).toMatchObject({ service: 'worker', pid: 1, msg: 'hello', token: '[redacted]' });
  });

  it('lists the header paths the HTTP edge relies on', () => {
    for (const path of ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]']) expect(REDACT_PATHS).toContain(path);
  });
});

describe('serializeError (DA-4, invariant 5)', () => {
  it('DA-4 drops a Postgres error detail and every other driver field that echoes row values', () => {
    const out = serializeError(uuidSyntaxError());
    for (const key of ['detail', 'hint', 'where', 'parameters', 'column', 'schema', 'severity']) expect(out).not.toHaveProperty(key);
    expect(JSON.stringify(out)).not.toContain(EMAIL);
  });

  it('DA-4 redacts the quoted value of a data exception in message and stack', () => {
    const out = serializeError(uuidSyntaxError());
    expect(out.message).toBe('invalid input syntax for type uuid: [redacted]');
    expect(out.stack).toMatch(/^Error: invalid input syntax for type uuid: \[redacted\]\n/);
    expect(out.stack).not.toContain(EMAIL);
  });

  it('DA-4 redacts a quoted value spanning lines', () => {
    const out = serializeError(pgError(`invalid input syntax for type json: "{\n  \\"ssn\\": \\"${SENSITIVE}\\"\n}"`, { code: '22P02' }));
    expect(JSON.stringify(out)).not.toContain(SENSITIVE);
  });

  it('keeps code, constraint, table and statusCode', () => {
    const out = serializeError(pgError('duplicate key value violates unique constraint "users_email_key"', { code: '23505', constraint: 'users_email_key', table: 'users', detail: `Key (email)=(${EMAIL}) already exists.` }));
    expect(out).toMatchObject({ type: 'Error', code: '23505', constraint: 'users_email_key', table: 'users' });
    expect(out.message).toBe('duplicate key value violates unique constraint "users_email_key"');
    expect(JSON.stringify(out)).not.toContain(EMAIL);
    expect(serializeError(Object.assign(new Error('nope'), { statusCode: 413 }))).toMatchObject({ statusCode: 413 });
  });

  it('leaves the message of a non-SQL error unchanged (no SQLSTATE code)', () => {
    const plain = serializeError(new Error('config key: "dataDir"'));
    expect(plain.message).toBe('config key: "dataDir"');
    const fs = serializeError(Object.assign(new Error('ENOENT: no such file or directory, open "x"'), { code: 'ENOENT' }));
    expect(fs.message).toBe('ENOENT: no such file or directory, open "x"');
    expect(fs.code).toBe('ENOENT');
  });

  it('keeps the error type (name) and a stack', () => {
    const out = serializeError(new TypeError('bad'));
    expect(out.type).toBe('TypeError');
    expect(out.stack).toContain('TypeError: bad');
  });

  it('DA-4 recurses into cause, redacting a Postgres error nested in a wrapper', () => {
    const wrapper = new Error('query failed', { cause: uuidSyntaxError() });
    const out = serializeError(wrapper);
    expect(out.message).toBe('query failed');
    expect(out.cause).toMatchObject({ message: 'invalid input syntax for type uuid: [redacted]', code: '22P02', constraint: 'users_email_key' });
    expect(out.cause).not.toHaveProperty('detail');
    expect(JSON.stringify(out)).not.toContain(EMAIL);
  });

  it('recurses through several levels of cause and renders a non-Error cause as text', () => {
    const out = serializeError(new Error('a', { cause: new Error('b', { cause: 'c' }) }));
    expect(out).toMatchObject({ message: 'a', cause: { message: 'b', cause: { message: 'c' } } });
  });

  it.each([
    ['a string', 'boom', 'boom'],
    ['a number', 42, '42'],
    ['null', null, 'null'],
    ['a plain object (its key names, never its values)', { detail: EMAIL }, 'non-error value with keys detail'],
    ['an object with a message', { message: 'relation "x" does not exist', code: 7 }, 'relation "x" does not exist'],
  ])('serializes %s thrown as a non-Error', (_label, value, message) => {
    expect(serializeError(value)).toEqual({ message });
  });

  // The server logged `oidc key refresh failed` with "[object Object]": background code logs
  // `{ err: { message } }` or a driver's plain object, and the err serializer stringified it.
  it.each([
    ['an Error', new Error('master key not loaded')],
    ['an object with a message', { message: 'master key not loaded' }],
    ['a driver-style object', Object.assign(Object.create(null) as object, { message: 'master key not loaded', severity: 'ERROR' })],
  ])('a background error logged as %s keeps its message', (_label, err) => {
    const { log, lines } = createCapturingLogger();
    log.warn({ err }, 'oidc key refresh failed');
    const line = JSON.parse(lines()[0]!) as { err: { message: string } };
    expect(line.err.message).toBe('master key not loaded');
    expect(lines()[0]).not.toContain('[object Object]');
  });

  it('DA-4 a Postgres error logged under err with a message leaks neither detail nor value', () => {
    const { log, lines } = createCapturingLogger();
    log.error({ err: uuidSyntaxError() }, 'query failed');
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).not.toContain(EMAIL);
    expect(parse(lines()[0]!)).toMatchObject({ msg: 'query failed', err: { code: '22P02', constraint: 'users_email_key' } });
  });

  // BUG (logger.ts createLogger): when an Error is logged without a message, pino copies the raw
  // `err.message` into `msg`, bypassing serializeError; the rejected value ends up in the log line.
  it('BUG DA-4 log.error(pgError) does not leak the value through msg', () => {
    const { log, lines } = createCapturingLogger();
    log.error(uuidSyntaxError());
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).not.toContain(EMAIL);
  });

  it('BUG DA-4 log.error({ err: pgError }) without a message does not leak the value through msg', () => {
    const { log, lines } = createCapturingLogger();
    log.error({ err: uuidSyntaxError() });
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).not.toContain(EMAIL);
  });

  // BUG (logger.ts serializeError): the redaction only covers a quoted value at the end of the
  // message (`: "..."$`); Postgres range errors quote the input in the middle.
  it('BUG DA-4 redacts the input echoed by a numeric range error (22003: value "..." is out of range)', () => {
    const out = serializeError(pgError('value "4111111111111111" is out of range for type integer', { code: '22003' }));
    expect(JSON.stringify(out)).not.toContain('4111111111111111');
  });

  // BUG (logger.ts serializeError): recursion into `cause` has no cycle guard; an error whose cause
  // chain loops overflows the stack, and the log call itself throws.
  it('BUG serializes an error whose cause chain is cyclic without overflowing the stack', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    Object.assign(a, { cause: b });
    expect(() => serializeError(a)).not.toThrow();
    const { log, lines } = createCapturingLogger();
    expect(() => log.error({ err: a }, 'cyclic')).not.toThrow();
    expect(lines()).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, isRampartError, problemType, RampartError, toPointer, toProblem, type ErrorCode } from './errors.js';

const CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];
const SERVER_CODES = CODES.filter((code) => ERROR_CATALOGUE[code].status >= 500);
const CLIENT_CODES = CODES.filter((code) => ERROR_CATALOGUE[code].status < 500);

const INTERNAL = 'connect ECONNREFUSED postgres://owner:hunter2@10.0.0.5/app at /srv/app/db.js:42';

describe('RampartError', () => {
  it('takes status and title from the catalogue and keeps detail, issues, extensions and cause', () => {
    const cause = new Error('root');
    const error = new RampartError('conflict', { detail: 'already exists', issues: [{ pointer: '/name', message: 'taken' }], extensions: { id: 7 }, cause });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'RampartError', code: 'conflict', status: 409, title: 'Conflict', detail: 'already exists', extensions: { id: 7 }, expose: true });
    expect(error.issues).toEqual([{ pointer: '/name', message: 'taken' }]);
    expect(error.cause).toBe(cause);
    expect(error.message).toBe('already exists');
  });

  it('uses the title as message when there is no detail, and sets no cause when none is given', () => {
    const error = new RampartError('not_found');
    expect(error.message).toBe('Not found');
    expect(error.detail).toBeUndefined();
    expect('cause' in error).toBe(false);
  });

  it.each(CODES)('%s: expose defaults to status < 500', (code) => {
    expect(new RampartError(code).expose).toBe(ERROR_CATALOGUE[code].status < 500);
  });

  it('isRampartError tells RampartErrors from other values', () => {
    expect(isRampartError(new RampartError('internal'))).toBe(true);
    expect(isRampartError(new Error('x'))).toBe(false);
    expect(isRampartError({ code: 'internal', status: 500 })).toBe(false);
    expect(isRampartError(undefined)).toBe(false);
  });
});

describe('problemType', () => {
  it('is urn:rampart:problem:<code-with-dashes>', () => {
    expect(problemType('validation_failed')).toBe('urn:rampart:problem:validation-failed');
    expect(problemType('unsupported_media_type')).toBe('urn:rampart:problem:unsupported-media-type');
    expect(problemType('internal')).toBe('urn:rampart:problem:internal');
  });

  it.each(CODES)('%s maps to a urn without underscores, unique across the catalogue', (code) => {
    expect(problemType(code)).toMatch(/^urn:rampart:problem:[a-z]+(-[a-z]+)*$/);
    expect(CODES.filter((other) => problemType(other) === problemType(code))).toEqual([code]);
  });
});

describe('toProblem (DA-4: 5xx details are never exposed)', () => {
  it.each(SERVER_CODES)('DA-4 %s omits detail, issues and extensions by default', (code) => {
    const error = new RampartError(code, {
      detail: INTERNAL,
      issues: [{ pointer: '/password', message: INTERNAL }],
      extensions: { sql: 'select * from users', connection: INTERNAL },
    });
    const doc = toProblem(error, { requestId: 'req-12345678' });
    expect(doc).toEqual({
      type: problemType(code),
      title: ERROR_CATALOGUE[code].title,
      status: ERROR_CATALOGUE[code].status,
      code,
      request_id: 'req-12345678',
    });
    expect(JSON.stringify(doc)).not.toContain('hunter2');
  });

  it('DA-4 a 5xx shows detail, issues and extensions only with expose: true', () => {
    const error = new RampartError('unavailable', {
      detail: 'database is starting',
      issues: [{ pointer: '/db', message: 'not ready' }],
      extensions: { retry_after: 5 },
      expose: true,
    });
    expect(toProblem(error)).toEqual({
      type: 'urn:rampart:problem:unavailable',
      title: 'Service unavailable',
      status: 503,
      code: 'unavailable',
      detail: 'database is starting',
      errors: [{ pointer: '/db', message: 'not ready' }],
      retry_after: 5,
    });
  });

  it.each(CLIENT_CODES)('%s includes detail, issues and extensions', (code) => {
    const doc = toProblem(new RampartError(code, { detail: 'd', issues: [{ pointer: '/x', message: 'm', in: 'body' }], extensions: { hint: 'h' } }));
    expect(doc).toMatchObject({ detail: 'd', errors: [{ pointer: '/x', message: 'm', in: 'body' }], hint: 'h', status: ERROR_CATALOGUE[code].status });
  });

  it('a 4xx with expose: false hides detail, issues and extensions', () => {
    const doc = toProblem(new RampartError('forbidden', { detail: 'role admin missing', issues: [{ pointer: '/a', message: 'm' }], extensions: { role: 'admin' }, expose: false }));
    expect(doc).toEqual({ type: 'urn:rampart:problem:forbidden', title: 'Forbidden', status: 403, code: 'forbidden' });
  });

  it('omits an empty issue list and an empty detail', () => {
    const doc = toProblem(new RampartError('validation_failed', { detail: '', issues: [] }));
    expect(doc).not.toHaveProperty('errors');
    expect(doc).not.toHaveProperty('detail');
  });

  it('extensions cannot override type, title, status or code', () => {
    const doc = toProblem(
      new RampartError('bad_request', { extensions: { type: 'https://evil.example', title: 'OK', status: 200, code: 'internal' } }),
    );
    expect(doc).toMatchObject({ type: 'urn:rampart:problem:bad-request', title: 'Bad request', status: 400, code: 'bad_request' });
  });

  it('adds instance and request_id from the context, also for a 5xx', () => {
    expect(toProblem(new RampartError('internal', { detail: INTERNAL }), { requestId: 'rid-00000001', instance: '/v1/things/1' })).toEqual({
      type: 'urn:rampart:problem:internal',
      title: 'Internal server error',
      status: 500,
      code: 'internal',
      instance: '/v1/things/1',
      request_id: 'rid-00000001',
    });
  });
});

describe('toPointer (RFC 6901)', () => {
  it.each([
    [['items', 0, 'qty'], '/items/0/qty'],
    [['a/b'], '/a~1b'],
    [['m~n'], '/m~0n'],
    [['~1'], '/~01'],
    [['/'], '/~1'],
    [['~'], '/~0'],
    [['a~/b', 'c'], '/a~0~1b/c'],
    [['with space', 'ü'], '/with space/ü'],
  ] as const)('%j -> %s', (path, pointer) => {
    expect(toPointer(path)).toBe(pointer);
  });

  it('renders the root (empty path) as /', () => {
    expect(toPointer([])).toBe('/');
  });

  it('prefixes a root pointer and renders an empty path as the root itself', () => {
    expect(toPointer(['name'], '/body')).toBe('/body/name');
    expect(toPointer([], '/body')).toBe('/body');
  });

  it('renders symbol path segments as text', () => {
    expect(toPointer([Symbol('k')])).toBe('/Symbol(k)');
  });

  // BUG (errors.ts toPointer): `.replace(/\/$/, '')` strips the trailing slash that an empty-string
  // key legitimately produces, so ['a', ''] points at /a (the parent) instead of /a/.
  it('BUG keeps an empty-string key as the last segment (["a", ""] -> /a/)', () => {
    expect(toPointer(['a', ''])).toBe('/a/');
  });
});

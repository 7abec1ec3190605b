import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRampartError, RampartError, toProblem, type ErrorCode } from '../core/index.js';

/**
 * Every error leaves as RFC 9457 problem+json (invariant 7). Fastify's own 4xx errors (bad JSON,
 * body too large, wrong content type) are mapped to catalogue codes with a message written here;
 * anything unexpected becomes a 500 whose body says nothing but the request id. Stack traces and
 * driver messages go to the log, never to the caller.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

const FASTIFY_CODES: Record<string, { code: ErrorCode; detail: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'malformed_json', detail: 'the request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'malformed_json', detail: 'the request body is empty but its content type is application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', detail: 'the request body is larger than the limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', detail: 'send application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad_request', detail: 'the content length does not match the body' },
  FST_ERR_CTP_INVALID_TYPE: { code: 'unsupported_media_type', detail: 'the content type header is malformed' },
  FST_ERR_BAD_URL: { code: 'bad_request', detail: 'the URL is malformed' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'uri_too_long', detail: 'a path segment is too long' },
  FST_ERR_ASYNC_CONSTRAINT: { code: 'bad_request', detail: 'the request cannot be routed' },
};

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
  503: 'unavailable',
};

/**
 * SQLSTATEs a request can legitimately cause. Messages are written here: driver messages and
 * details carry the offending values (PII) and must not reach the caller.
 */
const SQLSTATES: Record<string, { code: ErrorCode; detail: string }> = {
  '23505': { code: 'conflict', detail: 'a record with the same unique value exists' },
  '23503': { code: 'conflict', detail: 'a referenced record does not exist, or the record is still referenced' },
  '23514': { code: 'validation_failed', detail: 'a value breaks a constraint' },
  '23502': { code: 'validation_failed', detail: 'a required value is missing' },
  '22P02': { code: 'validation_failed', detail: 'a value has the wrong format' },
  '22021': { code: 'validation_failed', detail: 'a value holds a character that cannot be stored (such as NUL)' },
  '22P05': { code: 'validation_failed', detail: 'a value holds a character that cannot be stored' },
  '22001': { code: 'validation_failed', detail: 'a value is too long' },
  '22003': { code: 'validation_failed', detail: 'a number is out of range' },
  '22007': { code: 'validation_failed', detail: 'a date or time has the wrong format' },
  '22008': { code: 'validation_failed', detail: 'a date or time is out of range' },
  // A write that row-level security refuses targets another tenant's row: answer as if absent.
  '42501': { code: 'not_found', detail: 'no such record' },
  '40001': { code: 'unavailable', detail: 'a concurrent change conflicted; retry the request' },
  '40P01': { code: 'unavailable', detail: 'a concurrent change conflicted; retry the request' },
  '57014': { code: 'unavailable', detail: 'the request took too long' },
};

export function toRampartError(error: unknown): RampartError {
  if (isRampartError(error)) return error;
  const sqlState = (error as { code?: unknown }).code;
  if (typeof sqlState === 'string' && /^[0-9A-Z]{5}$/.test(sqlState) && SQLSTATES[sqlState]) {
    const mapped = SQLSTATES[sqlState];
    return new RampartError(mapped.code, { detail: mapped.detail, cause: error });
  }
  const fastifyError = error as Partial<FastifyError> & { status?: number };
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return new RampartError(known.code, { detail: known.detail, cause: error });
  if (error instanceof SyntaxError && 'body' in (error as object)) return new RampartError('malformed_json', { detail: 'the request body is not valid JSON', cause: error });
  const status = fastifyError.statusCode ?? fastifyError.status;
  if (status && status >= 400 && status < 500) {
    // A 4xx raised by a plugin: its message is about the request, not about internals. Fastify's
    // own messages quote the URL or a header, so theirs is not passed on.
    const isFastify = typeof fastifyError.code === 'string' && fastifyError.code.startsWith('FST_');
    return new RampartError(BY_STATUS[status] ?? 'bad_request', { detail: !isFastify && typeof fastifyError.message === 'string' ? fastifyError.message.slice(0, 300) : undefined, cause: error });
  }
  return new RampartError(status === 503 ? 'unavailable' : 'internal', { cause: error });
}

/**
 * `instance` is the matched route's template (`/api/v1/apps/:app`), never the URL as sent: a
 * problem document echoes nothing the caller wrote into the path or query.
 */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: RampartError): FastifyReply {
  const template = request.is404 ? undefined : request.routeOptions.url;
  const body = toProblem(error, { requestId: request.id, ...(template ? { instance: template } : {}) });
  if (error.status === 401) reply.header('www-authenticate', 'Bearer');
  // 429 and 503 may say when to come back (RFC 9110 Retry-After, whole seconds).
  const retryAfter = error.extensions?.retry_after_seconds;
  if ((error.status === 429 || error.status === 503) && typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter > 0) {
    reply.header('retry-after', String(Math.ceil(retryAfter)));
  }
  return reply.code(error.status).type(PROBLEM_CONTENT_TYPE).header('cache-control', 'no-store').send(body);
}

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const problem = toRampartError(error);
    if (problem.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    } else {
      request.log.info({ code: problem.code, status: problem.status }, 'request refused');
    }
    return sendProblem(reply, request, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, request, new RampartError('not_found', { detail: `no route for this ${request.method} request` })),
  );
}

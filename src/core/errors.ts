/**
 * The one catalogue of coded errors. Every error that leaves Rampart through HTTP or the CLI is a
 * RampartError with a stable code; the HTTP edge turns it into RFC 9457 problem+json.
 *
 * `expose` decides whether `detail` may be shown to the caller. 5xx details are never exposed:
 * they may carry internals (SQL, paths, secrets in a driver message), so the caller gets the
 * generic title and the request id, and the detail goes to the log only.
 */

export const ERROR_CATALOGUE = {
  bad_request: { status: 400, title: 'Bad request' },
  validation_failed: { status: 400, title: 'Validation failed' },
  malformed_json: { status: 400, title: 'Malformed JSON body' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  /** Signed in, but the route needs a recent re-verification (step-up, ID-7). */
  step_up_required: { status: 401, title: 'Step-up authentication required' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  not_acceptable: { status: 406, title: 'Not acceptable' },
  conflict: { status: 409, title: 'Conflict' },
  request_timeout: { status: 408, title: 'Request timeout' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  uri_too_long: { status: 414, title: 'URI too long' },
  /** The request named a host this server does not answer for (RFC 9110 421; see http/public-host.ts). */
  misdirected_request: { status: 421, title: 'Misdirected request' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  rate_limited: { status: 429, title: 'Too many requests' },
  headers_too_large: { status: 431, title: 'Request header fields too large' },
  internal: { status: 500, title: 'Internal server error' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** One entry of a validation failure: where (a JSON pointer into the input) and what. */
export type FieldIssue = { pointer: string; message: string; in?: 'body' | 'query' | 'params' | 'headers' };

export type RampartErrorOptions = {
  detail?: string;
  issues?: FieldIssue[];
  cause?: unknown;
  /** Extra members for the problem document; only safe, non-secret values. */
  extensions?: Record<string, unknown>;
  /** Show detail and extensions on a 5xx too; only for messages written for the caller (e.g. readiness). */
  expose?: boolean;
};

export class RampartError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly issues: FieldIssue[] | undefined;
  readonly extensions: Record<string, unknown> | undefined;
  readonly expose: boolean;

  constructor(code: ErrorCode, options: RampartErrorOptions = {}) {
    const entry = ERROR_CATALOGUE[code];
    super(options.detail ?? entry.title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RampartError';
    this.code = code;
    this.status = entry.status;
    this.title = entry.title;
    this.detail = options.detail;
    this.issues = options.issues;
    this.extensions = options.extensions;
    this.expose = options.expose ?? entry.status < 500;
  }
}

export const problemType = (code: ErrorCode): string => `urn:rampart:problem:${code.replaceAll('_', '-')}`;

export type ProblemDocument = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: ErrorCode;
  request_id?: string;
  errors?: FieldIssue[];
  [extension: string]: unknown;
};

/** Renders an error as a problem document that is safe to send to any caller. */
export function toProblem(error: RampartError, context: { requestId?: string; instance?: string } = {}): ProblemDocument {
  const doc: ProblemDocument = {
    ...(error.expose ? error.extensions : undefined),
    type: problemType(error.code),
    title: error.title,
    status: error.status,
    code: error.code,
  };
  if (error.expose && error.detail) doc.detail = error.detail;
  if (error.expose && error.issues?.length) doc.errors = error.issues;
  if (context.instance) doc.instance = context.instance;
  if (context.requestId) doc.request_id = context.requestId;
  return doc;
}

export const isRampartError = (value: unknown): value is RampartError => value instanceof RampartError;

/** Converts zod-style issues (path arrays) to JSON pointers, e.g. ['items', 0, 'qty'] -> /items/0/qty. */
export function toPointer(path: ReadonlyArray<PropertyKey>, root = ''): string {
  const escaped = path.map((segment) => String(segment).replaceAll('~', '~0').replaceAll('/', '~1'));
  return path.length === 0 ? root || '/' : `${root}/${escaped.join('/')}`;
}

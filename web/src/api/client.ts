import type { AuthClient } from '../auth/oidc.js';

/**
 * The API as the dashboard calls it. Two credentials, each for what the server accepts it for:
 * - the DPoP-bound access token (every `/api/v1` call that a token may make: scopes and policy
 *   decide on the server, ID-8);
 * - the browser's `__Host-` session cookie from the hosted login, for the few self-service calls
 *   the server serves to a signed-in session only (my passkeys, a passkey step-up), never for data.
 * Errors are RFC 9457 problems, kept whole so a form can show each field's message.
 */

export type FieldIssue = { in?: string; pointer: string; message: string };

export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | undefined;
  readonly issues: FieldIssue[];
  readonly extensions: Record<string, unknown>;
  constructor(status: number, problem: Record<string, unknown>) {
    super(typeof problem.detail === 'string' ? problem.detail : typeof problem.title === 'string' ? problem.title : `request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.type = typeof problem.type === 'string' ? problem.type : 'about:blank';
    this.code = typeof problem.code === 'string' ? problem.code : undefined;
    // RFC 9457 extension member `errors`: one entry per bad field, as a JSON pointer.
    const listed = Array.isArray(problem.errors) ? problem.errors : Array.isArray(problem.issues) ? problem.issues : [];
    this.issues = (listed as FieldIssue[]).filter((i) => i && typeof i.pointer === 'string');
    this.extensions = problem;
  }
  /** The message for one field (`/email`), if the server named it. */
  fieldMessage(pointer: string): string | undefined {
    return this.issues.find((issue) => issue.pointer === pointer)?.message;
  }
}

export const STEP_UP_PROBLEM = 'urn:rampart:problem:step-up-required';
export const isStepUpRequired = (error: unknown): boolean => error instanceof ApiError && error.type === STEP_UP_PROBLEM;
export const isForbidden = (error: unknown): error is ApiError => error instanceof ApiError && error.status === 403;

async function parse<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) throw new ApiError(response.status, body && typeof body === 'object' ? (body as Record<string, unknown>) : {});
  return body as T;
}

const jsonInit = (method: string, body: unknown): RequestInit => (body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

export type Api = ReturnType<typeof createApi>;

export function createApi(auth: AuthClient) {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => parse<T>(await auth.authorizedFetch(path, jsonInit(method, body)));
  const withSession = async <T>(method: string, path: string, body?: unknown): Promise<T> => parse<T>(await fetch(path, { ...jsonInit(method, body), credentials: 'same-origin' }));
  return {
    get: <T>(path: string) => call<T>('GET', path),
    post: <T>(path: string, body?: unknown) => call<T>('POST', path, body),
    put: <T>(path: string, body?: unknown) => call<T>('PUT', path, body),
    patch: <T>(path: string, body?: unknown) => call<T>('PATCH', path, body),
    delete: <T>(path: string, body?: unknown) => call<T>('DELETE', path, body),
    send: <T>(method: string, path: string, body?: unknown) => call<T>(method, path, body),
    /** Self-service calls the server accepts from the hosted-login session cookie only. */
    session: {
      get: <T>(path: string) => withSession<T>('GET', path),
      send: <T>(method: string, path: string, body?: unknown) => withSession<T>(method, path, body),
    },
  };
}

export const query = (params: Record<string, string | number | undefined | null>): string => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
};

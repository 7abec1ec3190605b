import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths pino censors before a line is written (control: DA-4). Secret objects render as
 * `[redacted]` on their own; these catch plain strings under well-known names, anywhere one level
 * deep and in request headers.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'cookie',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'connectionString',
  '*.connectionString',
  'masterKey',
  '*.masterKey',
];

/**
 * Errors are logged without the fields drivers fill with row values: Postgres puts the offending
 * value of a unique or check violation in `detail` ("Key (email)=(ann@example.com)"), and query
 * parameters may hold anything. (invariant 5)
 */
export function serializeError(error: unknown, seen: WeakSet<object> = new WeakSet()): Record<string, unknown> {
  if (!(error instanceof Error)) {
    // A thrown or logged non-Error (a driver's plain object, `{ message }`) keeps its message, never "[object Object]".
    const message = (error as { message?: unknown } | null)?.message;
    if (typeof message === 'string') return { message };
    return { message: typeof error === 'object' && error !== null ? `non-error value with keys ${Object.keys(error).slice(0, 10).join(', ') || '(none)'}` : String(error) };
  }
  if (seen.has(error)) return { message: '[circular cause]' };
  seen.add(error);
  const withCode = error as Error & { code?: unknown; constraint?: unknown; table?: unknown; statusCode?: unknown };
  const isSqlError = typeof withCode.code === 'string' && /^[0-9A-Z]{5}$/.test(withCode.code);
  // Data exceptions echo the rejected input: 'invalid input syntax for type uuid: "..."'.
  const code = String(withCode.code);
  const message = !isSqlError ? error.message : code.startsWith('22') ? error.message.replace(/".*"/s, '[redacted]') : error.message.replace(/: ".*"$/s, ': [redacted]');
  const stack = isSqlError ? error.stack?.replace(error.message, message) : error.stack;
  const out: Record<string, unknown> = { type: error.name, message, stack };
  for (const key of ['code', 'constraint', 'table', 'statusCode'] as const) if (withCode[key] !== undefined) out[key] = withCode[key];
  if (error.cause) out.cause = serializeError(error.cause, seen);
  return out;
}

export type LoggerOptions = {
  level?: string;
  pretty?: boolean;
  /** Where lines go; tests pass a capturing stream to grep for leaks. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? 'info',
    base: options.base ?? { service: 'rampart' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: (error: unknown) => serializeError(error) },
    hooks: {
      // pino copies a logged error's raw message into `msg`; use the redacted one instead.
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        const [first, second] = args;
        const err = first instanceof Error ? first : (first as { err?: unknown } | null)?.err;
        if (err instanceof Error && typeof second !== 'string') {
          return method.apply(this, [first instanceof Error ? { err: first } : first, String(serializeError(err).message), ...args.slice(1)]);
        }
        return method.apply(this, args);
      },
    },
  };
  if (options.destination) return pino(config, options.destination);
  if (options.pretty) return pino({ ...config, transport: { target: 'pino-pretty', options: { colorize: true } } });
  return pino(config);
}

/** A logger that collects lines in memory; used by tests that assert nothing secret is logged. */
export function createCapturingLogger(level = 'trace'): { log: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const destination: DestinationStream = { write: (chunk: string) => void chunks.push(chunk) };
  return { log: createLogger({ level, destination }), lines: () => chunks.join('').split('\n').filter(Boolean) };
}

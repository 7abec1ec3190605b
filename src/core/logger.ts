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

import { RampartError } from '../core/index.js';
import { defineRoute, type RouteDefinition } from './routes.js';

export type ReadinessCheck = { name: string; check: () => Promise<void> };

/**
 * `/healthz`: the process is up and serving (liveness; no dependencies, so a slow database never
 * gets a healthy process restarted). `/readyz`: the database answers and its migrations are
 * current, and Redis answers when configured (readiness; the load balancer's signal).
 * Failures name the check, never its error text.
 */
export function healthRoutes({ checks, version }: { checks: ReadinessCheck[]; version: string }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/healthz',
      auth: { public: true },
      summary: 'Liveness',
      handler: async () => ({ status: 'ok', version }),
    }),
    defineRoute({
      method: 'GET',
      url: '/readyz',
      auth: { public: true },
      summary: 'Readiness',
      handler: async ({ request }) => {
        const results = await Promise.all(
          checks.map(async ({ name, check }) => {
            try {
              await check();
              return [name, 'ok'] as const;
            } catch (error) {
              request.log.warn({ check: name, err: error }, 'readiness check failed');
              return [name, 'failing'] as const;
            }
          }),
        );
        const failing = results.filter(([, state]) => state !== 'ok').map(([name]) => name);
        if (failing.length) throw new RampartError('unavailable', { detail: `not ready: ${failing.join(', ')}`, extensions: { checks: Object.fromEntries(results) }, expose: true });
        return { status: 'ready', checks: Object.fromEntries(results) };
      },
    }),
  ];
}

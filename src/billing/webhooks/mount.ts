import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../../http/index.js';
import { RampartError } from '../../core/index.js';
import type { BillingDeps } from '../types.js';
import { receiveWebhook } from './intake.js';

/**
 * The webhook endpoint needs the raw bytes (the signature is over them), so it lives in its own
 * encapsulated Fastify scope with a buffer body parser; the rest of the API keeps the JSON parser.
 * It is declared public (the signature is the authentication) and the deny-by-default guard still
 * sees it. Responses carry no detail an attacker could learn from beyond "refused".
 */
export function webhookMount(deps: BillingDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 512 * 1024 }, (_request, body, done) => done(null, body));
      scope.route({
        method: 'POST',
        url: '/api/v1/billing/webhooks/:provider',
        config: { auth: { public: true } },
        handler: async (request, reply) => {
          const provider = (request.params as { provider?: string }).provider;
          if (provider !== 'sandbox' && provider !== 'stripe') throw new RampartError('not_found', { detail: 'unknown payment provider' });
          const signature = request.headers['stripe-signature'];
          const result = await receiveWebhook(deps, { provider, rawBody: request.body as Buffer | undefined, signature: typeof signature === 'string' ? signature : undefined });
          return reply.code(200).send(result);
        },
      });
    });
  };
}

/** How the webhook endpoint appears in OpenAPI; never registered itself (the mount above is). */
export const webhookDocumentation: RouteDefinition = defineRoute({
  method: 'POST',
  url: '/api/v1/billing/webhooks/:provider',
  auth: { public: true },
  summary: 'PSP webhooks (Stripe-compatible `Stripe-Signature` over the raw body; each event id processed once)',
  params: z.strictObject({ provider: z.enum(['sandbox', 'stripe']) }),
  body: z.object({ id: z.string(), type: z.string(), created: z.number().int(), data: z.object({ object: z.record(z.string(), z.unknown()) }) }),
  handler: async () => {
    throw new RampartError('not_found');
  },
});

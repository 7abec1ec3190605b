import { createHmac } from 'node:crypto';
import { createChallenge, randomInt, verifySolution, type Challenge, type DeriveKeyFunction } from 'altcha-lib';
import { deriveKey as pbkdf2 } from 'altcha-lib/algorithms/pbkdf2';
import { deriveKey as sha } from 'altcha-lib/algorithms/sha';
import { z } from 'zod';
import { systemClock, type Clock } from '../../core/index.js';
import type { OnceStore } from './store.js';

/**
 * Self-hosted ALTCHA proof of work (control ID-10): no third-party captcha, no cookie, no
 * tracking. Challenges are created in ALTCHA v2 "deterministic" mode: the server picks the counter
 * the client must find (up to `maxNumber`), signs the parameters with HMAC and signs the expected
 * key separately, so verifying costs two HMACs while solving costs ~maxNumber/2..maxNumber key
 * derivations on the client.
 *
 * A solved challenge is accepted once: its signature is claimed in the replay store (memory or
 * Redis, shared by all nodes) until it expires, so a bot cannot solve one and replay it.
 */

export type ChallengeAlgorithm = 'PBKDF2/SHA-256' | 'SHA-256';

export type ChallengerOptions = {
  /** Secret for signing challenges; at least 32 characters, per deployment. */
  hmacKey: string;
  /** Upper bound of the secret counter (the work); the counter is drawn from [maxNumber/2, maxNumber]. */
  maxNumber?: number;
  /** Cost of one key derivation (PBKDF2 iterations). */
  cost?: number;
  algorithm?: ChallengeAlgorithm;
  ttlSeconds?: number;
  replayStore: OnceStore;
  clock?: Clock;
};

export type Challenger = {
  /** The challenge JSON for the widget (`GET` the challenge URL). */
  issue(): Promise<Challenge>;
  /** True exactly once for a valid, unexpired, untampered solution; false for anything else, never throws on input. */
  verify(payload: unknown): Promise<boolean>;
};

export const CHALLENGE_DEFAULTS = { algorithm: 'PBKDF2/SHA-256', maxNumber: 5_000, cost: 1_000, ttlSeconds: 300 } as const;

const DERIVE_KEY: Record<ChallengeAlgorithm, DeriveKeyFunction> = { 'PBKDF2/SHA-256': pbkdf2, 'SHA-256': sha };

/** Largest payload accepted (a real one is ~600 bytes base64): parsing stays cheap for garbage. */
const MAX_PAYLOAD_CHARS = 4096;

const hex = z.string().regex(/^[0-9a-f]+$/).max(1024);
const payloadSchema = z.object({
  challenge: z.object({
    parameters: z
      .object({
        algorithm: z.string().max(32),
        nonce: hex,
        salt: hex,
        cost: z.number().int().positive(),
        keyLength: z.number().int().positive().max(64),
        keyPrefix: hex,
        keySignature: hex.optional(),
        expiresAt: z.number().int().positive().optional(),
        memoryCost: z.number().int().positive().optional(),
        parallelism: z.number().int().positive().optional(),
        data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
      })
      .strict(),
    signature: hex,
  }),
  solution: z.object({ counter: z.number().int().nonnegative(), derivedKey: hex, time: z.number().optional() }),
});

function decodePayload(payload: unknown): z.infer<typeof payloadSchema> | undefined {
  let candidate: unknown = payload;
  if (typeof payload === 'string') {
    if (payload.length > MAX_PAYLOAD_CHARS || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(payload)) return undefined;
    try {
      candidate = JSON.parse(Buffer.from(payload, 'base64').toString('utf8'));
    } catch {
      return undefined;
    }
  }
  const parsed = payloadSchema.safeParse(candidate);
  return parsed.success ? parsed.data : undefined;
}

export function createChallenger(options: ChallengerOptions): Challenger {
  if (options.hmacKey.length < 32) throw new Error('ALTCHA hmacKey must be at least 32 characters');
  const algorithm = options.algorithm ?? CHALLENGE_DEFAULTS.algorithm;
  const maxNumber = options.maxNumber ?? CHALLENGE_DEFAULTS.maxNumber;
  const cost = options.cost ?? CHALLENGE_DEFAULTS.cost;
  const ttlSeconds = options.ttlSeconds ?? CHALLENGE_DEFAULTS.ttlSeconds;
  const clock = options.clock ?? systemClock;
  if (!Number.isInteger(maxNumber) || maxNumber < 2 || maxNumber > 0xffffffff) throw new Error('ALTCHA maxNumber must be an integer from 2 to 2^32-1');
  const deriveKey = DERIVE_KEY[algorithm];
  // Two purposes, two keys: the challenge signature and the expected-key signature.
  const signatureSecret = createHmac('sha256', options.hmacKey).update('rampart:altcha:challenge').digest('hex');
  const keySignatureSecret = createHmac('sha256', options.hmacKey).update('rampart:altcha:key').digest('hex');
  const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);

  return {
    issue: () =>
      createChallenge({
        algorithm,
        cost,
        counter: randomInt(maxNumber, Math.ceil(maxNumber / 2)),
        deriveKey,
        expiresAt: nowSeconds() + ttlSeconds,
        hmacSignatureSecret: signatureSecret,
        hmacKeySignatureSecret: keySignatureSecret,
      }),

    async verify(payload) {
      const decoded = decodePayload(payload);
      if (!decoded) return false;
      const { parameters, signature } = decoded.challenge;
      // Our own expiry check runs on the injected clock; altcha-lib checks again on process time.
      // A challenge without expiry or with a foreign algorithm was not issued here.
      if (parameters.algorithm !== algorithm || parameters.expiresAt === undefined || parameters.expiresAt <= nowSeconds()) return false;
      try {
        const result = await verifySolution({
          challenge: { parameters, signature },
          solution: decoded.solution,
          deriveKey,
          hmacSignatureSecret: signatureSecret,
          hmacKeySignatureSecret: keySignatureSecret,
        });
        if (!result.verified) return false;
      } catch {
        return false;
      }
      // Claimed only after verification, so garbage cannot fill the store.
      return options.replayStore.claim(`altcha:${signature}`, parameters.expiresAt - nowSeconds() + 1);
    },
  };
}

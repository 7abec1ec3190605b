import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import type { OnceStore } from '../throttle/index.js';

/**
 * DPoP proof checks for requests to Rampart's API (RFC 9449, control ID-7): the proof is a JWT
 * signed by the key the token is bound to, names this method and URL, is fresh, is used once, and
 * carries the hash of the access token it accompanies. A stolen DPoP-bound token is useless
 * without the private key, which a browser client keeps non-extractable.
 */

const MAX_PROOF_AGE_SECONDS = 60;
const ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'];

export type DpopCheck = { proof: string | undefined; method: string; url: string; accessToken: string; boundJkt: string };

export async function verifyDpopProof(check: DpopCheck, replay: OnceStore, nowSeconds: number): Promise<boolean> {
  if (!check.proof || check.proof.length > 8192) return false;
  try {
    const { payload, protectedHeader } = await jwtVerify(check.proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ALGORITHMS, clockTolerance: 5, currentDate: new Date(nowSeconds * 1000) });
    if (!protectedHeader.jwk || (await calculateJwkThumbprint(protectedHeader.jwk)) !== check.boundJkt) return false;
    if (payload.htm !== check.method || typeof payload.htu !== 'string' || stripQuery(payload.htu) !== stripQuery(check.url)) return false;
    if (typeof payload.iat !== 'number' || Math.abs(nowSeconds - payload.iat) > MAX_PROOF_AGE_SECONDS) return false;
    const ath = createHash('sha256').update(check.accessToken).digest('base64url');
    if (payload.ath !== ath) return false;
    if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 256) return false;
    // One use per proof: a captured request cannot be replayed, not even within its minute.
    return await replay.claim(`dpop:${check.boundJkt}:${payload.jti}`, MAX_PROOF_AGE_SECONDS * 2);
  } catch {
    return false;
  }
}

const stripQuery = (url: string) => {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '';
  }
};

import { base64url, base64urlJson, randomToken, sha256 } from './crypto.js';

/**
 * DPoP (RFC 9449, control ID-7): the access and refresh tokens are bound to a key pair generated
 * here with `extractable: false`. Script can ask the browser to sign with the private key but can
 * never read it, so a token copied out of this page (by an extension, a log, a proxy) is useless
 * without the browser that holds the key. The key lives as long as the page: a reload signs in again.
 */

export type DpopKey = { privateKey: CryptoKey; publicJwk: { kty: string; crv: string; x: string; y: string } };

export async function createDpopKey(): Promise<DpopKey> {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
  return { privateKey: pair.privateKey, publicJwk: { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! } };
}

/** A proof for one request: method, URL without query, time, a unique id, and the token's hash. */
export async function dpopProof(key: DpopKey, input: { method: string; url: string; accessToken?: string; nonce?: string }): Promise<string> {
  const target = new URL(input.url);
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk };
  const payload = {
    jti: randomToken(16),
    htm: input.method.toUpperCase(),
    htu: `${target.origin}${target.pathname}`,
    iat: Math.floor(Date.now() / 1000),
    ...(input.accessToken ? { ath: await sha256(input.accessToken) } : {}),
    ...(input.nonce ? { nonce: input.nonce } : {}),
  };
  const signingInput = `${base64urlJson(header)}.${base64urlJson(payload)}`;
  // WebCrypto's ECDSA signature is r||s, exactly the JWS ES256 encoding.
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new TextEncoder().encode(signingInput));
  return `${signingInput}.${base64url(signature)}`;
}

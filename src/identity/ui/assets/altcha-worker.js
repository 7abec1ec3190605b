/* global self, crypto */
/**
 * ALTCHA proof of work (ID-10) in a Web Worker: finds the counter whose derived key starts with
 * the challenge's key prefix. Same derivation as altcha-lib v2: password = nonce bytes followed by
 * the counter as a big-endian uint32, key = PBKDF2(password, salt, cost, keyLength) or iterated
 * SHA-256(salt || password). WebCrypto only; no third party is contacted.
 */
'use strict';

const hexToBytes = (hex) => {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
};
const bytesToHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

async function deriveKey(parameters, salt, password) {
  const keyLength = parameters.keyLength || 32;
  if (parameters.algorithm.startsWith('PBKDF2/')) {
    const key = await crypto.subtle.importKey('raw', password, { name: 'PBKDF2' }, false, ['deriveBits']);
    const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', salt, iterations: parameters.cost, hash: parameters.algorithm.slice(7) }, key, keyLength * 8);
    return new Uint8Array(bits);
  }
  if (parameters.algorithm.startsWith('SHA-')) {
    let value = new Uint8Array(salt.length + password.length);
    value.set(salt, 0);
    value.set(password, salt.length);
    for (let i = 0; i < Math.max(1, parameters.cost); i += 1) value = new Uint8Array(await crypto.subtle.digest(parameters.algorithm, value));
    return value.slice(0, keyLength);
  }
  throw new Error('unsupported algorithm');
}

async function solve(challenge) {
  const parameters = challenge.parameters;
  const nonce = hexToBytes(parameters.nonce);
  const salt = hexToBytes(parameters.salt);
  const prefix = String(parameters.keyPrefix).toLowerCase();
  const password = new Uint8Array(nonce.length + 4);
  password.set(nonce, 0);
  const view = new DataView(password.buffer);
  const started = Date.now();
  for (let counter = 0; counter <= 0xffffffff; counter += 1) {
    view.setUint32(nonce.length, counter, false);
    const derived = bytesToHex(await deriveKey(parameters, salt, password));
    if (derived.startsWith(prefix)) return { counter, derivedKey: derived, time: Date.now() - started };
    if (parameters.expiresAt && Date.now() / 1000 > parameters.expiresAt) break;
  }
  return null;
}

self.addEventListener('message', async (event) => {
  try {
    const solution = await solve(event.data.challenge);
    self.postMessage(solution ? { solution } : { error: 'not solved' });
  } catch {
    self.postMessage({ error: 'not solved' });
  }
});

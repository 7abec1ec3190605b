import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';

/**
 * A software WebAuthn authenticator for in-process tests (ES256, attestation "none"): it builds
 * the same registration and assertion responses a browser would, so passkey flows run over
 * `inject()` without Chromium. Flags and counters can be forced to test refusals (no user
 * verification, a counter that goes backwards as a cloned authenticator's would).
 */

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor> | Record<string, never>;

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 256) return Buffer.from([(major << 5) | 24, length]);
  if (length < 65536) return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(length, 1);
  return b;
}

function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

type Credential = { id: Buffer; key: KeyObject; userHandle: string; counter: number };

export type SoftAuthenticator = {
  register(options: PublicKeyCredentialCreationOptionsJSON, flags?: { userVerified?: boolean }): RegistrationResponseJSON;
  assert(options: PublicKeyCredentialRequestOptionsJSON, flags?: { userVerified?: boolean; credentialId?: string; counter?: number }): AuthenticationResponseJSON;
  credentialIds(): string[];
};

export function softAuthenticator({ origin = 'http://localhost:3000', rpId = 'localhost' }: { origin?: string; rpId?: string } = {}): SoftAuthenticator {
  const credentials: Credential[] = [];
  const rpIdHash = createHash('sha256').update(rpId).digest();
  const flagsByte = (uv: boolean, attested: boolean) => 0x01 | (uv ? 0x04 : 0) | (attested ? 0x40 : 0);
  const counterBytes = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };

  return {
    register(options, { userVerified = true } = {}) {
      const id = randomBytes(16);
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const cose = cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
      const credentialData = Buffer.concat([Buffer.alloc(16), Buffer.from([id.length >> 8, id.length & 0xff]), id, cose]);
      const authData = Buffer.concat([rpIdHash, Buffer.from([flagsByte(userVerified, true)]), counterBytes(0), credentialData]);
      const attestationObject = cbor(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', {}], ['authData', authData]]));
      const clientDataJSON = JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false });
      credentials.push({ id, key: privateKey, userHandle: options.user.id, counter: 0 });
      return {
        id: b64url(id),
        rawId: b64url(id),
        type: 'public-key',
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
        response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'] },
      };
    },

    assert(options, { userVerified = true, credentialId, counter } = {}) {
      const allowed = options.allowCredentials?.map((c) => c.id);
      const credential = credentials.find((c) => (credentialId ? b64url(c.id) === credentialId : !allowed?.length || allowed.includes(b64url(c.id))));
      if (!credential) throw new Error('soft authenticator: no matching credential');
      credential.counter = counter ?? credential.counter + 1;
      const authData = Buffer.concat([rpIdHash, Buffer.from([flagsByte(userVerified, false)]), counterBytes(credential.counter)]);
      const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false }));
      const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientDataJSON).digest()]), credential.key);
      return {
        id: b64url(credential.id),
        rawId: b64url(credential.id),
        type: 'public-key',
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
        response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature), userHandle: credential.userHandle },
      };
    },

    credentialIds: () => credentials.map((c) => b64url(c.id)),
  };
}

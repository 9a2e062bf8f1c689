import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/*
 * A WebAuthn authenticator and client in Node, for tests: what a browser plus a
 * platform authenticator would hand to @simplewebauthn/browser's caller, as JSON.
 * ES256 keys (node:crypto), attestation "none", discoverable credentials. Everything a
 * real one does is the default; the options let a test play a broken or hostile
 * client (another origin, no user verification, a counter that does not move, the
 * wrong key, a forged challenge).
 */

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;
const COSE_ES256 = -7;
const AAGUID = Buffer.alloc(16);

/** One key pair the authenticator holds for a relying party. */
export interface SoftCredential {
  /** base64url, as the server stores it. */
  readonly id: string;
  readonly rpId: string;
  /** base64url of `user.id` from the creation options (returned as `userHandle`). */
  readonly userHandle: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The signature counter as of the last ceremony. */
  counter: number;
  /** How much each assertion moves the counter; 0 = an authenticator that keeps no counter. */
  readonly counterStep: number;
}

export interface RegistrationOptions {
  /** clientDataJSON.origin; default the authenticator's origin. */
  origin?: string;
  /** Leave out the UV flag (no PIN, no biometric). */
  userVerified?: boolean;
  /** The counter at creation (default 0). */
  counter?: number;
  /** Moved per assertion (default 1; 0 keeps it at 0 for ever). */
  counterStep?: number;
  /** Replace the challenge in clientDataJSON. */
  challenge?: string;
  /** Answer with this (already held) credential instead of making a new one: a replayed or duplicated registration. */
  credential?: SoftCredential;
  /** Ignore `excludeCredentials` (a real authenticator refuses with InvalidStateError). */
  ignoreExclusions?: boolean;
}

export interface AssertionOptions {
  /** Which credential to use; default the only one held for the RP ID (or allowed). */
  credential?: SoftCredential;
  origin?: string;
  userVerified?: boolean;
  /** Send exactly this counter (and remember it); default: the current one plus the step. */
  counter?: number;
  /** Send the current counter without moving it (a cloned key, or a replay). */
  keepCounter?: boolean;
  /** Sign with this key instead of the credential's own (default: its own). */
  signWith?: KeyObject;
  challenge?: string;
}

const b64url = (data: Uint8Array | string) => Buffer.from(data).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer;
}

/** A fresh P-256 key pair, e.g. for `signWith` (a signature by a key the server does not know). */
export function newKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** The COSE_Key (RFC 9052) of an EC2 P-256 public key, as authenticators put it in authenticatorData. */
function coseKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  return isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2], // kty: EC2
      [3, COSE_ES256], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
      [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
    ]),
  );
}

function clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin: string): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), 'utf8');
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];

  /** `origin`: the page the ceremonies run on by default, e.g. PUBLIC_URL. */
  constructor(readonly origin: string) {}

  /**
   * navigator.credentials.create(): a new discoverable credential for `options.rp.id`; `response`
   * is what @simplewebauthn/browser's startRegistration() resolves to, `credential` the key held.
   */
  createCredential(
    options: PublicKeyCredentialCreationOptionsJSON,
    opts: RegistrationOptions = {},
  ): { response: RegistrationResponseJSON; credential: SoftCredential } {
    if (!options.pubKeyCredParams.some((param) => param.alg === COSE_ES256))
      throw new Error('NotSupportedError: the relying party does not accept ES256');
    const rpId = options.rp.id ?? new URL(opts.origin ?? this.origin).hostname;
    const excluded = new Set((options.excludeCredentials ?? []).map((descriptor) => descriptor.id));
    if (
      !opts.ignoreExclusions &&
      this.credentials.some((held) => held.rpId === rpId && excluded.has(held.id))
    )
      throw new Error('InvalidStateError: this authenticator already holds an excluded credential');

    let credential = opts.credential;
    if (!credential) {
      const { privateKey, publicKey } = newKeyPair();
      credential = {
        id: b64url(randomBytes(32)),
        rpId,
        userHandle: options.user.id,
        privateKey,
        publicKey,
        counter: opts.counter ?? 0,
        counterStep: opts.counterStep ?? 1,
      };
      this.credentials.push(credential);
    }

    const rawId = Buffer.from(credential.id, 'base64url');
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(rawId.length);
    const flags = FLAG_UP | FLAG_AT | (opts.userVerified === false ? 0 : FLAG_UV);
    const authenticatorData = Buffer.concat([
      sha256(rpId),
      Buffer.from([flags]),
      uint32(credential.counter),
      AAGUID,
      idLength,
      rawId,
      coseKey(credential.publicKey),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, string>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', new Uint8Array(authenticatorData)],
      ]),
    );
    const clientDataJSON = clientData(
      'webauthn.create',
      opts.challenge ?? options.challenge,
      opts.origin ?? this.origin,
    );
    const transports: AuthenticatorTransport[] = ['internal', 'hybrid'];
    const response: RegistrationResponseJSON = {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        transports,
        publicKeyAlgorithm: COSE_ES256,
        publicKey: b64url(credential.publicKey.export({ format: 'der', type: 'spki' })),
        authenticatorData: b64url(authenticatorData),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
    return { response, credential };
  }

  /** navigator.credentials.get(), as JSON: an assertion over `options.challenge`. */
  getAssertion(
    options: PublicKeyCredentialRequestOptionsJSON,
    opts: AssertionOptions = {},
  ): AuthenticationResponseJSON {
    const rpId = options.rpId ?? new URL(opts.origin ?? this.origin).hostname;
    const credential =
      opts.credential ??
      this.pick(
        rpId,
        options.allowCredentials?.map((allowed) => allowed.id),
      );

    const counter =
      opts.counter ?? (opts.keepCounter ? credential.counter : credential.counter + credential.counterStep);
    credential.counter = counter;
    const flags = FLAG_UP | (opts.userVerified === false ? 0 : FLAG_UV);
    const authenticatorData = Buffer.concat([sha256(rpId), Buffer.from([flags]), uint32(counter)]);
    const clientDataJSON = clientData(
      'webauthn.get',
      opts.challenge ?? options.challenge,
      opts.origin ?? this.origin,
    );
    const signature = sign(
      'sha256',
      Buffer.concat([authenticatorData, sha256(clientDataJSON)]),
      opts.signWith ?? credential.privateKey,
    ); // DER, as WebAuthn wants for ES256
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authenticatorData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  private pick(rpId: string, allowed?: string[]): SoftCredential {
    const candidates = this.credentials.filter(
      (held) => held.rpId === rpId && (!allowed?.length || allowed.includes(held.id)),
    );
    if (candidates.length !== 1)
      throw new Error(
        `NotAllowedError: ${candidates.length} credentials for ${rpId} here; pass the one to use as \`credential\``,
      );
    return candidates[0];
  }
}

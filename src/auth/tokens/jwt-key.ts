import { createSecretKey, type KeyObject } from 'node:crypto';

/** JWT_SECRET as an HMAC key object (much cheaper for jsonwebtoken than a string). */
export function jwtKey(config: { secrets: { jwt: string } }): KeyObject {
  return createSecretKey(Buffer.from(config.secrets.jwt, 'utf8'));
}

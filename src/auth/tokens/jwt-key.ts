import { createSecretKey, type KeyObject } from 'node:crypto';
import type { AppConfig } from '../../config/app-config';

/** JWT_SECRET as an HMAC key object (much cheaper for jsonwebtoken than a string). */
export function jwtKey(config: AppConfig): KeyObject {
  return createSecretKey(Buffer.from(config.secrets.jwt, 'utf8'));
}

import { createHash, randomBytes } from 'node:crypto';

/**
 * The one recipe for the service's opaque secrets (refresh tokens, mailed-link
 * tokens, MFA steps, API keys): 256 bits from the CSPRNG, base64url, stored only as
 * their SHA-256. They are random, so a fast hash is enough: a slow one protects
 * guessable secrets, not these.
 */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

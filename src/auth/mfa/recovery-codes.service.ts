import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { sha256Hex } from '../../common/opaque-secrets';
import type { PublishingTransaction } from '../../database/invalidation-bus';
import { RecoveryCodesRepository } from './recovery-codes.repository';

/** Codes in a set, as the API document states it. */
export const RECOVERY_CODE_COUNT = 10;
// Crockford's base32 without the look-alikes: 16 characters carry 80 bits.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Upper case, no dashes or spaces: how a code is hashed, however it was typed. */
function normalise(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '');
}

function hashOf(code: string): string {
  return sha256Hex(normalise(code));
}

/**
 * Ten single-use recovery codes (80 random bits each, `XXXX-XXXX-XXXX-XXXX`), stored
 * only as SHA-256 (they are random, so a slow hash adds nothing); a new set voids
 * the old. They stand in for the TOTP code when the authenticator is lost.
 */
@Injectable()
export class RecoveryCodesService {
  constructor(private readonly codes: RecoveryCodesRepository) {}

  /** A new set, inside `tx`; the codes in clear, to show once. */
  async replace(userId: string, tx: PublishingTransaction): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => {
      const bytes = randomBytes(16);
      const chars = [...bytes].map((byte) => ALPHABET[byte % 32]).join('');
      return chars.match(/.{4}/g)!.join('-');
    });
    await this.codes.replace(userId, codes.map(hashOf), tx.manager);
    return codes;
  }

  /** Spends the code if it is one of the user's unused ones. */
  use(userId: string, code: string): Promise<boolean> {
    if (normalise(code).length !== 16) return Promise.resolve(false);
    return this.codes.use(userId, hashOf(code));
  }

  remaining(userId: string): Promise<number> {
    return this.codes.countUnused(userId);
  }

  async removeAll(userId: string, tx: PublishingTransaction): Promise<void> {
    await this.codes.deleteOfUser(userId, tx.manager);
  }
}

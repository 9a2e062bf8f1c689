import { createHmac, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { AppConfig } from '../config/app-config';

/** One canonical form for a password, whatever the keyboard or OS produced (NIST 800-63B). */
export function normalisePassword(password: string): string {
  return password.normalize('NFKC');
}

/**
 * The one place passwords are hashed and checked.
 *
 * bcrypt reads only the first 72 bytes of its input, so two long passwords that
 * share a prefix would both log in. Every password is therefore first reduced to
 * HMAC-SHA-256(PASSWORD_PEPPER, NFKC(password)), 44 base64 characters, and that
 * is what bcrypt hashes: no truncation, and a stolen hash table is useless without
 * the pepper, which lives outside the database.
 */
@Injectable()
export class PasswordService {
  private dummyHash?: Promise<string>;

  constructor(private readonly config: AppConfig) {}

  hash(password: string): Promise<string> {
    return bcrypt.hash(this.preHash(password), this.config.bcryptCost);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(this.preHash(password), hash);
  }

  /**
   * Spends one compare on a fixed hash at the configured cost, so that a login for
   * an unknown email takes as long as one with a wrong password.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummyHash ??= bcrypt.hash(randomBytes(16).toString('hex'), this.config.bcryptCost);
    await bcrypt.compare(this.preHash(password), await this.dummyHash);
    return false;
  }

  /** True when the hash was made with another cost than the configured one. */
  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) !== this.config.bcryptCost;
  }

  private preHash(password: string): string {
    return createHmac('sha256', this.config.secrets.passwordPepper)
      .update(normalisePassword(password), 'utf8')
      .digest('base64');
  }
}

import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { AppConfig } from '../config/app-config';

/** The one place passwords are hashed and checked. */
@Injectable()
export class PasswordService {
  private dummyHash?: Promise<string>;

  constructor(private readonly config: AppConfig) {}

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.config.bcryptCost);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(password, hash);
  }

  /**
   * Spends one compare on a fixed hash at the configured cost, so that a login for
   * an unknown email takes as long as one with a wrong password.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummyHash ??= bcrypt.hash(randomBytes(16).toString('hex'), this.config.bcryptCost);
    await bcrypt.compare(password, await this.dummyHash);
    return false;
  }

  /** True when the hash was made with another cost than the configured one. */
  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) !== this.config.bcryptCost;
  }
}

import { createHmac, randomBytes } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy, ServiceUnavailableException } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import pLimit from 'p-limit';
import { USERS_OPTIONS, type UsersOptions } from './users.options';
import { BcryptPool } from './bcrypt-pool';

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
 *
 * At most BCRYPT_CONCURRENCY hashes run at once (default: one per core), on
 * their own low-priority threads (BcryptPool), and at most BCRYPT_MAX_QUEUE wait
 * for a turn; more are refused with 503. Unbounded, a login flood would put more
 * CPU-bound threads than cores against the event loop, which would then answer
 * every other request late, and it would queue work without limit.
 */
@Injectable()
export class PasswordService implements OnModuleDestroy {
  private dummyHash?: Promise<string>;
  private readonly turns: pLimit.Limit;
  private readonly pool: BcryptPool;

  constructor(@Inject(USERS_OPTIONS) private readonly config: UsersOptions) {
    this.turns = pLimit(config.bcryptConcurrency);
    this.pool = new BcryptPool(config.bcryptConcurrency);
  }

  hash(password: string): Promise<string> {
    const input = this.preHash(password);
    return this.inTurn(() => this.pool.hash(input, this.config.bcryptCost));
  }

  verify(password: string, hash: string): Promise<boolean> {
    const input = this.preHash(password);
    return this.inTurn(() => this.pool.compare(input, hash));
  }

  /**
   * Spends one compare on a fixed hash at the configured cost, so that a login for
   * an unknown email takes as long as one with a wrong password.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    // Made once, in turn like any hash; a refusal (queue full) is not remembered.
    this.dummyHash ??= this.inTurn(() =>
      this.pool.hash(randomBytes(16).toString('hex'), this.config.bcryptCost),
    ).catch((error: unknown) => {
      this.dummyHash = undefined;
      throw error;
    });
    await this.verify(password, await this.dummyHash);
    return false;
  }

  /** True when the hash was made with another cost than the configured one. */
  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) !== this.config.bcryptCost;
  }

  onModuleDestroy(): Promise<void> {
    return this.pool.close();
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const { activeCount, pendingCount } = this.turns;
    if (activeCount + pendingCount >= this.config.bcryptConcurrency + this.config.bcryptMaxQueue)
      return Promise.reject(
        new ServiceUnavailableException('Too many password checks in progress; try again shortly'),
      );
    return this.turns(work);
  }

  private preHash(password: string): string {
    return createHmac('sha256', this.config.secrets.passwordPepper)
      .update(normalisePassword(password), 'utf8')
      .digest('base64');
  }
}

import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, IsNull, MoreThan } from 'typeorm';
import { TokenLogin } from './token-login.entity';
import { tableOf } from '../database/table-name';
import type { NewSignInHook } from './session-repository';

/** A token login to create. */
export interface NewTokenLogin {
  userId: string;
  expiresAt: Date;
  credentialVersion: number;
  ip: string | null;
  userAgent: string | null;
}

/** The `token_logins` table. */
@Injectable()
export class TokenLoginsRepository {
  private readonly newLoginHooks: NewSignInHook[] = [];

  // Hand-written SQL names its table as the metadata does (AuthModule's `schema` option).
  private get table(): string {
    return tableOf(this.dataSource, TokenLogin);
  }

  constructor(private readonly dataSource: DataSource) {}

  /** `hook` runs before each login is created, in its transaction (the caller's, which checked the credentials). */
  beforeCreate(hook: NewSignInHook): void {
    this.newLoginHooks.push(hook);
  }

  async create(login: NewTokenLogin, manager: EntityManager = this.dataSource.manager): Promise<TokenLogin> {
    for (const hook of this.newLoginHooks) await hook(manager, login.userId);
    return manager.save(manager.create(TokenLogin, login));
  }

  findById(id: string, manager: EntityManager = this.dataSource.manager): Promise<TokenLogin | null> {
    return manager.findOneBy(TokenLogin, { id });
  }

  /** Only what the bearer path checks. */
  findState(
    id: string,
  ): Promise<Pick<TokenLogin, 'id' | 'userId' | 'expiresAt' | 'revokedAt' | 'credentialVersion'> | null> {
    // TypeORM 1.x returns null when the selection leaves out the primary key.
    return this.dataSource.manager.findOne(TokenLogin, {
      select: { id: true, userId: true, expiresAt: true, revokedAt: true, credentialVersion: true },
      where: { id },
    });
  }

  /** The ids of the logins revoked after `since`. */
  async findRevokedSince(since: Date): Promise<string[]> {
    const revoked = await this.dataSource.manager.find(TokenLogin, {
      select: { id: true },
      where: { revokedAt: MoreThan(since) },
    });
    return revoked.map(({ id }) => id);
  }

  /** The user's login by its id, unless it is revoked. */
  findActiveOfUser(userId: string, id: string): Promise<TokenLogin | null> {
    return this.dataSource.manager.findOneBy(TokenLogin, { userId, id, revokedAt: IsNull() });
  }

  /**
   * The user's logins that are not revoked, not past their lifetime, and used within
   * the last `idleSeconds` (as `manager`'s transaction sees them).
   */
  findLiveOfUser(
    userId: string,
    idleSeconds: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<TokenLogin[]> {
    return manager
      .createQueryBuilder(TokenLogin, 'l')
      .where('l.user_id = :userId', { userId })
      .andWhere('l.revoked_at IS NULL')
      .andWhere('l.expires_at > now()')
      .andWhere(`l.last_used_at > now() - :loginIdleSeconds * interval '1 second'`, {
        loginIdleSeconds: idleSeconds,
      })
      .getMany();
  }

  /** Its `last_used_at` becomes the database's now. */
  /** Whether any token login is still live (the signing keys ask it once, at the switch to ES256). */
  async anyLive(manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    const rows = await manager.query<unknown[]>(
      `SELECT 1 FROM ${this.table} WHERE revoked_at IS NULL AND expires_at > now() LIMIT 1`,
    );
    return rows.length > 0;
  }

  /** The user proved a factor again on this login (a step-up). */
  async setAuthenticatedNow(id: string): Promise<void> {
    await this.dataSource.manager.update(TokenLogin, { id }, { authenticatedAt: () => 'now()' });
  }

  async markUsed(id: string, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.update(TokenLogin, { id }, { lastUsedAt: () => 'now()' });
  }

  async setCredentialVersion(
    id: string,
    userId: string,
    credentialVersion: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await manager.update(TokenLogin, { id, userId }, { credentialVersion });
  }

  /** Revokes those of `ids` not revoked yet, in one statement however many (one array parameter). */
  async revoke(ids: string[], manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager
      .createQueryBuilder()
      .update(TokenLogin)
      .set({ revokedAt: () => 'now()' })
      .where('id = ANY(:ids)', { ids })
      .andWhere({ revokedAt: IsNull() })
      .execute();
  }

  /** Revokes every login of the user not revoked yet but `keep`, in one statement however many. */
  async revokeAllOfUser(
    userId: string,
    keep?: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await manager
      .createQueryBuilder()
      .update(TokenLogin)
      .set({ revokedAt: () => 'now()' })
      .where('user_id = :userId AND revoked_at IS NULL', { userId })
      .andWhere('id IS DISTINCT FROM :keep', { keep: keep ?? null })
      .execute();
  }

  /**
   * Deletes up to `batch` logins, their refresh tokens with them (on delete cascade),
   * that are past their lifetime, revoked more than `revokedMs` ago, or unused for more
   * than `idleMs`; returns how many.
   */
  async deleteEnded(
    revokedMs: number,
    idleMs: number,
    batch: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<number> {
    const [, deleted] = await manager.query<[unknown[], number]>(
      `DELETE FROM ${this.table} WHERE id IN (
         SELECT id FROM ${this.table}
         WHERE expires_at < now() OR revoked_at < now() - $1 * interval '1 millisecond'
           OR last_used_at < now() - $2 * interval '1 millisecond'
         LIMIT $3)`,
      [revokedMs, idleMs, batch],
    );
    return deleted;
  }
}

import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { CookieSession } from './cookie-session.entity';
import { User } from '../users/user.entity';
import { tableOf } from '../database/table-name';
import { type NewCookieSession, type SavedCookieSession, SessionRepository } from './session-repository';

/** The `cookie_sessions` table: the sessions' store with SESSION_STORE=postgres (the default). */
@Injectable()
export class CookieSessionsRepository extends SessionRepository {
  // PostgreSQL's liveness is the invalidation feed's, which every cache checks already.
  readonly live = true;
  // Hand-written SQL names its tables as the metadata does (AuthModule's `schema` option).
  private get table(): string {
    return tableOf(this.dataSource, CookieSession);
  }

  private get users(): string {
    return tableOf(this.dataSource, User);
  }

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  onReset(): void {
    // PostgreSQL does not lose committed sessions.
  }

  findByHash(idHash: string): Promise<CookieSession | null> {
    return this.dataSource.manager.findOneBy(CookieSession, { idHash });
  }

  /** The user's session by its public handle. */
  findOfUser(userId: string, publicId: string): Promise<CookieSession | null> {
    return this.dataSource.manager.findOneBy(CookieSession, { userId, publicId });
  }

  /** The user's sessions neither past their absolute lifetime nor unused for longer than `idleMs`. */
  findLiveOfUser(
    userId: string,
    idleMs: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<CookieSession[]> {
    return manager
      .createQueryBuilder(CookieSession, 's')
      .where('s.user_id = :userId', { userId })
      .andWhere('s.absolute_expires_at > now()')
      .andWhere(`s.last_used_at > now() - :idleMs * interval '1 millisecond'`, { idleMs })
      .getMany();
  }

  saveIfCredentialsCurrent(session: NewCookieSession): Promise<SavedCookieSession | null> {
    return this.dataSource.transaction(async (manager) => {
      // The user's row first, then the hooks' locks: the order every sign-in takes them in.
      const [account] = await manager.query<{ stored: boolean }[]>(
        `SELECT EXISTS (SELECT 1 FROM ${this.table} WHERE id_hash = $3) AS stored
         FROM ${this.users} u WHERE u.id = $1 AND u.credential_version = $2 FOR SHARE OF u`,
        [session.userId, session.credentialVersion, session.idHash],
      );
      if (!account) return null;
      if (!account.stored) await this.runBeforeCreate(manager, session.userId);
      const [row] = await manager.query<
        { last_used_at: Date; absolute_expires_at: Date; inserted: boolean }[]
      >(
        `INSERT INTO ${this.table} (id_hash, user_id, data, ip, user_agent, absolute_expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + $6 * interval '1 millisecond')
         ON CONFLICT (id_hash) DO UPDATE
           SET data = excluded.data, user_id = excluded.user_id, ip = excluded.ip,
               user_agent = excluded.user_agent, last_used_at = now()
         RETURNING last_used_at, absolute_expires_at, (xmax = 0) AS inserted`,
        [session.idHash, session.userId, session.json, session.ip, session.userAgent, session.absoluteMs],
      );
      return {
        lastUsedAt: new Date(row.last_used_at),
        absoluteExpiresAt: new Date(row.absolute_expires_at),
        inserted: row.inserted,
      };
    });
  }

  async setLastUsedAt(idHash: string, lastUsedAt: Date): Promise<void> {
    await this.dataSource.manager.update(CookieSession, { idHash }, { lastUsedAt });
  }

  async delete(idHashes: string[], manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.delete(
      CookieSession,
      idHashes.map((idHash) => ({ idHash })),
    );
  }

  /** In one statement. */
  async deleteAllOfUser(userId: string, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.delete(CookieSession, { userId });
  }

  /**
   * Deletes up to `batch` sessions past their absolute lifetime or unused for longer
   * than `idleMs`; returns how many.
   */
  async deleteExpired(
    idleMs: number,
    batch: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<number> {
    const [, deleted] = await manager.query<[unknown[], number]>(
      `DELETE FROM ${this.table} WHERE id_hash IN (
         SELECT id_hash FROM ${this.table}
         WHERE absolute_expires_at < now() OR last_used_at < now() - $1 * interval '1 millisecond'
         LIMIT $2)`,
      [idleMs, batch],
    );
    return deleted;
  }
}

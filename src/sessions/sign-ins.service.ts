import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, IsNull, Repository } from 'typeorm';
import { InvalidationBus } from '../database/invalidation-bus';
import { CookieSession } from './cookie-session.entity';
import { PgSessionStore } from './pg-session.store';
import { TokenLogin } from './token-login.entity';

/** A user's sign-ins of both kinds (cookie sessions and token logins), and ending them. */
@Injectable()
export class SignInsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(CookieSession) private readonly sessions: Repository<CookieSession>,
    @InjectRepository(TokenLogin) private readonly logins: Repository<TokenLogin>,
    private readonly store: PgSessionStore,
    private readonly bus: InvalidationBus,
  ) {}

  /** Ends every sign-in of the user, on every instance, at once. */
  async revokeAll(userId: string): Promise<void> {
    const sessions = await this.sessions.find({ select: { idHash: true }, where: { userId } });
    await this.store.remove(...sessions.map((session) => session.idHash));
    const logins = await this.logins.find({ select: { id: true }, where: { userId, revokedAt: IsNull() } });
    await this.revokeLogins(logins.map((login) => login.id));
  }

  /** Their refresh tokens stop working, and their access tokens on next use, on every instance. */
  async revokeLogins(loginIds: string[]): Promise<void> {
    if (!loginIds.length) return;
    await this.dataSource.transaction(async (manager) => {
      await manager
        .createQueryBuilder()
        .update(TokenLogin)
        .set({ revokedAt: () => 'now()' })
        .whereInIds(loginIds)
        .andWhere({ revokedAt: IsNull() })
        .execute();
      await this.bus.publish(
        loginIds.map((key) => ({ kind: 'login', key })),
        manager,
      );
    });
  }
}

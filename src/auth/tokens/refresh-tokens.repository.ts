import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, IsNull } from 'typeorm';
import { RefreshToken } from './refresh-token.entity';

/** The `refresh_tokens` table: the tokens of each token login, by the hash of the token. */
@Injectable()
export class RefreshTokensRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(
    tokenHash: string,
    loginId: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await manager.insert(RefreshToken, { tokenHash, loginId });
  }

  findByHash(
    tokenHash: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<RefreshToken | null> {
    return manager.findOneBy(RefreshToken, { tokenHash });
  }

  /**
   * Marks the token used, in one statement, unless it was already: the id of its login
   * when this call spent it, undefined when it is unknown or was spent before.
   */
  async spend(
    tokenHash: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<string | undefined> {
    const spent = await manager
      .createQueryBuilder()
      .update(RefreshToken)
      .set({ usedAt: () => 'now()' })
      .where({ tokenHash, usedAt: IsNull() })
      .returning(['loginId'])
      .execute();
    return (spent.raw as { login_id: string }[])[0]?.login_id;
  }
}

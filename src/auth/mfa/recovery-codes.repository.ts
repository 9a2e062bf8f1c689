import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, IsNull } from 'typeorm';
import { tableOf } from '../../database/table-name';
import { RecoveryCode } from './recovery-code.entity';

/** The `recovery_codes` table. */
@Injectable()
export class RecoveryCodesRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get table(): string {
    return tableOf(this.dataSource, RecoveryCode);
  }

  /** The user's codes become exactly these (the old set is void). */
  async replace(userId: string, codeHashes: string[], manager: EntityManager): Promise<void> {
    await manager.delete(RecoveryCode, { userId });
    await manager.insert(
      RecoveryCode,
      codeHashes.map((codeHash) => ({ userId, codeHash })),
    );
  }

  /** Spends the code if it is the user's and unused; atomic (of two racing uses, one wins). */
  async use(
    userId: string,
    codeHash: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<boolean> {
    const [, updated] = await manager.query<[unknown[], number]>(
      `UPDATE ${this.table} SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
      [userId, codeHash],
    );
    return updated === 1;
  }

  countUnused(userId: string): Promise<number> {
    return this.dataSource.manager.countBy(RecoveryCode, { userId, usedAt: IsNull() });
  }

  async deleteOfUser(userId: string, manager: EntityManager): Promise<void> {
    await manager.delete(RecoveryCode, { userId });
  }
}

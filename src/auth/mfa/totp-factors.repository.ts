import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, IsNull, Not } from 'typeorm';
import { tableOf } from '../../database/table-name';
import { TotpFactor } from './totp-factor.entity';

/** The `totp_factors` table. */
@Injectable()
export class TotpFactorsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get table(): string {
    return tableOf(this.dataSource, TotpFactor);
  }

  findOfUser(userId: string): Promise<TotpFactor | null> {
    return this.dataSource.manager.findOneBy(TotpFactor, { userId });
  }

  findConfirmedOfUser(userId: string): Promise<TotpFactor | null> {
    return this.dataSource.manager.findOneBy(TotpFactor, { userId, confirmedAt: Not(IsNull()) });
  }

  /** A new pending seed, replacing a pending one (never a confirmed one: the caller checks). */
  async savePending(userId: string, secretSealed: string): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO ${this.table} (user_id, secret_sealed) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET secret_sealed = $2, confirmed_at = NULL, last_used_step = NULL,
         created_at = now()
       WHERE ${this.table}.confirmed_at IS NULL`,
      [userId, secretSealed],
    );
  }

  /**
   * Records `step` as used, if no code of this or a later step was accepted before:
   * false when one was (the code is being replayed, or raced). Atomic across instances.
   */
  async useStep(
    userId: string,
    step: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<boolean> {
    const [, updated] = await manager.query<[unknown[], number]>(
      `UPDATE ${this.table} SET last_used_step = $2
       WHERE user_id = $1 AND (last_used_step IS NULL OR last_used_step < $2)`,
      [userId, step],
    );
    return updated === 1;
  }

  async confirm(userId: string, manager: EntityManager): Promise<void> {
    await manager.update(TotpFactor, { userId }, { confirmedAt: () => 'now()' });
  }

  async delete(userId: string, manager: EntityManager): Promise<void> {
    await manager.delete(TotpFactor, { userId });
  }
}

import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { tableOf } from '../../database/table-name';
import type { SignInMethod } from '../../sessions/sign-in-method';
import { MfaLogin } from './mfa-login.entity';

/** The `mfa_logins` table: password logins waiting for their second step. */
@Injectable()
export class MfaLoginsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get table(): string {
    return tableOf(this.dataSource, MfaLogin);
  }

  async create(login: {
    tokenHash: string;
    userId: string;
    kind: SignInMethod;
    credentialVersion: number;
    ttlMs: number;
  }): Promise<void> {
    await this.dataSource.manager.insert(MfaLogin, {
      tokenHash: login.tokenHash,
      userId: login.userId,
      kind: login.kind,
      credentialVersion: login.credentialVersion,
      expiresAt: () => `now() + ${Math.round(login.ttlMs)} * interval '1 millisecond'`,
    });
  }

  /** The waiting login, if unexpired. */
  findUsable(tokenHash: string): Promise<MfaLogin | null> {
    return this.dataSource.manager
      .createQueryBuilder(MfaLogin, 'login')
      .where('login.tokenHash = :tokenHash', { tokenHash })
      .andWhere('login.expiresAt > now()')
      .getOne();
  }

  /** Spends it; false when another request spent it first. */
  async consume(id: string): Promise<boolean> {
    const [, deleted] = await this.dataSource.query<[unknown[], number]>(
      `DELETE FROM ${this.table} WHERE id = $1 AND expires_at > now()`,
      [id],
    );
    return deleted === 1;
  }

  async deleteExpired(batch: number, manager: EntityManager): Promise<number> {
    const [, deleted] = await manager.query<[unknown[], number]>(
      `DELETE FROM ${this.table} WHERE id IN (SELECT id FROM ${this.table} WHERE expires_at < now() LIMIT $1)`,
      [batch],
    );
    return deleted;
  }
}

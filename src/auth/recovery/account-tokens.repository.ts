import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, IsNull } from 'typeorm';
import { randomSecret, sha256Hex } from '../../common/opaque-secrets';
import { tableOf } from '../../database/table-name';
import { AccountToken, type AccountTokenPurpose } from './account-token.entity';

/** A token as the link carries it and as it is stored. */
export interface NewAccountToken {
  /** 256 random bits, base64url: goes into the mail, never into the database. */
  token: string;
  tokenHash: string;
}

export function newAccountToken(): NewAccountToken {
  const token = randomSecret();
  return { token, tokenHash: sha256Hex(token) };
}

export const hashAccountToken = sha256Hex;

/** The `account_tokens` table. */
@Injectable()
export class AccountTokensRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get table(): string {
    return tableOf(this.dataSource, AccountToken);
  }

  /** Stores a token, voiding every unused one of the user with the same purpose (the newest link wins). */
  async replace(
    manager: EntityManager,
    token: {
      userId: string;
      purpose: AccountTokenPurpose;
      tokenHash: string;
      ttlMs: number;
      newEmail?: string;
    },
  ): Promise<void> {
    await manager.update(
      AccountToken,
      { userId: token.userId, purpose: token.purpose, usedAt: IsNull() },
      { usedAt: () => 'now()' },
    );
    await manager.insert(AccountToken, {
      userId: token.userId,
      purpose: token.purpose,
      tokenHash: token.tokenHash,
      newEmail: token.newEmail ?? null,
      expiresAt: () => `now() + ${Math.round(token.ttlMs)} * interval '1 millisecond'`,
    });
  }

  /** The token if it can still be used (unspent, unexpired, of one of `purposes`). */
  findUsable(tokenHash: string, purposes: AccountTokenPurpose[]): Promise<AccountToken | null> {
    return this.dataSource.manager
      .createQueryBuilder(AccountToken, 'token')
      .where('token.tokenHash = :tokenHash', { tokenHash })
      .andWhere('token.purpose IN (:...purposes)', { purposes })
      .andWhere('token.usedAt IS NULL')
      .andWhere('token.expiresAt > now()')
      .getOne();
  }

  /**
   * Spends the token if it can still be used, atomically (of two requests racing with
   * one link, one wins); null when it cannot.
   */
  async consume(
    tokenHash: string,
    purposes: AccountTokenPurpose[],
    manager: EntityManager,
  ): Promise<{ userId: string; purpose: AccountTokenPurpose; newEmail: string | null } | null> {
    const [rows] = await manager.query<
      [{ user_id: string; purpose: AccountTokenPurpose; new_email: string | null }[], number]
    >(
      `UPDATE ${this.table} SET used_at = now()
       WHERE token_hash = $1 AND purpose = ANY($2) AND used_at IS NULL AND expires_at > now()
       RETURNING user_id, purpose, new_email`,
      [tokenHash, purposes],
    );
    const row = rows[0];
    return row ? { userId: row.user_id, purpose: row.purpose, newEmail: row.new_email } : null;
  }

  /** Tokens of the purpose made for the user within the last `withinMs`. */
  countRecent(userId: string, purpose: AccountTokenPurpose, withinMs: number): Promise<number> {
    return this.dataSource.manager
      .createQueryBuilder(AccountToken, 'token')
      .where('token.userId = :userId', { userId })
      .andWhere('token.purpose = :purpose', { purpose })
      .andWhere(`token.createdAt > now() - :withinMs * interval '1 millisecond'`, { withinMs })
      .getCount();
  }

  /** Deletes up to `batch` tokens expired more than `graceMs` ago (kept that long for the per-address limits). */
  async deleteExpired(graceMs: number, batch: number, manager: EntityManager): Promise<number> {
    const [, deleted] = await manager.query<[unknown[], number]>(
      `DELETE FROM ${this.table} WHERE id IN (
         SELECT id FROM ${this.table} WHERE expires_at < now() - $1 * interval '1 millisecond' LIMIT $2)`,
      [graceMs, batch],
    );
    return deleted;
  }
}

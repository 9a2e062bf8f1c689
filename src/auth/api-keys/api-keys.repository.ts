import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, IsNull } from 'typeorm';
import { tableOf } from '../../database/table-name';
import { ApiKey } from './api-key.entity';

/** The `api_keys` table. */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly dataSource: DataSource) {}

  async create(
    key: Pick<ApiKey, 'userId' | 'name' | 'prefix' | 'keyHash' | 'roles' | 'expiresAt'>,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<ApiKey> {
    const { identifiers } = await manager.insert(ApiKey, key);
    return manager.findOneByOrFail(ApiKey, { id: (identifiers[0] as { id: string }).id });
  }

  findByHash(keyHash: string): Promise<ApiKey | null> {
    return this.dataSource.manager.findOneBy(ApiKey, { keyHash });
  }

  /** The user's keys that are not revoked (expired ones included), newest first. */
  findOfUser(userId: string): Promise<ApiKey[]> {
    return this.dataSource.manager.find(ApiKey, {
      where: { userId, revokedAt: IsNull() },
      order: { createdAt: 'DESC' },
    });
  }

  /** How many keys `findOfUser` lists. */
  countOfUser(userId: string, manager: EntityManager): Promise<number> {
    return manager.countBy(ApiKey, { userId, revokedAt: IsNull() });
  }

  /** Revokes the user's key `id`; its hash (for the caches), or undefined when the user has no such live key. */
  async revoke(userId: string, id: string, manager: EntityManager): Promise<string | undefined> {
    const [rows] = await manager.query<[{ key_hash: string }[], number]>(
      `UPDATE ${this.table} SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING key_hash`,
      [id, userId],
    );
    return rows[0]?.key_hash;
  }

  async markUsed(id: string): Promise<void> {
    await this.dataSource.manager.update(ApiKey, { id }, { lastUsedAt: () => 'now()' });
  }

  /** Hashes of keys revoked since `since`, for a cache that (re)connects. */
  async findRevokedSince(since: Date): Promise<string[]> {
    const rows = await this.dataSource.query<{ key_hash: string }[]>(
      `SELECT key_hash FROM ${this.table} WHERE revoked_at >= $1`,
      [since],
    );
    return rows.map((row) => row.key_hash);
  }

  private get table(): string {
    return tableOf(this.dataSource, ApiKey);
  }
}

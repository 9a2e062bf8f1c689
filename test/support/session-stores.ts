import type { INestApplication } from '@nestjs/common';
import type { RedisClientType } from 'redis';
import { DataSource } from 'typeorm';
import { RedisConnection } from '../../src/redis/redis-connection';
import { redisSkipReason, testRedisEnv } from './redis-server';

export type SessionStoreName = 'postgres' | 'redis';

export interface SessionStoreCase {
  name: SessionStoreName;
  /**
   * What an app of this case adds to its environment: SESSION_STORE, and for redis the
   * shared test Redis under a key prefix of this case's own (every instance a test starts
   * with it shares that prefix, as the instances of one deployment do).
   */
  env: Record<string, string>;
}

/** The session stores to run against on this machine: postgres always, redis when there is a test Redis. */
export function sessionStores(): SessionStoreCase[] {
  const redis = testRedisEnv();
  const stores: SessionStoreCase[] = [{ name: 'postgres', env: { SESSION_STORE: 'postgres' } }];
  if (redis) stores.push({ name: 'redis', env: { SESSION_STORE: 'redis', ...redis } });
  return stores;
}

/** The case's environment under a Redis key prefix of its own: for apps that must share no counter or session. */
export function isolatedEnv(store: SessionStoreCase): Record<string, string> {
  return store.name === 'redis' ? { ...store.env, ...testRedisEnv() } : store.env;
}

/**
 * `describe.each` over sessionStores(), titled "<title> (SESSION_STORE=<name>)". Without a
 * test Redis the redis case is still listed, as a `describe.skip` whose title says why.
 */
export function describeEachSessionStore(title: string, body: (store: SessionStoreCase) => void): void {
  describe.each(sessionStores())(`${title} (SESSION_STORE=$name)`, body);
  const skipped = redisSkipReason();
  if (skipped)
    describe.skip(`${title} (SESSION_STORE=redis): ${skipped}`, () => body({ name: 'redis', env: {} }));
}

/** A stored cookie session as its store holds it. */
export interface StoredSessionRecord {
  idHash: string;
  userId: string | null;
  publicId: string;
  /** The user's credential version its sign-in read (0 when it has none). */
  credentialVersion: number;
}

/**
 * Reads what an app's session store holds straight from the store (the `cookie_sessions`
 * table, or the keys under the app's Redis prefix), not through the code under test.
 */
export class SessionStorage {
  constructor(
    private readonly app: INestApplication,
    private readonly store: SessionStoreName,
  ) {}

  /** Every stored session. */
  async all(): Promise<StoredSessionRecord[]> {
    if (this.store === 'postgres') {
      const rows = await this.app
        .get(DataSource)
        .query<{ id_hash: string; user_id: string | null; public_id: string; version: number | null }[]>(
          `SELECT id_hash, user_id, public_id, (data->>'credentialVersion')::int AS version FROM cookie_sessions`,
        );
      return rows.map((row) => ({
        idHash: row.id_hash,
        userId: row.user_id,
        publicId: row.public_id,
        credentialVersion: row.version ?? 0,
      }));
    }
    return this.redis(async (client, prefix) => {
      const keys = await client.keys(`${prefix}session:*`);
      const records = await Promise.all(keys.map((key) => client.hGetAll(key)));
      return keys.map((key, i) => ({
        idHash: key.slice(`${prefix}session:`.length),
        userId: records[i].userId || null,
        publicId: records[i].publicId,
        credentialVersion:
          (JSON.parse(records[i].data ?? '{}') as { credentialVersion?: number }).credentialVersion ?? 0,
      }));
    });
  }

  async find(idHash: string): Promise<StoredSessionRecord | undefined> {
    return (await this.all()).find((record) => record.idHash === idHash);
  }

  /** Everything the store keeps about sessions (Redis: every key under the prefix and its value), as text. */
  async dump(): Promise<string> {
    if (this.store === 'postgres') {
      const rows = await this.app
        .get(DataSource)
        .query<{ row: string }[]>('SELECT t::text AS row FROM cookie_sessions t');
      return rows.map((row) => row.row).join('\n');
    }
    return this.redis(async (client, prefix) => {
      const lines: string[] = [];
      for (const key of await client.keys(`${prefix}*`)) {
        const type = await client.type(key);
        const value =
          type === 'hash'
            ? await client.hGetAll(key)
            : type === 'zset'
              ? await client.zRange(key, 0, -1)
              : type === 'string'
                ? await client.get(key)
                : type;
        lines.push(`${key} ${JSON.stringify(value)}`);
      }
      return lines.join('\n');
    });
  }

  /** Redis only: the key of a session, and its time to live in ms (-2: no such key). */
  async ttlMs(idHash: string): Promise<number> {
    return this.redis((client, prefix) => client.pTTL(`${prefix}session:${idHash}`));
  }

  private redis<T>(work: (client: RedisClientType, prefix: string) => Promise<T>): Promise<T> {
    const connection = this.app.get(RedisConnection);
    return connection.run((client) => work(client, connection.key('')));
  }
}

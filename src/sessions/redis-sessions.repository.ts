import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RedisConnection } from '../redis/redis-connection';
import { UsersRepository } from '../users/users.repository';
import {
  type NewCookieSession,
  type SavedCookieSession,
  SessionRepository,
  type StoredSession,
  touchIntervalMs,
} from './session-repository';
import { SESSIONS_OPTIONS, type SessionsOptions } from './sessions.options';

/*
 * Keys, under the deployment's REDIS_KEY_PREFIX:
 *   session:<sha256 of the id>  a hash: publicId, userId, data (JSON), createdAt,
 *                               lastUsedAt, absoluteExpiresAt (ms), ip, userAgent;
 *                               it expires by itself at the earlier of its absolute
 *                               end and its idle end, counted from its last written
 *                               use plus the touch interval (uses seen in memory are
 *                               written at most that often; the store itself checks
 *                               the idle timeout against the latest one).
 *   user-sessions:<user id>     the user's index: a sorted set of session hashes
 *                               scored by their absolute end, expiring with the last.
 * Each change is one Lua script, so a session and its index never disagree. The
 * scripts build session keys from the index's members: one Redis (or a primary with
 * replicas), not Redis Cluster.
 */

/** KEYS: session, index. ARGV: now, absoluteMs, idle lifetime (ms), new publicId, userId, data, ip, userAgent, hash. */
const SAVE = `
local now = tonumber(ARGV[1])
local inserted = redis.call('HSETNX', KEYS[1], 'publicId', ARGV[4])
if inserted == 1 then
  redis.call('HSET', KEYS[1], 'createdAt', ARGV[1], 'absoluteExpiresAt', now + tonumber(ARGV[2]))
end
redis.call('HSET', KEYS[1], 'userId', ARGV[5], 'data', ARGV[6], 'lastUsedAt', ARGV[1], 'ip', ARGV[7], 'userAgent', ARGV[8])
local absolute = tonumber(redis.call('HGET', KEYS[1], 'absoluteExpiresAt'))
redis.call('PEXPIREAT', KEYS[1], math.min(absolute, now + tonumber(ARGV[3])))
redis.call('ZADD', KEYS[2], absolute, ARGV[9])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local ttl = redis.call('PTTL', KEYS[2])
if ttl < 0 or now + ttl < absolute then redis.call('PEXPIREAT', KEYS[2], absolute) end
return { inserted, absolute }`;

/** KEYS: session. ARGV: lastUsedAt, idle lifetime (ms). */
const TOUCH = `
local absolute = redis.call('HGET', KEYS[1], 'absoluteExpiresAt')
if not absolute then return 0 end
redis.call('HSET', KEYS[1], 'lastUsedAt', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], math.min(tonumber(absolute), tonumber(ARGV[1]) + tonumber(ARGV[2])))
return 1`;

/** KEYS: sessions. ARGV: the index key's prefix, each session's hash (in KEYS' order). */
const DELETE = `
for i, key in ipairs(KEYS) do
  local user = redis.call('HGET', key, 'userId')
  redis.call('DEL', key)
  if user then redis.call('ZREM', ARGV[1] .. user, ARGV[i + 1]) end
end
return #KEYS`;

/** KEYS: index. ARGV: the session key's prefix. */
const DELETE_ALL = `
local hashes = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, hash in ipairs(hashes) do redis.call('DEL', ARGV[1] .. hash) end
redis.call('DEL', KEYS[1])
return #hashes`;

/**
 * Cookie sessions in Redis (SESSION_STORE=redis), for deployments that would rather
 * not write session use to PostgreSQL. Written on node-redis rather than with
 * connect-redis because that store keys sessions by their id in clear, knows one
 * expiry and has no per-user index, which listing and ending a user's sessions need.
 * Creating a session still share-locks the user's row in PostgreSQL (the source of
 * truth for credential versions), so a password change or logout-all cannot miss it.
 * Any Redis failure is a DependencyUnavailableError: 503, never another store.
 */
@Injectable()
export class RedisSessionsRepository extends SessionRepository {
  /** How long an unused key lives: the idle timeout, plus the touch interval (see the keys above). */
  private readonly idleLifetimeMs: number;

  constructor(
    private readonly redis: RedisConnection,
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    @Inject(SESSIONS_OPTIONS) config: SessionsOptions,
  ) {
    super();
    const idleMs = config.session.idleTimeoutMs;
    this.idleLifetimeMs = idleMs + touchIntervalMs(idleMs);
  }

  get live(): boolean {
    return this.redis.live;
  }

  onReset(listener: () => void): void {
    this.redis.onReset(listener);
  }

  async findByHash(idHash: string): Promise<StoredSession | null> {
    const fields = await this.redis.run((client) => client.hGetAll(this.sessionKey(idHash)));
    return toSession(idHash, fields);
  }

  async findOfUser(userId: string, publicId: string): Promise<StoredSession | null> {
    const sessions = await this.ofUser(userId, 0);
    return sessions.find((session) => session.publicId === publicId) ?? null;
  }

  async findLiveOfUser(userId: string, idleMs: number): Promise<StoredSession[]> {
    const now = Date.now();
    const sessions = await this.ofUser(userId, now);
    return sessions.filter((session) => now - session.lastUsedAt.getTime() <= idleMs);
  }

  saveIfCredentialsCurrent(session: NewCookieSession): Promise<SavedCookieSession | null> {
    return this.dataSource.transaction(async (manager) => {
      // Held until the session is in Redis: a credential change waits for it, then ends it.
      if (!(await this.users.lockIfCredentialsCurrent(session.userId, session.credentialVersion, manager)))
        return null;
      // Before the save: a session in Redis is listed at once, not at the commit.
      if (!(await this.redis.run((client) => client.exists(this.sessionKey(session.idHash)))))
        await this.runBeforeCreate(manager, session.userId);
      const now = Date.now();
      const [inserted, absoluteExpiresAt] = await this.redis.run(
        (client) =>
          client.eval(SAVE, {
            keys: [this.sessionKey(session.idHash), this.indexKey(session.userId)],
            arguments: [
              String(now),
              String(session.absoluteMs),
              String(this.idleLifetimeMs),
              randomUUID(),
              session.userId,
              session.json,
              session.ip ?? '',
              session.userAgent ?? '',
              session.idHash,
            ],
          }) as Promise<[number, number]>,
      );
      return {
        lastUsedAt: new Date(now),
        absoluteExpiresAt: new Date(absoluteExpiresAt),
        inserted: inserted === 1,
      };
    });
  }

  async setLastUsedAt(idHash: string, lastUsedAt: Date): Promise<void> {
    await this.redis.run((client) =>
      client.eval(TOUCH, {
        keys: [this.sessionKey(idHash)],
        arguments: [String(lastUsedAt.getTime()), String(this.idleLifetimeMs)],
      }),
    );
  }

  async delete(idHashes: string[]): Promise<void> {
    if (!idHashes.length) return;
    await this.redis.run((client) =>
      client.eval(DELETE, {
        keys: idHashes.map((hash) => this.sessionKey(hash)),
        arguments: [this.redis.key('user-sessions:'), ...idHashes],
      }),
    );
  }

  async deleteAllOfUser(userId: string): Promise<void> {
    await this.redis.run((client) =>
      client.eval(DELETE_ALL, { keys: [this.indexKey(userId)], arguments: [this.redis.key('session:')] }),
    );
  }

  /** The user's sessions still in Redis whose absolute end is after `after` (ms); drops dead index entries. */
  private async ofUser(userId: string, after: number): Promise<StoredSession[]> {
    const index = this.indexKey(userId);
    return this.redis.run(async (client) => {
      const hashes = await client.zRangeByScore(index, after, '+inf');
      // Issued together, they travel as one pipeline.
      const records = await Promise.all(hashes.map((hash) => client.hGetAll(this.sessionKey(hash))));
      const gone = hashes.filter((_, i) => !records[i].publicId);
      if (gone.length) await client.zRem(index, gone);
      return hashes
        .map((hash, i) => toSession(hash, records[i]))
        .filter((session): session is StoredSession => session !== null);
    });
  }

  private sessionKey(idHash: string): string {
    return this.redis.key(`session:${idHash}`);
  }

  private indexKey(userId: string): string {
    return this.redis.key(`user-sessions:${userId}`);
  }
}

function toSession(idHash: string, fields: Record<string, string>): StoredSession | null {
  if (!fields.publicId) return null;
  return {
    idHash,
    publicId: fields.publicId,
    userId: fields.userId || null,
    data: JSON.parse(fields.data) as object,
    createdAt: new Date(Number(fields.createdAt)),
    lastUsedAt: new Date(Number(fields.lastUsedAt)),
    absoluteExpiresAt: new Date(Number(fields.absoluteExpiresAt)),
    ip: fields.ip || null,
    userAgent: fields.userAgent || null,
  };
}

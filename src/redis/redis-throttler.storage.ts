import { Logger } from '@nestjs/common';
import { type ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import { DependencyUnavailableError } from '../common/dependency-unavailable';
import type { RedisConnection } from './redis-connection';

/**
 * One atomic step per request: count the hit (the window starts with the first), and
 * block the key for `blockDuration` once the count passes the limit. Returns the hits,
 * the window's and the block's remaining milliseconds.
 */
const INCREMENT = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
local blocked = redis.call('PTTL', KEYS[2])
if blocked < 0 and hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  blocked = tonumber(ARGV[3])
end
return { hits, ttl, blocked }`;

/** How often an outage is reported while it lasts. */
const WARN_EVERY_MS = 60_000;

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * @nestjs/throttler's counters in Redis, so that a per-IP limit holds across every
 * instance. Written here because the Redis storages on npm declare Nest ≤ 11 peers;
 * it is one Lua script. While Redis cannot be reached each instance counts on its
 * own (the in-memory storage, with a warning in the log): a Redis outage must not
 * take logins down, and the per-account lock in PostgreSQL still holds.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger(RedisThrottlerStorage.name);
  private readonly fallback = new ThrottlerStorageService();
  private warnedAt = 0;

  constructor(private readonly redis: RedisConnection) {}

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    try {
      const [hits, ttlLeft, blockLeft] = await this.redis.run(
        (client) =>
          client.eval(INCREMENT, {
            keys: [this.redis.key(`throttle:${key}`), this.redis.key(`throttle-block:${key}`)],
            arguments: [String(ttl), String(limit), String(blockDuration || ttl)],
          }) as Promise<[number, number, number]>,
      );
      return {
        totalHits: hits,
        timeToExpire: Math.ceil(ttlLeft / 1000),
        isBlocked: blockLeft > 0,
        timeToBlockExpire: Math.max(0, Math.ceil(blockLeft / 1000)),
      };
    } catch (error) {
      this.warn(error as Error);
      return this.fallback.increment(key, ttl, limit, blockDuration, throttlerName);
    }
  }

  private warn(error: Error): void {
    const now = Date.now();
    if (now - this.warnedAt < WARN_EVERY_MS) return;
    this.warnedAt = now;
    const cause = error instanceof DependencyUnavailableError ? error.detail : error.message;
    this.logger.warn(`${cause}: rate limits are counted per instance until Redis is back`);
  }
}

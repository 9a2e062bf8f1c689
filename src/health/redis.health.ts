import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RedisConnection } from '../redis/redis-connection';

/** `redis: up` when the shared Redis answers a PING in time (only checked when REDIS_URL is set). */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly redis: RedisConnection,
  ) {}

  get configured(): boolean {
    return this.redis.enabled;
  }

  async check(timeoutMs: number) {
    const session = this.indicator.check('redis');
    return (await this.redis.ping(timeoutMs)) ? session.up() : session.down();
  }
}

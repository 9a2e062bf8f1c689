import { type DynamicModule, Module } from '@nestjs/common';
import { registerOnce } from '../common/register-once';
import { RedisConnection } from './redis-connection';

const registered = new WeakMap<DynamicModule, DynamicModule>();

/**
 * The instance's Redis connection (REDIS_URL), shared by the throttler and the Redis
 * session store. `register(options)` takes a module that provides REDIS_OPTIONS.
 */
@Module({})
export class RedisModule {
  static register(options: DynamicModule): DynamicModule {
    return registerOnce(registered, options, () => ({
      module: RedisModule,
      imports: [options],
      providers: [RedisConnection],
      exports: [RedisConnection],
    }));
  }
}

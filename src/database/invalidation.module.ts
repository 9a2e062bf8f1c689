import { type DynamicModule, Module } from '@nestjs/common';
import { registerOnce } from '../common/register-once';
import { InvalidationBus } from './invalidation-bus';

const registered = new WeakMap<DynamicModule, DynamicModule>();

/**
 * The cross-instance invalidation feed, for every module that caches what another
 * instance may change. `options` is a module that provides INVALIDATION_OPTIONS.
 */
@Module({
  providers: [InvalidationBus],
  exports: [InvalidationBus],
})
export class InvalidationModule {
  static register(options: DynamicModule): DynamicModule {
    return registerOnce(registered, options, () => ({ module: InvalidationModule, imports: [options] }));
  }
}

import { Module } from '@nestjs/common';
import { InvalidationBus } from './invalidation-bus';

/** The cross-instance invalidation feed, for every module that caches what another instance may change. */
@Module({
  providers: [InvalidationBus],
  exports: [InvalidationBus],
})
export class InvalidationModule {}

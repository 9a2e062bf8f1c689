import { type DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DrainService } from './drain.service';
import { HealthController } from './health.controller';
import { RedisHealthIndicator } from './redis.health';

/** `GET /api/health` and the drain on shutdown. `register(auth)` takes the configured AuthModule (its Redis). */
@Module({})
export class HealthModule {
  static register(auth: DynamicModule): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule.forRoot({ logger: false }), auth],
      controllers: [HealthController],
      providers: [DrainService, RedisHealthIndicator],
      exports: [DrainService],
    };
  }
}

import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  type HealthIndicatorFunction,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Public } from '../auth/decorators/public.decorator';
import { DrainService } from './drain.service';
import { RedisHealthIndicator } from './redis.health';

const CHECK_TIMEOUT_MS = 2000;

@ApiTags('operations')
@Controller('api/health')
export class HealthController {
  private readonly checks: HealthIndicatorFunction[];

  constructor(
    private readonly health: HealthCheckService,
    database: TypeOrmHealthIndicator,
    redis: RedisHealthIndicator,
    private readonly drain: DrainService,
  ) {
    this.checks = [() => database.pingCheck('database', { timeout: CHECK_TIMEOUT_MS })];
    if (redis.configured) this.checks.push(() => redis.check(CHECK_TIMEOUT_MS));
  }

  /**
   * 503 while PostgreSQL (or, when configured, Redis) does not answer, and from the
   * moment the instance is asked to stop; the connections come back by themselves.
   */
  @Public()
  @Get()
  @HealthCheck()
  @ApiOkResponse({
    description:
      '`{ status: "ok", info: { database: { status: "up" }, redis: { status: "up" } } }` (redis when configured)',
  })
  @ApiServiceUnavailableResponse({
    description: '`{ statusCode: 503, error, message: "Unhealthy: database" }` (or `redis`, or `draining`)',
  })
  async check(): Promise<HealthCheckResult> {
    if (this.drain.draining) throw new ServiceUnavailableException('Unhealthy: draining');
    try {
      return await this.health.check(this.checks);
    } catch (error) {
      // Terminus puts driver messages (hosts, ports) in its 503 body: name the failing checks only.
      const failed = Object.keys((error as { response?: { error?: object } }).response?.error ?? {});
      throw new ServiceUnavailableException(`Unhealthy: ${failed.join(', ') || 'unknown'}`);
    }
  }
}

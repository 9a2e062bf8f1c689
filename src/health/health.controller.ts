import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/decorators/public.decorator';

@ApiTags('operations')
@Controller('api/health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
  ) {}

  /** 503 while PostgreSQL does not answer; the pool reconnects by itself once it is back. */
  @Public()
  @Get()
  @HealthCheck()
  @ApiOkResponse({ description: '`{ status: "ok", info: { database: { status: "up" } } }`' })
  @ApiServiceUnavailableResponse({ description: 'The database is unreachable' })
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.database.pingCheck('database', { timeout: 2000 })]);
  }
}

import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
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
  @ApiServiceUnavailableResponse({
    description: '`{ statusCode: 503, error, message: "Unhealthy: database" }`',
  })
  async check(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([() => this.database.pingCheck('database', { timeout: 2000 })]);
    } catch (error) {
      // Terminus puts driver messages (hosts, ports) in its 503 body: name the failing check only.
      const failed = Object.keys((error as { response?: { error?: object } }).response?.error ?? {});
      throw new ServiceUnavailableException(`Unhealthy: ${failed.join(', ') || 'unknown'}`);
    }
  }
}

import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { BuiltInRole } from '../roles/role-names';
import { Roles } from '../roles/roles.decorator';
import { AuditService } from './audit.service';
import { AuditEventResponse, AuditPageResponse, AuditQuery } from './dto/audit.dto';

@ApiTags('audit')
@Roles(BuiltInRole.Admin)
@Controller('api/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOkResponse({ type: AuditPageResponse, description: 'Newest first' })
  async list(@Query() query: AuditQuery): Promise<AuditPageResponse> {
    const { items, total } = await this.audit.search(query);
    return {
      items: items.map((event) => AuditEventResponse.from(event)),
      total,
      page: query.page,
      limit: query.limit,
    };
  }
}

import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { RoleResponse } from './dto/role.response';
import { BuiltInRole } from './role-names';
import { Roles } from './roles.decorator';
import { RolesService } from './roles.service';

@ApiTags('roles')
@Roles(BuiltInRole.Admin)
@Controller('api/roles')
export class RolesController {
  constructor(private readonly roles: RolesService) {}

  @Get()
  @ApiOkResponse({ type: [RoleResponse] })
  async list(): Promise<RoleResponse[]> {
    return (await this.roles.findAll()).map((role) => RoleResponse.from(role));
  }
}

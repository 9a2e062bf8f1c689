import { Body, Controller, Get, Post } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiTags } from '@nestjs/swagger';
import { CreateRoleDto } from './dto/create-role.dto';
import { RoleResponse } from './dto/role.response';
import { BuiltInRole } from './role-names';
import { MAX_ROLES } from './role.entity';
import { Roles } from './roles.decorator';
import { RolesService } from './roles.service';
import { ApiListResponse } from '../common/api-list-response.decorator';

@ApiTags('roles')
@Roles(BuiltInRole.Admin)
@Controller('api/roles')
export class RolesController {
  constructor(private readonly roles: RolesService) {}

  @Get()
  @ApiListResponse(RoleResponse, MAX_ROLES)
  async list(): Promise<RoleResponse[]> {
    return (await this.roles.findAll()).map((role) => RoleResponse.from(role));
  }

  @Post()
  @ApiCreatedResponse({ type: RoleResponse })
  @ApiConflictResponse({
    description: `A role with this name exists, or there are ${MAX_ROLES} roles already (built-in ones count)`,
  })
  async create(@Body() body: CreateRoleDto): Promise<RoleResponse> {
    return RoleResponse.from(await this.roles.create(body.name, body.description));
  }
}

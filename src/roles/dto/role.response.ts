import { ApiProperty } from '@nestjs/swagger';
import type { Role } from '../role.entity';
import { MAX_ROLE_DESCRIPTION_LENGTH } from './create-role.dto';
import { RoleNameProperty } from './role-name.field';

export class RoleResponse {
  @RoleNameProperty()
  name!: string;

  @ApiProperty({ example: 'Administrators', maxLength: MAX_ROLE_DESCRIPTION_LENGTH })
  description!: string;

  static from(role: Role): RoleResponse {
    return Object.assign(new RoleResponse(), { name: role.name, description: role.description });
  }
}

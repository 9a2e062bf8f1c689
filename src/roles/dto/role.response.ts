import { ApiProperty } from '@nestjs/swagger';
import type { Role } from '../role.entity';

export class RoleResponse {
  @ApiProperty({ example: 'admin' })
  name!: string;

  @ApiProperty({ example: 'Administrators' })
  description!: string;

  static from(role: Role): RoleResponse {
    return Object.assign(new RoleResponse(), { name: role.name, description: role.description });
  }
}

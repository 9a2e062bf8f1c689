import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { Omittable } from '../../common/fields';
import { RoleNameField } from './role-name.field';

/** roles.description is varchar(200). */
export const MAX_ROLE_DESCRIPTION_LENGTH = 200;

export class CreateRoleDto {
  @RoleNameField()
  name!: string;

  @ApiPropertyOptional({ maxLength: MAX_ROLE_DESCRIPTION_LENGTH })
  @Omittable()
  @IsString()
  @MaxLength(MAX_ROLE_DESCRIPTION_LENGTH)
  description?: string;
}

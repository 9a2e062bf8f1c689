import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { Omittable } from '../../common/fields';
import { RoleNameField } from './role-name.field';

export class CreateRoleDto {
  @RoleNameField()
  name!: string;

  @ApiPropertyOptional({ maxLength: 200 })
  @Omittable()
  @IsString()
  @MaxLength(200)
  description?: string;
}

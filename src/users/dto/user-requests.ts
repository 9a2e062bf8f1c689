import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';
import { NameField, Omittable } from '../../common/fields';
import { PageQuery } from '../../common/page-query';
import { RoleNamesField } from '../../roles/dto/role-name.field';

export class ListUsersQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Part of the email or name, case-insensitive', maxLength: 254 })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  q?: string;
}

export class UpdateMeDto {
  @NameField({ required: true })
  name!: string;
}

export class UpdateUserDto {
  @NameField()
  name?: string;

  @ApiPropertyOptional({ description: 'A disabled user is refused at login and on every sign-in at once' })
  @Omittable()
  @IsBoolean()
  disabled?: boolean;
}

export class SetRolesDto {
  @RoleNamesField({ example: ['user', 'admin'], description: '`user` is always kept' })
  roles!: string[];
}

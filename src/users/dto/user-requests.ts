import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { NameField, Omittable } from '../../common/fields';
import { PageQuery } from '../../common/page-query';
import { ROLE_NAME_PATTERN } from '../../roles/role.entity';

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
  @ApiProperty({ type: [String], example: ['user', 'admin'], description: '`user` is always kept' })
  @IsArray()
  @ArrayMaxSize(32)
  @IsString({ each: true })
  @Matches(ROLE_NAME_PATTERN, { each: true, message: 'each role must be a role name' })
  roles!: string[];
}

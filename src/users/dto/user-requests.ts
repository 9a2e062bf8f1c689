import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { NameField } from '../../common/fields';
import { ROLE_NAME_PATTERN } from '../../roles/role.entity';

export const MAX_PAGE_SIZE = 100;

export class ListUsersQuery {
  @ApiPropertyOptional({ minimum: 1, default: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page: number = 1;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit: number = 20;

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
  @IsOptional()
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

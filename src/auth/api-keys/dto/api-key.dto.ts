import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsDateString, IsString, Length, Matches } from 'class-validator';
import { Omittable } from '../../../common/fields';
import { ROLE_NAME_PATTERN } from '../../../roles/role.entity';
import type { ApiKey } from '../api-key.entity';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'nightly export', minLength: 1, maxLength: 100 })
  @IsString()
  @Length(1, 100)
  name!: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['user'],
    description:
      "At most the owner's roles (default: all of them); on each use, only those the owner still holds count",
  })
  @Omittable()
  @IsArray()
  @ArrayMaxSize(32)
  @IsString({ each: true })
  @Matches(ROLE_NAME_PATTERN, { each: true, message: 'each role must be a role name' })
  roles?: string[];

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'Refused after this; default: never',
  })
  @Omittable()
  @IsDateString({ strict: true }, { message: 'expiresAt must be an ISO-8601 date and time' })
  expiresAt?: string;
}

export class ApiKeyResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'nightly export' })
  name!: string;

  @ApiProperty({ type: [String], example: ['user'] })
  roles!: string[];

  @ApiProperty({
    example: 'nak_Xq3vR8wK',
    description: 'The first characters of the key, to tell keys apart',
  })
  prefix!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt!: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Precise to about a minute',
  })
  lastUsedAt!: string | null;

  static from(key: ApiKey): ApiKeyResponse {
    return Object.assign(new ApiKeyResponse(), {
      id: key.id,
      name: key.name,
      roles: key.roles,
      prefix: key.prefix,
      createdAt: key.createdAt.toISOString(),
      expiresAt: key.expiresAt?.toISOString() ?? null,
      lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    });
  }
}

export class CreatedApiKeyResponse extends ApiKeyResponse {
  @ApiProperty({
    example: 'nak_…',
    description: 'The key itself: shown only in this answer, send it as X-API-Key',
  })
  key!: string;
}

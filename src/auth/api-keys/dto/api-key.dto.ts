import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDateString, IsString, Length } from 'class-validator';
import { MAX_NAME_LENGTH, Omittable, OPAQUE_SECRET_LENGTH } from '../../../common/fields';
import { RoleNamesField, RoleNamesProperty } from '../../../roles/dto/role-name.field';
import type { ApiKey } from '../api-key.entity';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'nightly export', minLength: 1, maxLength: MAX_NAME_LENGTH })
  @IsString()
  @Length(1, MAX_NAME_LENGTH)
  name!: string;

  @RoleNamesField({
    optional: true,
    example: ['user'],
    description:
      "At most the owner's roles (default: all of them); on each use, only those the owner still holds count",
  })
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

  @ApiProperty({ example: 'nightly export', maxLength: MAX_NAME_LENGTH })
  name!: string;

  @RoleNamesProperty()
  roles!: string[];

  @ApiProperty({
    example: 'nak_Xq3vR8wK',
    description: 'The first characters of the key, to tell keys apart',
    // ApiKeysService keeps the first 12 (api_keys.prefix is varchar(16)).
    maxLength: 12,
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
    maxLength: 'nak_'.length + OPAQUE_SECRET_LENGTH,
  })
  key!: string;
}

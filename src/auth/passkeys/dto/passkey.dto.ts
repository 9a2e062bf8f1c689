import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsObject, IsString, MaxLength } from 'class-validator';
import { MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, Omittable } from '../../../common/fields';
import type { Passkey } from '../passkey.entity';

const WebAuthnResponseField = () =>
  applyDecorators(
    ApiProperty({
      type: 'object',
      additionalProperties: true,
      description: "The browser's credential, as @simplewebauthn/browser returns it (JSON)",
    }),
    IsObject(),
  );

export class PasskeyRegistrationDto {
  @WebAuthnResponseField()
  response!: Record<string, unknown>;

  @ApiPropertyOptional({ example: 'Laptop', maxLength: MAX_NAME_LENGTH })
  @Omittable()
  @IsString()
  @MaxLength(MAX_NAME_LENGTH)
  name?: string;
}

export class PasskeyAssertionDto {
  @WebAuthnResponseField()
  response!: Record<string, unknown>;
}

export class PasskeyOptionsDto {
  @ApiPropertyOptional({
    example: 'ada@example.com',
    maxLength: MAX_EMAIL_LENGTH,
    description: 'Email first: the challenge is then bound to that account',
  })
  @Omittable()
  @IsString()
  @MaxLength(MAX_EMAIL_LENGTH)
  @IsEmail({}, { message: 'email must be an email address' })
  email?: string;
}

export class PasskeyResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'Laptop', maxLength: MAX_NAME_LENGTH })
  name!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastUsedAt!: string | null;

  static from(passkey: Passkey): PasskeyResponse {
    return Object.assign(new PasskeyResponse(), {
      id: passkey.id,
      name: passkey.name,
      createdAt: passkey.createdAt.toISOString(),
      lastUsedAt: passkey.lastUsedAt?.toISOString() ?? null,
    });
  }
}

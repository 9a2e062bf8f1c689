import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsString, Length, MaxLength, ValidateIf } from 'class-validator';

/**
 * DTO fields described once: validation, transformation and OpenAPI together.
 * Every string field checks its type first, so an object or a number where a
 * string belongs is a 400, not a crash further in.
 */
/**
 * A body field that may be left out. Unlike class-validator's `@IsOptional()`,
 * which also lets `null` through, `null` is checked like any other value (so a
 * `null` where a string belongs is a 400, not a NOT NULL violation further in).
 */
export const Omittable = () => ValidateIf((_object: object, value: unknown) => value !== undefined);

const trim = Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));

/** The longest address SMTP carries (RFC 5321); users.email is varchar(254). */
export const MAX_EMAIL_LENGTH = 254;

/** The name of a user, an API key or a passkey: each column is varchar(100). */
export const MAX_NAME_LENGTH = 100;

/** Every randomSecret() (opaque-secrets.ts): 32 bytes in base64url, unpadded. */
export const OPAQUE_SECRET_LENGTH = 43;

export const EmailField = (property = 'email') =>
  applyDecorators(
    ApiProperty({ example: 'ada@example.com', maxLength: MAX_EMAIL_LENGTH }),
    trim,
    IsString(),
    MaxLength(MAX_EMAIL_LENGTH),
    IsEmail({}, { message: `${property} must be an email address` }),
  );

export const MAX_PASSWORD_LENGTH = 1024;

/**
 * A new password. Only its type and an upper bound are checked here; the password
 * rules (minimum length, common passwords) are PasswordPolicy's, as they depend on
 * configuration and on the account.
 */
export const NewPasswordField = () =>
  applyDecorators(
    ApiProperty({
      example: 'correct horse battery staple',
      maxLength: MAX_PASSWORD_LENGTH,
      description: 'At least PASSWORD_MIN_LENGTH (default 8) characters, any Unicode; not a common password',
    }),
    IsString(),
    MaxLength(MAX_PASSWORD_LENGTH),
  );

/** A password being checked: only its shape is validated (never its strength). */
export const PasswordField = ({ optional = false } = {}) =>
  applyDecorators(
    (optional ? ApiPropertyOptional : ApiProperty)({
      example: 'correct horse battery staple',
      maxLength: MAX_PASSWORD_LENGTH,
    }),
    ...(optional ? [Omittable()] : []),
    IsString(),
    Length(1, MAX_PASSWORD_LENGTH),
  );

/** A display name; optional unless `required`. */
export const NameField = ({ required = false } = {}) =>
  applyDecorators(
    (required ? ApiProperty : ApiPropertyOptional)({
      example: 'Ada Lovelace',
      minLength: 1,
      maxLength: MAX_NAME_LENGTH,
    }),
    ...(required ? [] : [Omittable()]),
    trim,
    IsString(),
    Length(1, MAX_NAME_LENGTH),
  );

/** A captcha widget's answer (checked by the captcha hook when CAPTCHA_PROVIDER is set). */
export const CaptchaTokenField = () =>
  applyDecorators(
    ApiPropertyOptional({
      description: "The captcha widget's answer, when CAPTCHA_PROVIDER is set",
      maxLength: 4096,
    }),
    Omittable(),
    IsString(),
    MaxLength(4096),
  );

/** An opaque token: bounded, so a huge string is a 400 before any hashing. */
export const OpaqueTokenField = () =>
  applyDecorators(ApiProperty({ example: 'k3Jt…', maxLength: 512 }), IsString(), Length(1, 512));

/** Where a request came from, in a response: clientInfo and AuditService keep at most 64 characters. */
export const IpAddressProperty = () => ApiProperty({ type: String, nullable: true, maxLength: 64 });

/** The client's User-Agent, in a response: clientInfo and AuditService keep at most 512 characters. */
export const UserAgentProperty = () => ApiProperty({ type: String, nullable: true, maxLength: 512 });

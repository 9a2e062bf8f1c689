import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  type ValidationArguments,
} from 'class-validator';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;

/** A whole number in a range, reported as one message whichever bound is broken. */
function IntegerInRange(min: number, max: number): PropertyDecorator {
  const message = ({ property }: ValidationArguments) =>
    `${property} must be a whole number from ${min} to ${max}`;
  return applyDecorators(Transform(toInt), IsInt({ message }), Min(min, { message }), Max(max, { message }));
}

/**
 * The environment as the operator writes it. Every variable here is listed, with a
 * comment, in `.env.example` and in the README's configuration table.
 */
export class EnvironmentVariables {
  @IsOptional()
  @IsIn(['development', 'production', 'test'])
  NODE_ENV?: string;

  @IsOptional()
  @IntegerInRange(0, 65535)
  PORT?: number;

  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: string;

  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/\S+$/, {
    message: 'DATABASE_URL must be a postgres:// or postgresql:// connection URL',
  })
  DATABASE_URL?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  EMBEDDED_POSTGRES_DIR?: string;

  // Two at least: the migration lock holds one connection while migrations use another.
  @IsOptional()
  @IntegerInRange(2, 100)
  DATABASE_POOL_SIZE?: number;

  @IsOptional()
  @IntegerInRange(1, 600)
  DATABASE_QUERY_TIMEOUT_SECONDS?: number;

  @IsOptional()
  @IntegerInRange(1, 60)
  INVALIDATION_FEED_TIMEOUT_SECONDS?: number;

  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// connection URL' })
  REDIS_URL?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_.:-]{0,64}$/, {
    message: 'REDIS_KEY_PREFIX must be up to 64 letters, digits, dots, colons, dashes or underscores',
  })
  REDIS_KEY_PREFIX?: string;

  @IsOptional()
  @IsIn(['postgres', 'redis'], { message: 'SESSION_STORE must be postgres or redis' })
  SESSION_STORE?: string;

  @IsOptional()
  @IntegerInRange(0, 300)
  SHUTDOWN_DELAY_SECONDS?: number;

  @IsOptional()
  @IntegerInRange(1, 600)
  SHUTDOWN_TIMEOUT_SECONDS?: number;

  @IsOptional()
  @IntegerInRange(1, 86_400)
  CACHE_MAX_AGE_SECONDS?: number;

  @IsOptional()
  @IsString()
  SESSION_SECRET?: string;

  @IsOptional()
  @IsString()
  JWT_SECRET?: string;

  @IsOptional()
  @IsString()
  PASSWORD_PEPPER?: string;

  @IsOptional()
  @IntegerInRange(8, 128)
  PASSWORD_MIN_LENGTH?: number;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, {
    message: 'SESSION_COOKIE_NAME must be 1-64 letters, digits, dots, dashes or underscores',
  })
  SESSION_COOKIE_NAME?: string;

  @IsOptional()
  @IntegerInRange(1, 30 * 24 * 3600)
  SESSION_IDLE_TIMEOUT_SECONDS?: number;

  @IsOptional()
  @IntegerInRange(1, 365 * 24 * 3600)
  SESSION_ABSOLUTE_TIMEOUT_SECONDS?: number;

  @IsOptional()
  @IntegerInRange(1, 24 * 3600)
  ACCESS_TOKEN_TTL_SECONDS?: number;

  @IsOptional()
  @IntegerInRange(1, 365 * 24 * 3600)
  TOKEN_LOGIN_TTL_SECONDS?: number;

  @IsOptional()
  @IntegerInRange(1, 365 * 24 * 3600)
  TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS?: number;

  @IsOptional()
  @Matches(/^\S{1,200}$/, { message: 'JWT_ISSUER must be 1-200 characters without spaces' })
  JWT_ISSUER?: string;

  @IsOptional()
  @Matches(/^\S{1,200}$/, { message: 'JWT_AUDIENCE must be 1-200 characters without spaces' })
  JWT_AUDIENCE?: string;

  @IsOptional()
  @IsIn(['ES256', 'HS256'], { message: 'JWT_ALGORITHM must be ES256 or HS256' })
  JWT_ALGORITHM?: string;

  @IsOptional()
  @IntegerInRange(1, 365)
  JWT_KEY_ROTATION_DAYS?: number;

  @IsOptional()
  @Matches(/^\s*[^\s@]+@[^\s@]+\.[^\s@]+\s*$/, { message: 'ADMIN_EMAIL must be an email address' })
  ADMIN_EMAIL?: string;

  @IsOptional()
  @IsString()
  @MinLength(8, { message: 'ADMIN_PASSWORD must be at least 8 characters long' })
  ADMIN_PASSWORD?: string;

  @IsOptional()
  @IsIn(['true', 'false'], { message: 'ADMIN_PROMOTE_EXISTING must be true or false' })
  ADMIN_PROMOTE_EXISTING?: string;

  @IsOptional()
  @IsString()
  TRUST_PROXY?: string;

  @IsOptional()
  @IsString()
  CORS_ORIGINS?: string;

  @IsOptional()
  @IntegerInRange(4, 31)
  BCRYPT_COST?: number;

  @IsOptional()
  @IntegerInRange(1, 1024)
  BCRYPT_CONCURRENCY?: number;

  @IsOptional()
  @IntegerInRange(0, 100_000)
  BCRYPT_MAX_QUEUE?: number;

  @IsOptional()
  @IntegerInRange(1, 100_000)
  AUTH_RATE_LIMIT?: number;

  @IsOptional()
  @IntegerInRange(0, 1_000_000_000)
  API_RATE_LIMIT?: number;

  @IsOptional()
  @IntegerInRange(1, 24 * 3600)
  API_RATE_WINDOW_SECONDS?: number;

  @IsOptional()
  @IntegerInRange(1, 24 * 3600)
  AUTH_RATE_WINDOW_SECONDS?: number;

  @IsOptional()
  @IntegerInRange(1, 1000)
  LOGIN_MAX_FAILURES?: number;

  @IsOptional()
  @IntegerInRange(1, 7 * 24 * 3600)
  LOGIN_FAILURE_WINDOW_SECONDS?: number;

  @IsOptional()
  @IntegerInRange(1, 100_000)
  LOGIN_MAX_DAILY_FAILURES?: number;

  @IsOptional()
  @IntegerInRange(0, 7 * 24 * 3600)
  CLEANUP_INTERVAL_SECONDS?: number;

  @IsOptional()
  @IsIn(['true', 'false'], { message: 'SWAGGER_ENABLED must be true or false' })
  SWAGGER_ENABLED?: string;

  @IsOptional()
  @Matches(/^https?:\/\/[^/?#\s]+$/, {
    message: 'PUBLIC_URL must be an origin such as https://auth.example.com (no path)',
  })
  PUBLIC_URL?: string;

  @IsOptional()
  @IsString()
  @Matches(/^[^\r\n<>]{1,100}$/, { message: 'SERVICE_NAME must be 1-100 characters on one line' })
  SERVICE_NAME?: string;

  @IsOptional()
  @Matches(/^smtps?:\/\/\S+$/, { message: 'SMTP_URL must be an smtp:// or smtps:// URL' })
  SMTP_URL?: string;

  @IsOptional()
  @Matches(/^[^\r\n]{3,200}$/, {
    message: 'MAIL_FROM must be an address such as "Auth <no-reply@example.com>"',
  })
  MAIL_FROM?: string;

  @IsOptional()
  @IntegerInRange(1, 100)
  MAIL_MAX_ATTEMPTS?: number;

  @IsOptional()
  @IntegerInRange(1, 3600)
  MAIL_RETRY_BASE_SECONDS?: number;

  @IsOptional()
  @IsIn(['off', 'optional', 'required'], { message: 'EMAIL_VERIFICATION must be off, optional or required' })
  EMAIL_VERIFICATION?: string;

  @IsOptional()
  @IntegerInRange(1, 24 * 60)
  PASSWORD_RESET_TTL_MINUTES?: number;

  @IsOptional()
  @IntegerInRange(1, 30 * 24)
  EMAIL_VERIFICATION_TTL_HOURS?: number;

  @IsOptional()
  @IntegerInRange(1, 24 * 3600)
  REAUTH_MAX_AGE_SECONDS?: number;

  @IsOptional()
  @IsIn(['turnstile', 'hcaptcha', 'recaptcha'], {
    message: 'CAPTCHA_PROVIDER must be turnstile, hcaptcha or recaptcha',
  })
  CAPTCHA_PROVIDER?: string;

  @IsOptional()
  @IsString()
  CAPTCHA_SECRET?: string;

  @IsOptional()
  @IsString()
  CAPTCHA_SITE_KEY?: string;

  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'CAPTCHA_VERIFY_URL must be an http(s) URL' })
  CAPTCHA_VERIFY_URL?: string;
}

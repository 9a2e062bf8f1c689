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
}

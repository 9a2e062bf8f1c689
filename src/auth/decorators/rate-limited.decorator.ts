import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiTooManyRequestsResponse } from '@nestjs/swagger';

export const RATE_LIMIT_BUCKET = 'auth:rate-limit-bucket';

/**
 * Limits the route per client IP (AUTH_RATE_LIMIT per AUTH_RATE_WINDOW_SECONDS).
 * Routes naming the same bucket share one budget, so switching between them
 * (POST /session and POST /token) gains nothing.
 */
export const RateLimited = (bucket: 'login' | 'signup' | 'refresh' | 'password' | 'recovery') =>
  applyDecorators(
    SetMetadata(RATE_LIMIT_BUCKET, bucket),
    ApiTooManyRequestsResponse({
      description:
        'Too many requests from this client, or too many failed logins for this account; see Retry-After',
    }),
  );

import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const RATE_LIMIT_BUCKET = 'auth:rate-limit-bucket';

export const RATE_LIMIT_BUCKETS = ['login', 'signup', 'refresh', 'password', 'recovery'] as const;
export type RateLimitBucket = (typeof RATE_LIMIT_BUCKETS)[number];

/** The OpenAPI extension naming an operation's bucket; the document's 429 and headers are written from it. */
export const RATE_LIMIT_BUCKET_EXTENSION = 'x-rate-limit-bucket';

/**
 * Limits the route per client IP (AUTH_RATE_LIMIT per AUTH_RATE_WINDOW_SECONDS), on
 * top of the general budget every route has. Routes naming the same bucket share one
 * budget, so switching between them (POST /session and POST /token) gains nothing.
 */
export const RateLimited = (bucket: RateLimitBucket) =>
  applyDecorators(SetMetadata(RATE_LIMIT_BUCKET, bucket), ApiExtension(RATE_LIMIT_BUCKET_EXTENSION, bucket));

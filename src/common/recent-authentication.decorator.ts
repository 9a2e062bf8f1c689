import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const NEEDS_RECENT_AUTHENTICATION = 'auth:needs-recent-authentication';
/** The OpenAPI extension marking the route; the document's 403 is written from it. */
export const RECENT_AUTHENTICATION_EXTENSION = 'x-recent-authentication';

/**
 * A sensitive action: the caller must have proved a factor (signed in, or
 * POST /api/auth/reauth) within REAUTH_MAX_AGE_SECONDS, else 403
 * `reauthentication required`. The global AuthenticationGuard checks it; it lives
 * here so that any module's controllers can say it.
 */
export const RecentAuthentication = () =>
  applyDecorators(
    SetMetadata(NEEDS_RECENT_AUTHENTICATION, true),
    ApiExtension(RECENT_AUTHENTICATION_EXTENSION, true),
  );

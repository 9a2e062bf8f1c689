import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiSecurity } from '@nestjs/swagger';
import { APIKEY_SCHEME, BEARER_SCHEME, SESSION_SCHEME } from './security-schemes';
import type { AuthMethod } from '../auth-context';

export const AUTH_METHODS = 'auth:methods';

/**
 * Limits a route to these authentication methods (without it, all three are accepted).
 * Also writes the route's OpenAPI security requirement.
 */
export const Auth = (...methods: [AuthMethod, ...AuthMethod[]]) =>
  applyDecorators(
    SetMetadata(AUTH_METHODS, methods),
    ...methods.map((method) =>
      method === 'jwt'
        ? ApiBearerAuth(BEARER_SCHEME)
        : method === 'apikey'
          ? ApiSecurity(APIKEY_SCHEME)
          : ApiCookieAuth(SESSION_SCHEME),
    ),
  );

import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth } from '@nestjs/swagger';
import { BEARER_SCHEME, SESSION_SCHEME } from './security-schemes';
import type { SignInMethod } from '../../sessions/sign-in-method';

export const AUTH_METHODS = 'auth:methods';

/**
 * Limits a route to one authentication method (without it, both are accepted).
 * Also writes the route's OpenAPI security requirement.
 */
export const Auth = (method: SignInMethod) =>
  applyDecorators(
    SetMetadata(AUTH_METHODS, [method]),
    method === 'jwt' ? ApiBearerAuth(BEARER_SCHEME) : ApiCookieAuth(SESSION_SCHEME),
  );

import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const ALLOWS_UNVERIFIED = 'auth:allows-unverified';
/** The OpenAPI extension marking the route (no 403 for an unverified address). */
export const ALLOWS_UNVERIFIED_EXTENSION = 'x-allows-unverified';

/**
 * With EMAIL_VERIFICATION=required, a signed-in user whose address is not verified
 * reaches only the routes marked with this (who am I, sign-out, the ways to verify);
 * every other route answers 403 saying why.
 */
export const AllowUnverified = () =>
  applyDecorators(SetMetadata(ALLOWS_UNVERIFIED, true), ApiExtension(ALLOWS_UNVERIFIED_EXTENSION, true));

import { SetMetadata } from '@nestjs/common';

export const ALLOWS_UNVERIFIED = 'auth:allows-unverified';

/**
 * With EMAIL_VERIFICATION=required, a signed-in user whose address is not verified
 * reaches only the routes marked with this (who am I, sign-out, the ways to verify);
 * every other route answers 403 saying why.
 */
export const AllowUnverified = () => SetMetadata(ALLOWS_UNVERIFIED, true);

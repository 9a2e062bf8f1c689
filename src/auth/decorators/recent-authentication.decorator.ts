import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiForbiddenResponse } from '@nestjs/swagger';
import { RecentAuthenticationGuard } from '../guards/recent-authentication.guard';

/**
 * A sensitive action: the caller must have proved a factor (signed in, or
 * POST /api/auth/reauth) within REAUTH_MAX_AGE_SECONDS, else 403
 * `reauthentication required`.
 */
export const RecentAuthentication = () =>
  applyDecorators(
    UseGuards(RecentAuthenticationGuard),
    ApiForbiddenResponse({
      description: '`reauthentication required`: prove a factor with POST /api/auth/reauth, then retry',
    }),
  );

import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiForbiddenResponse } from '@nestjs/swagger';

export const REQUIRED_ROLES = 'auth:roles';

/** The caller needs one of these roles (after the hierarchy: admin implies user), else 403. */
export const Roles = (...roles: string[]) =>
  applyDecorators(
    SetMetadata(REQUIRED_ROLES, roles),
    ApiForbiddenResponse({ description: `Needs role: ${roles.join(' or ')}` }),
  );

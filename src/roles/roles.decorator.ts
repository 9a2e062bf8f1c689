import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const REQUIRED_ROLES = 'auth:roles';
/** The OpenAPI extension listing the roles; the document's 403 is written from it. */
export const REQUIRED_ROLES_EXTENSION = 'x-required-roles';

/** The caller needs one of these roles (after the hierarchy: admin implies user), else 403. */
export const Roles = (...roles: string[]) =>
  applyDecorators(SetMetadata(REQUIRED_ROLES, roles), ApiExtension(REQUIRED_ROLES_EXTENSION, roles));

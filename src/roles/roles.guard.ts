import { type CanActivate, type ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { RouteMetadata } from '../common/route-metadata';
import { effectiveRoles } from './role-names';
import { REQUIRED_ROLES } from './roles.decorator';

/** Global, after authentication: enforces `@Roles()` for both methods, on the user's current roles. */
@Injectable()
export class RolesGuard implements CanActivate {
  private readonly routes = new RouteMetadata(
    (targets) => this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_ROLES, targets) ?? [],
  );

  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const required = this.routes.of(context);
    if (!required.length) return true;
    const user = context.switchToHttp().getRequest<Request>().auth?.user;
    const roles = effectiveRoles(user?.roles.map((role) => role.name) ?? []);
    if (required.some((role) => roles.has(role))) return true;
    throw new ForbiddenException(`Requires role: ${required.join(' or ')}`);
  }
}

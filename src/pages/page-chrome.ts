import type { Request } from 'express';
import type { CsrfService } from '../auth/session/csrf.service';
import { BuiltInRole, effectiveRoles } from '../roles/role-names';

/**
 * What every page needs: the navigation state and, signed in, the session's CSRF
 * token (for the sign-out form and the signed-in forms). A visitor without a
 * sign-in gets none: that would create a session for nothing.
 */
export function pageChrome(req: Request, csrf: CsrfService): { csrfToken?: string; nav: object } {
  const user = req.auth?.method === 'session' ? req.auth.user : undefined;
  const isAdmin = user ? effectiveRoles(user.roles.map((role) => role.name)).has(BuiltInRole.Admin) : false;
  return { csrfToken: user ? csrf.token(req) : undefined, nav: { user, isAdmin } };
}

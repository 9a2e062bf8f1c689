import type { Request } from 'express';
import type { CsrfService } from '../auth/session/csrf.service';
import { BuiltInRole, effectiveRoles } from '../roles/role-names';

/** What every page needs: the navigation state and the session's CSRF token (created if needed). */
export function pageChrome(req: Request, csrf: CsrfService): { csrfToken: string; nav: object } {
  const user = req.auth?.user;
  const isAdmin = user ? effectiveRoles(user.roles.map((role) => role.name)).has(BuiltInRole.Admin) : false;
  return { csrfToken: csrf.token(req), nav: { user, isAdmin } };
}

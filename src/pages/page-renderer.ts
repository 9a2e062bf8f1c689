import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CsrfService } from '../auth/session/csrf.service';
import { BuiltInRole, effectiveRoles } from '../roles/role-names';

/** What a page says when a form sends the browser back to it with `?status=`. */
const NOTICES = new Map([
  ['name-saved', 'Name saved.'],
  ['password-changed', 'Password changed. Your other sign-ins were ended.'],
  ['user-updated', 'User updated.'],
  ['verification-sent', 'A verification link was mailed to the user.'],
  ['second-factors-reset', "The user's second factors were removed; they were told by mail."],
]);

const ERROR_PAGES: Record<number, { heading: string; message: string }> = {
  403: {
    heading: 'Forbidden',
    message: 'You are not allowed to do this, or the form expired: reload the page and try again.',
  },
  404: { heading: 'Not found', message: 'There is no such page.' },
  409: { heading: 'Not possible', message: 'This change is not possible right now.' },
  429: { heading: 'Too many attempts', message: 'Too many attempts: wait a little and try again.' },
  503: { heading: 'Unavailable', message: 'The service is unavailable for a moment: try again shortly.' },
};

/**
 * Renders every page, error pages too, inside the layout with what the layout
 * needs: the navigation state and, signed in, the session's CSRF token (for the
 * sign-out form and the signed-in forms). A visitor without a sign-in gets none:
 * that would create a session for nothing.
 */
@Injectable()
export class PageRenderer {
  constructor(private readonly csrf: CsrfService) {}

  render(req: Request, res: Response, view: string, locals: Record<string, unknown>, status = 200): void {
    res.status(status).render(view, { ...locals, ...this.chrome(req) });
  }

  /** A page whose form is posted before a sign-in: its token lives in a cookie, not a session. */
  renderAnonymousForm(
    req: Request,
    res: Response,
    view: string,
    locals: Record<string, unknown>,
    status = 200,
  ): void {
    const anonymousCsrfToken = this.csrf.anonymousFormToken(req, res);
    this.render(req, res, view, { ...locals, anonymousCsrfToken }, status);
  }

  renderError(req: Request, res: Response, status: number): void {
    const page = ERROR_PAGES[status] ?? { heading: 'Something went wrong', message: 'Please try again.' };
    this.render(req, res, 'error', { title: page.heading, ...page }, status);
  }

  /**
   * A page answering 429 says when to come back, as the API does (HttpExceptionFilter):
   * the account lock's exception carries the seconds.
   */
  retryAfter(res: Response, error: unknown): void {
    const seconds = (error as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
    if (typeof seconds === 'number') res.setHeader('Retry-After', String(seconds));
  }

  /** A Map, not an object: `?status=constructor` must find nothing. */
  notice(status: string | undefined): string | undefined {
    return typeof status === 'string' ? NOTICES.get(status) : undefined;
  }

  private chrome(req: Request): { csrfToken?: string; nav: object } {
    const user = req.auth?.method === 'session' ? req.auth.user : undefined;
    const isAdmin = user ? effectiveRoles(user.roles.map((role) => role.name)).has(BuiltInRole.Admin) : false;
    return { csrfToken: user ? this.csrf.token(req) : undefined, nav: { user, isAdmin } };
  }
}

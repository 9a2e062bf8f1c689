import { createHmac } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { doubleCsrf, type DoubleCsrfUtilities } from 'csrf-csrf';
import { csrfSync } from 'csrf-sync';
import type { Request, Response } from 'express';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import '../../sessions/session-data';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The anonymous form cookie lives an hour from the last form view: a fixed bound,
 * where a browser-session cookie can outlive days of "restore my tabs". A form left
 * open longer gets the 403 page, which says to reload it.
 */
const ANONYMOUS_FORM_TOKEN_TTL_MS = 60 * 60 * 1000;

/**
 * CSRF protection, two mechanisms:
 *
 * - **session token** (`token`, `isSatisfied`), for everything signed in by cookie:
 *   a synchronizer token (csrf-sync), one random token per session kept in the
 *   session, sent back in `X-CSRF-Token` or a `_csrf` form field. A bearer token is
 *   not sent by the browser on its own, so bearer requests need none.
 * - **anonymous form token** (`anonymousFormToken`, `isAnonymousFormTokenValid`),
 *   for the forms shown before a sign-in (sign-in, sign-up): a signed double-submit
 *   token (csrf-csrf) in a short-lived cookie and in the form's `_csrf` field, the
 *   two compared. It needs no server-side state, so a visitor without a session
 *   writes nothing, however many pages it asks for; the session is made at sign-in.
 *   Another site can neither read the cookie nor, `SameSite=Strict` and `__Host-`
 *   (production) aside, set it; the HMAC makes a value this server did not issue
 *   worthless.
 */
@Injectable()
export class CsrfService {
  private readonly session = csrfSync({
    size: 32,
    getTokenFromRequest: (req) => {
      const header = req.headers['x-csrf-token'];
      return typeof header === 'string' ? header : formField(req);
    },
    // A request without a session (one that skipped express-session) has no token.
    getTokenFromState: (req) => req.session?.csrfToken,
    storeTokenInState: (req, token) => {
      req.session.csrfToken = token;
    },
  });

  private readonly anonymous: DoubleCsrfUtilities;

  constructor(@Inject(AUTH_OPTIONS) config: AuthOptions) {
    // Its own key, derived from the session secret, so that the raw secret signs nothing else.
    const key = createHmac('sha256', config.secrets.session)
      .update('csrf-csrf anonymous forms')
      .digest('hex');
    this.anonymous = doubleCsrf({
      getSecret: () => key,
      // There is no session to bind to: the token is bound to the cookie it travels with.
      getSessionIdentifier: () => '',
      // Secure cookies (production): the `__Host-` prefix, like the session cookie.
      cookieName: config.session.secureCookie ? '__Host-csrf' : 'csrf',
      cookieOptions: {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        secure: config.session.secureCookie,
        maxAge: ANONYMOUS_FORM_TOKEN_TTL_MS,
      },
      size: 32,
      getCsrfTokenFromRequest: formField,
    });
  }

  /** The session's token, created if it has none yet (or replaced, with `renew`). */
  token(req: Request, renew = false): string {
    return this.session.generateToken(req, renew);
  }

  isSatisfied(req: Request): boolean {
    return SAFE_METHODS.has(req.method) || this.session.isRequestValid(req);
  }

  /**
   * The token for a form shown to a visitor who may have no session; (re)sets its
   * cookie. A valid cookie is kept, so two tabs of forms both stay good.
   */
  anonymousFormToken(req: Request, res: Response): string {
    return this.anonymous.generateCsrfToken(req, res);
  }

  /** True when the `_csrf` field matches this browser's form cookie and was issued here. */
  isAnonymousFormTokenValid(req: Request): boolean {
    return this.anonymous.validateRequest(req);
  }
}

function formField(req: Request): string | undefined {
  const field = (req.body as Record<string, unknown> | undefined)?._csrf;
  return typeof field === 'string' ? field : undefined;
}

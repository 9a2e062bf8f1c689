import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import session from 'express-session';
import { SESSIONS_OPTIONS, type SessionsOptions } from './sessions.options';
import { SessionStore } from './session.store';

/**
 * express-session on the service's store (SessionStore). Nothing is stored until a session has
 * something in it (`saveUninitialized: false`), and an unchanged session is not
 * rewritten (`resave: false`); the store enforces both timeouts.
 *
 * A request that carries no session cookie, page or API, skips express-session
 * altogether (it would only generate and hash a session id to throw away: a third
 * of the cost of a bare API request). It then has no `req.session`, which every
 * reader allows for; a sign-in creates its session with `ensure`. So a visitor
 * without a session writes nothing (the anonymous forms' CSRF token needs no
 * session: see CsrfService).
 */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  private readonly handler: ReturnType<typeof session>;
  private readonly hasCookie: RegExp;

  constructor(@Inject(SESSIONS_OPTIONS) config: SessionsOptions, store: SessionStore) {
    this.hasCookie = new RegExp(`(?:^|;)\\s*${escapeRegExp(config.session.cookieName)}\\s*=`);
    this.handler = session({
      name: config.session.cookieName,
      secret: config.secrets.session,
      store,
      resave: false,
      saveUninitialized: false,
      rolling: false,
      // Sessions end only when asked (sign-out, a refused session). With 'destroy', a
      // request whose session could not be read (store down: 503) has no req.session
      // and express-session would delete the session as it ends: a valid user signed
      // out by an outage, and a failed delete cutting the kept-alive connection.
      unset: 'keep',
      cookie: {
        httpOnly: true,
        sameSite: 'lax',
        secure: config.session.secureCookie,
        path: '/',
        // The browser may keep it until the absolute lifetime; the store decides sooner.
        maxAge: config.session.absoluteTimeoutMs,
      },
    });
  }

  use(req: Request, res: Response, next: NextFunction): void {
    if (this.needsSession(req)) this.handler(req, res, next);
    else next();
  }

  /** Gives a request that skipped the middleware its (new, empty) session. */
  async ensure(req: Request): Promise<void> {
    if (req.session) return;
    await new Promise<void>((resolve, reject) =>
      this.handler(req, req.res!, (error?: unknown) => (error ? reject(toError(error)) : resolve())),
    );
  }

  private needsSession(req: Request): boolean {
    return this.hasCookie.test(req.headers.cookie ?? '');
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import session from 'express-session';
import { AppConfig } from '../config/app-config';
import { PgSessionStore } from './pg-session.store';

/**
 * express-session on the PostgreSQL store. Nothing is stored until a session has
 * something in it (`saveUninitialized: false`), and an unchanged session is not
 * rewritten (`resave: false`); the store enforces both timeouts.
 *
 * An API request that carries no session cookie skips express-session altogether
 * (it would only generate and hash a session id to throw away: a third of the
 * cost of a bare API request). It then has no `req.session`, which every reader
 * allows for. The pages, whose anonymous forms keep their CSRF token in a session,
 * always get one; the API login creates its session with `ensure`.
 */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  private readonly handler: ReturnType<typeof session>;
  private readonly hasCookie: RegExp;

  constructor(config: AppConfig, store: PgSessionStore) {
    this.hasCookie = new RegExp(`(?:^|;)\\s*${escapeRegExp(config.session.cookieName)}\\s*=`);
    this.handler = session({
      name: config.session.cookieName,
      secret: config.secrets.session,
      store,
      resave: false,
      saveUninitialized: false,
      rolling: false,
      unset: 'destroy',
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
    // Express matches routes case-insensitively: so does this test.
    return this.hasCookie.test(req.headers.cookie ?? '') || !API_PATH.test(req.originalUrl);
  }
}

const API_PATH = /^\/api(?:[/?]|$)/i;

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

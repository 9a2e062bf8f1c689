import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import session from 'express-session';
import { AppConfig } from '../config/app-config';
import { PgSessionStore } from './pg-session.store';

/**
 * express-session on the PostgreSQL store. Nothing is stored until a session has
 * something in it (`saveUninitialized: false`), and an unchanged session is not
 * rewritten (`resave: false`); the store enforces both timeouts.
 */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  private readonly handler: ReturnType<typeof session>;

  constructor(config: AppConfig, store: PgSessionStore) {
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
    this.handler(req, res, next);
  }
}

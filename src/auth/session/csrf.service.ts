import { Injectable } from '@nestjs/common';
import { csrfSync } from 'csrf-sync';
import type { Request } from 'express';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Synchronizer-token CSRF protection (csrf-sync): one random token per session,
 * kept server-side in the session, sent back by the client in `X-CSRF-Token` (or a
 * `_csrf` form field). Only cookie-authenticated requests need it: a bearer token
 * is not sent by the browser on its own, so it cannot be ridden.
 */
@Injectable()
export class CsrfService {
  private readonly csrf = csrfSync({
    size: 32,
    getTokenFromRequest: (req) => {
      const header = req.headers['x-csrf-token'];
      if (typeof header === 'string') return header;
      const field = (req.body as Record<string, unknown> | undefined)?._csrf;
      return typeof field === 'string' ? field : undefined;
    },
  });

  /** The session's token, created if it has none yet (or replaced, with `renew`). */
  token(req: Request, renew = false): string {
    return this.csrf.generateToken(req, renew);
  }

  isSatisfied(req: Request): boolean {
    return SAFE_METHODS.has(req.method) || this.csrf.isRequestValid(req);
  }
}

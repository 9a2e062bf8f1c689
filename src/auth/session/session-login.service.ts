import { promisify } from 'node:util';
import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditService } from '../../audit/audit.service';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import type { User } from '../../users/user.entity';
import { StaleCredentialsError } from '../../sessions/session.store';
import { SessionMiddleware } from '../../sessions/session.middleware';
import { clientInfo } from '../client-info';
import { INVALID_CREDENTIALS } from '../auth-messages';
import { CsrfService } from './csrf.service';
import '../../sessions/session-data';

/** Starting and ending cookie sessions. */
@Injectable()
export class SessionLoginService {
  constructor(
    private readonly csrf: CsrfService,
    @Inject(AUTH_OPTIONS) private readonly config: AuthOptions,
    private readonly audit: AuditService,
    private readonly sessionMiddleware: SessionMiddleware,
  ) {}

  /**
   * Signs `user` in on a brand-new session id: whatever id the client came with
   * (planted by an attacker, or an anonymous session) is destroyed, never adopted.
   * Returns the new session's CSRF token. The session is stored only if the user's
   * credential version is still the one their credentials were checked against: a
   * password change or "sign out everywhere" that raced this sign-in wins (401).
   */
  async signIn(req: Request, user: User): Promise<string> {
    await this.sessionMiddleware.ensure(req);
    await promisify(req.session.regenerate.bind(req.session))();
    req.session.userId = user.id;
    req.session.credentialVersion = user.credentialVersion;
    req.session.authenticatedAt = Date.now();
    req.session.client = clientInfo(req);
    const csrfToken = this.csrf.token(req, true);
    try {
      await promisify(req.session.save.bind(req.session))();
    } catch (error) {
      // Nothing was stored: the refusal must not hand out a cookie for the session that was not.
      (req as { session?: unknown }).session = undefined;
      if (error instanceof StaleCredentialsError) throw new UnauthorizedException(INVALID_CREDENTIALS);
      throw error;
    }
    await this.audit.record(req, {
      type: 'login.succeeded',
      userId: user.id,
      details: { method: 'session' },
    });
    return csrfToken;
  }

  /** The caller signs out of this session. */
  async logOut(req: Request, res: Response): Promise<void> {
    const userId = req.session.userId;
    await this.signOut(req, res);
    await this.audit.record(req, { type: 'logout', userId, details: { method: 'session' } });
  }

  /**
   * Moves the signed-in session to a new id and to the user's new credential version
   * (after a password change), keeping its contents, CSRF token included. The old id is
   * destroyed.
   */
  async renewId(req: Request, credentialVersion: number): Promise<void> {
    const { userId, client, csrfToken, authenticatedAt } = req.session;
    await promisify(req.session.regenerate.bind(req.session))();
    Object.assign(req.session, { userId, client, csrfToken, authenticatedAt, credentialVersion });
    await promisify(req.session.save.bind(req.session))();
  }

  /** The user proved a factor again on this session. */
  async markAuthenticatedNow(req: Request): Promise<void> {
    req.session.authenticatedAt = Date.now();
    await promisify(req.session.save.bind(req.session))();
  }

  /** Destroys the session server-side and clears the cookie. */
  async signOut(req: Request, res: Response): Promise<void> {
    await promisify(req.session.destroy.bind(req.session))();
    res.clearCookie(this.config.session.cookieName, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: this.config.session.secureCookie,
    });
  }
}

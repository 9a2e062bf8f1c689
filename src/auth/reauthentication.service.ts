import {
  BadRequestException,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service';
import { TokenLoginsRepository } from '../sessions/token-logins.repository';
import { PasswordService } from '../users/password.service';
import type { User } from '../users/user.entity';
import { UsersService } from '../users/users.service';
import { AUTH_OPTIONS, type AuthOptions } from './auth.options';
import { LoginLockout } from './lockout/login-lockout.service';
import { INVALID_SECOND_FACTOR, MfaLoginService } from './mfa/mfa-login.service';
import { PasskeysService } from './passkeys/passkeys.service';
import { SessionLoginService } from './session/session-login.service';

const WRONG_CURRENT_PASSWORD = 'Current password is incorrect';

/** What POST /api/auth/reauth takes: exactly one factor. */
export interface FactorProof {
  password?: string;
  code?: string;
  recoveryCode?: string;
  passkey?: Record<string, unknown>;
}
export const REAUTHENTICATION_REQUIRED = 'reauthentication required';

/**
 * A signed-in user proving a factor again: before a sensitive action (a password
 * change, an email change), and through POST /api/auth/reauth, which makes the
 * sign-in "recent" for REAUTH_MAX_AGE_SECONDS. A password is checked under the same
 * per-account lock as a login: otherwise whoever holds a session could guess the
 * password behind it without limit. 403 when wrong (the caller is authenticated: a
 * 401 would make clients drop the session), 429 once locked.
 */
@Injectable()
export class Reauthentication {
  constructor(
    private readonly lockout: LoginLockout,
    private readonly passwords: PasswordService,
    private readonly audit: AuditService,
    private readonly users: UsersService,
    private readonly logins: TokenLoginsRepository,
    private readonly sessions: SessionLoginService,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    private readonly mfa: MfaLoginService,
    private readonly passkeys: PasskeysService,
  ) {}

  /** `user` must come with its password hash. */
  async confirmPassword(req: Request, user: User, password: string, purpose: string): Promise<void> {
    const { ok, locksAccount } = await this.lockout.check(user.email, async () =>
      user.passwordHash ? this.passwords.verify(password, user.passwordHash) : false,
    );
    if (ok) return;
    await this.audit.record(req, { type: 'reauth.failed', userId: user.id, details: { purpose } });
    if (locksAccount)
      await this.audit.record(req, {
        type: 'account.locked',
        userId: user.id,
        details: { email: user.email },
      });
    throw new ForbiddenException(WRONG_CURRENT_PASSWORD);
  }

  /** The caller's password, checked like `confirmPassword`; the caller's user with its hash. */
  async confirmCallerPassword(req: Request, password: string, purpose: string): Promise<User> {
    const user = await this.users.findWithPasswordHash({ id: req.auth!.user.id });
    if (!user) throw new UnauthorizedException('Session has ended');
    await this.confirmPassword(req, user, password, purpose);
    return user;
  }

  /**
   * POST /api/auth/reauth: one factor again (the password, a TOTP or recovery code, or
   * a passkey), and the caller's sign-in is recent once more. 400 unless exactly one is
   * sent; 403 when it is wrong (counted against the account lock).
   */
  async reauthenticate(req: Request, proof: FactorProof): Promise<void> {
    const given = (['password', 'code', 'recoveryCode', 'passkey'] as const).filter(
      (factor) => proof[factor] !== undefined,
    );
    if (given.length !== 1)
      throw new BadRequestException(['send exactly one of password, code, recoveryCode, passkey']);
    const user = req.auth!.user;
    if (proof.password !== undefined) await this.confirmCallerPassword(req, proof.password, 'reauth');
    else if (proof.passkey !== undefined) await this.passkeys.verifyForUser(req, user, proof.passkey);
    else
      await this.mfa.prove(req, user, proof, 'reauth', () => new ForbiddenException(INVALID_SECOND_FACTOR));
    const auth = req.auth!;
    if (auth.method === 'session') await this.sessions.markAuthenticatedNow(req);
    else if (auth.loginId) await this.logins.setAuthenticatedNow(auth.loginId);
  }

  /** 403 `reauthentication required` unless the caller proved a factor within REAUTH_MAX_AGE_SECONDS. */
  async requireRecent(req: Request): Promise<void> {
    const auth = req.auth!;
    let at: number | undefined;
    if (auth.method === 'session') at = req.session.authenticatedAt;
    else if (auth.loginId) at = (await this.logins.findById(auth.loginId))?.authenticatedAt.getTime();
    if (at === undefined || Date.now() - at > this.options.account.reauthMaxAgeMs)
      throw new ForbiddenException(REAUTHENTICATION_REQUIRED);
  }
}

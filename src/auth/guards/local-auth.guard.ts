import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  UnauthorizedException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditService } from '../../audit/audit.service';
import { validateBody } from '../../common/validation';
import { normaliseEmail } from '../../users/email';
import type { User } from '../../users/user.entity';
import { CredentialsDto } from '../dto/credentials.dto';
import { AccountLockedException, LoginLockout } from '../lockout/login-lockout.service';
import { INVALID_CREDENTIALS, LocalStrategy } from '../strategies/local.strategy';
import { runStrategy } from '../strategies/run-strategy';

/**
 * passport-local for the login endpoints. The body is validated first, because
 * guards run before pipes: a malformed body is a 400 listing its faults, and
 * passport never falls back to credentials in the query string. Then the account's
 * lock is checked and an attempt reserved (LoginLockout), before any bcrypt work.
 */
@Injectable()
export class LocalAuthGuard implements CanActivate {
  constructor(
    private readonly strategy: LocalStrategy,
    private readonly lockout: LoginLockout,
    private readonly audit: AuditService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    // Login CSRF: a cross-site HTML form can post urlencoded credentials (and the
    // answer's Set-Cookie would sign the victim into the attacker's account), but it
    // cannot send JSON without a CORS preflight, which other origins fail.
    if (!req.is('application/json'))
      throw new UnsupportedMediaTypeException('Send the credentials as application/json');
    const credentials = await validateBody(CredentialsDto, req.body);
    req.body = credentials;
    let reservation;
    try {
      reservation = await this.lockout.reserve(credentials.email);
    } catch (error) {
      if (error instanceof AccountLockedException)
        res.setHeader('Retry-After', String(error.retryAfterSeconds));
      throw error;
    }
    const { error, user } = await runStrategy<User>(this.strategy, req, res);
    // LocalStrategy refuses wrong credentials by throwing; anything else is a real error.
    if (error && !(error instanceof UnauthorizedException)) throw error as Error;
    if (!user) {
      const email = normaliseEmail(credentials.email);
      await this.audit.record(req, { type: 'login.failed', details: { email } });
      if (this.lockout.locksAccount(reservation))
        await this.audit.record(req, { type: 'account.locked', details: { email } });
      throw new UnauthorizedException(INVALID_CREDENTIALS);
    }
    await this.lockout.release(reservation);
    req.user = user;
    return true;
  }
}

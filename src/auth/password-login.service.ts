import { Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditService } from '../audit/audit.service';
import { normaliseEmail } from '../users/email';
import type { User } from '../users/user.entity';
import type { CredentialsDto } from './dto/credentials.dto';
import { AccountLockedException, LoginLockout } from './lockout/login-lockout.service';
import { INVALID_CREDENTIALS, LocalStrategy } from './strategies/local.strategy';
import { runStrategy } from './strategies/run-strategy';

/**
 * Checking an email and password, for every way of signing in (the JSON API and the
 * sign-in page): the account's lock first (LoginLockout reserves an attempt before
 * any bcrypt work), then passport-local, then the audit trail. Throws 401 for bad
 * credentials and 429 (with `Retry-After` set) for a locked account.
 */
@Injectable()
export class PasswordLogin {
  constructor(
    private readonly strategy: LocalStrategy,
    private readonly lockout: LoginLockout,
    private readonly audit: AuditService,
  ) {}

  async authenticate(req: Request, res: Response, credentials: CredentialsDto): Promise<User> {
    let reservation;
    try {
      reservation = await this.lockout.reserve(credentials.email);
    } catch (error) {
      if (error instanceof AccountLockedException)
        res.setHeader('Retry-After', String(error.retryAfterSeconds));
      throw error;
    }
    // passport-local reads the credentials from the body.
    req.body = credentials;
    const { error, user } = await runStrategy<User>(this.strategy, req, res);
    // LocalStrategy refuses wrong credentials by throwing; anything else (the password
    // checks are full, the database is down) means the password was not judged: the
    // attempt does not count against the account.
    if (error && !(error instanceof UnauthorizedException)) {
      await this.lockout.release(reservation).catch(() => undefined);
      throw error as Error;
    }
    if (!user) {
      const email = normaliseEmail(credentials.email);
      await this.audit.record(req, { type: 'login.failed', details: { email } });
      if (this.lockout.locksAccount(reservation))
        await this.audit.record(req, { type: 'account.locked', details: { email } });
      throw new UnauthorizedException(INVALID_CREDENTIALS);
    }
    await this.lockout.release(reservation);
    return user;
  }
}

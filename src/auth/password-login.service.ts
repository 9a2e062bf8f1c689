import { Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditService } from '../audit/audit.service';
import { normaliseEmail } from '../users/email';
import type { User } from '../users/user.entity';
import type { CredentialsDto } from './dto/credentials.dto';
import { LoginLockout } from './lockout/login-lockout.service';
import { INVALID_CREDENTIALS } from './auth-messages';
import { LocalStrategy } from './strategies/local.strategy';
import { runStrategy } from './strategies/run-strategy';

/**
 * Checking an email and password, for every way of signing in (the JSON API and the
 * sign-in page): under the account's lock (LoginLockout reserves an attempt before
 * any bcrypt work), through passport-local, then the audit trail. Throws 401 for bad
 * credentials and 429 (AccountLockedException, which says when to retry) for a locked account.
 */
@Injectable()
export class PasswordLogin {
  constructor(
    private readonly strategy: LocalStrategy,
    private readonly lockout: LoginLockout,
    private readonly audit: AuditService,
  ) {}

  async authenticate(req: Request, res: Response, credentials: CredentialsDto): Promise<User> {
    let user: User | undefined;
    const outcome = await this.lockout.check(credentials.email, async () => {
      // passport-local reads the credentials from the body.
      req.body = credentials;
      const result = await runStrategy<User>(this.strategy, req, res);
      // LocalStrategy refuses wrong credentials by throwing 401; anything else (the
      // password checks are full, the database is down) means the password was not judged.
      if (result.error && !(result.error instanceof UnauthorizedException)) throw result.error as Error;
      user = result.user || undefined;
      return Boolean(user);
    });
    if (user) return user;
    const email = normaliseEmail(credentials.email);
    await this.audit.record(req, { type: 'login.failed', details: { email } });
    if (outcome.locksAccount) await this.audit.record(req, { type: 'account.locked', details: { email } });
    throw new UnauthorizedException(INVALID_CREDENTIALS);
  }
}

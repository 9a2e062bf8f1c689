import { ForbiddenException, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service';
import { PasswordService } from '../users/password.service';
import type { User } from '../users/user.entity';
import { LoginLockout } from './lockout/login-lockout.service';

const WRONG_CURRENT_PASSWORD = 'Current password is incorrect';

/**
 * A signed-in user proving their password again (a password change; later, any step-up).
 * It is checked under the same per-account lock as a login: otherwise whoever holds a
 * session could guess the password behind it without limit. 403 when wrong (the caller
 * is authenticated: a 401 would make clients drop the session), 429 once locked.
 */
@Injectable()
export class Reauthentication {
  constructor(
    private readonly lockout: LoginLockout,
    private readonly passwords: PasswordService,
    private readonly audit: AuditService,
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
}

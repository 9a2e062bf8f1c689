import { BadRequestException, ForbiddenException, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditService } from '../audit/audit.service';
import { currentSignIn } from '../sessions/current-sign-in';
import { SignInsService } from '../sessions/sign-ins.service';
import { PasswordPolicy } from '../users/password-policy';
import { PasswordService } from '../users/password.service';
import type { User } from '../users/user.entity';
import { UsersService } from '../users/users.service';
import type { SignupDto } from './dto/signup.dto';
import { SessionLoginService } from './session/session-login.service';

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly policy: PasswordPolicy,
    private readonly signIns: SignInsService,
    private readonly sessions: SessionLoginService,
    private readonly audit: AuditService,
  ) {}

  async signup({ email, password, name }: SignupDto, req: Request): Promise<User> {
    this.enforcePolicy(password, 'password', [email, name]);
    const user = await this.users.create({ email, password, name: name ?? null });
    await this.audit.record(req, { type: 'signup', userId: user.id });
    return user;
  }

  /**
   * The caller's password change: 403 when `currentPassword` is wrong, 400 when the
   * new one breaks the rules. Every other sign-in of the user ends; a cookie
   * session moves to a new id, a token login stays.
   */
  async changePassword(req: Request, currentPassword: string, newPassword: string): Promise<void> {
    const userId = req.auth!.user.id;
    const user = await this.users.findWithPasswordHash({ id: userId });
    this.enforcePolicy(newPassword, 'newPassword', [user?.email, user?.name]);
    if (!user?.passwordHash || !(await this.passwords.verify(currentPassword, user.passwordHash)))
      throw new ForbiddenException('Current password is incorrect');
    await this.users.setPassword(userId, newPassword);
    await this.signIns.revokeAll(userId, currentSignIn(req));
    if (req.auth!.method === 'session') await this.sessions.renewId(req);
    await this.audit.record(req, { type: 'password.changed', userId });
  }

  /** Ends every sign-in of the caller, their own included. */
  async logoutEverywhere(req: Request, res: Response): Promise<void> {
    const { user, method } = req.auth!;
    await this.signIns.revokeAll(user.id);
    if (method === 'session') await this.sessions.signOut(req, res);
    await this.audit.record(req, { type: 'signins.revoked_all', userId: user.id });
  }

  /**
   * The user whose credentials these are, or null. Unknown email, wrong password
   * and disabled account look the same from outside, and take the same time: an
   * unknown email still spends one bcrypt compare.
   */
  async validateCredentials(email: string, password: string): Promise<User | null> {
    const user = await this.users.findWithPasswordHash({ email });
    if (!user?.passwordHash) return this.passwords.verifyAgainstDummy(password).then(() => null);
    const valid = await this.passwords.verify(password, user.passwordHash);
    if (!valid || user.disabled) return null;
    // BCRYPT_COST changed since this hash was made: the password is at hand, upgrade it.
    if (this.passwords.needsRehash(user.passwordHash)) await this.users.setPassword(user.id, password);
    delete user.passwordHash;
    return user;
  }

  private enforcePolicy(password: string, field: string, context: (string | null | undefined)[]): void {
    const problems = this.policy.problems(password, field, context);
    if (problems.length) throw new BadRequestException(problems);
  }
}

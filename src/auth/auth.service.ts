import { BadRequestException, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditService } from '../audit/audit.service';
import { checkBody } from '../common/validation';
import { PasswordPolicy } from '../users/password-policy';
import { PasswordService } from '../users/password.service';
import type { User } from '../users/user.entity';
import { UsersService } from '../users/users.service';
import { SignupDto } from './dto/signup.dto';
import { Reauthentication } from './reauthentication.service';
import { MailService } from '../mail/mail.service';
import { normaliseEmail } from '../users/email';
import { EmailVerificationService } from './recovery/email-verification.service';
import { SessionLoginService } from './session/session-login.service';

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly policy: PasswordPolicy,
    private readonly reauth: Reauthentication,
    private readonly sessions: SessionLoginService,
    private readonly audit: AuditService,
    private readonly verification: EmailVerificationService,
    private readonly mail: MailService,
  ) {}

  /**
   * A signup body as the API receives it: every fault at once (the form's shape and the
   * password rules together, so a bad email and a short password are both named), then
   * the account.
   */
  async signupFromBody(body: unknown, req: Request): Promise<User> {
    const { value, errors } = await checkBody(SignupDto, body);
    const password = (body as { password?: unknown } | null)?.password;
    if (typeof password === 'string' && !errors.some((error) => error.property === 'password'))
      errors.push(
        ...this.policy
          .problems(password, 'password', [value.email, value.name])
          .map((message) => ({ property: 'password', message })),
      );
    if (errors.length) throw new BadRequestException(errors.map((error) => error.message));
    return this.createAccount(value, req);
  }

  /** A well-formed signup (the sign-up page's): 400 when the password breaks the rules. */
  async signup(dto: SignupDto, req: Request): Promise<User> {
    this.enforcePolicy(dto.password, 'password', [dto.email, dto.name]);
    return this.createAccount(dto, req);
  }

  /** The account, once its password has passed the rules (each path checks them once). */
  private async createAccount({ email, password, name }: SignupDto, req: Request): Promise<User> {
    // The verification mail is queued in the transaction that creates the account.
    const user = await this.users.create(
      { email, password, name: name ?? null },
      this.verification.mailsAtSignup
        ? (tx, created) =>
            this.verification.queueLink(tx.manager, { id: created.id, email: normaliseEmail(email) })
        : undefined,
    );
    this.mail.wake();
    await this.audit.record(req, { type: 'signup', userId: user.id });
    return user;
  }

  /**
   * The caller's password change: 403 when `currentPassword` is wrong (which counts
   * against the account lock: 429 once locked), 400 when the new one breaks the rules.
   * Every other sign-in of the user ends; a cookie session moves to a new id, a token
   * login stays.
   */
  async changePassword(req: Request, currentPassword: string, newPassword: string): Promise<void> {
    const auth = req.auth!;
    const user = await this.users.findWithPasswordHash({ id: auth.user.id });
    if (!user) throw new UnauthorizedException('Session has ended');
    this.enforcePolicy(newPassword, 'newPassword', [user.email, user.name]);
    await this.reauth.confirmPassword(req, user, currentPassword, 'password.change');
    const version = await this.users.changePassword(
      user.id,
      newPassword,
      auth.method === 'jwt' ? auth.loginId : undefined,
    );
    if (auth.method === 'session') await this.sessions.renewId(req, version);
    await this.audit.record(req, { type: 'password.changed', userId: user.id });
  }

  /** Ends every sign-in of the caller, their own included. */
  async logoutEverywhere(req: Request, res: Response): Promise<void> {
    const { user, method } = req.auth!;
    await this.users.endAllSignIns(user.id);
    if (method === 'session') await this.sessions.signOut(req, res);
    await this.audit.record(req, { type: 'signins.revoked_all', userId: user.id });
  }

  /**
   * The user whose credentials these are, or null. Unknown email, wrong password
   * and disabled account look the same from outside, and take the same time: an
   * unknown email still spends one bcrypt compare. The user comes with the
   * credential version this check read: a sign-in is created only while it is current.
   */
  async validateCredentials(email: string, password: string): Promise<User | null> {
    const user = await this.users.findWithPasswordHash({ email });
    if (!user?.passwordHash) return this.passwords.verifyAgainstDummy(password).then(() => null);
    const valid = await this.passwords.verify(password, user.passwordHash);
    if (!valid || user.disabled) return null;
    // BCRYPT_COST changed since this hash was made: the password is at hand, upgrade it.
    if (this.passwords.needsRehash(user.passwordHash)) await this.users.rehashPassword(user.id, password);
    delete user.passwordHash;
    return user;
  }

  private enforcePolicy(password: string, field: string, context: (string | null | undefined)[]): void {
    const problems = this.policy.problems(password, field, context);
    if (problems.length) throw new BadRequestException(problems);
  }
}

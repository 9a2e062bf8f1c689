import { BadRequestException, ForbiddenException, Injectable } from '@nestjs/common';
import { PasswordPolicy } from '../users/password-policy';
import { PasswordService } from '../users/password.service';
import type { User } from '../users/user.entity';
import { UsersService } from '../users/users.service';
import type { SignupDto } from './dto/signup.dto';

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly policy: PasswordPolicy,
  ) {}

  signup({ email, password, name }: SignupDto): Promise<User> {
    this.enforcePolicy(password, 'password', [email, name]);
    return this.users.create({ email, password, name: name ?? null });
  }

  /** 403 when `currentPassword` is wrong; the caller ends the other sign-ins. */
  async changePassword(userId: string, currentPassword: string, newPassword: string): Promise<void> {
    const user = await this.users.findWithPasswordHash({ id: userId });
    this.enforcePolicy(newPassword, 'newPassword', [user?.email, user?.name]);
    if (!user?.passwordHash || !(await this.passwords.verify(currentPassword, user.passwordHash)))
      throw new ForbiddenException('Current password is incorrect');
    await this.users.setPassword(userId, newPassword);
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

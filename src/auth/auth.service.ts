import { ForbiddenException, Injectable } from '@nestjs/common';
import { PasswordService } from '../users/password.service';
import type { User } from '../users/user.entity';
import { UsersService } from '../users/users.service';
import type { SignupDto } from './dto/signup.dto';

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
  ) {}

  signup({ email, password, name }: SignupDto): Promise<User> {
    return this.users.create({ email, password, name: name ?? null });
  }

  /** 403 when `currentPassword` is wrong; the caller ends the other sign-ins. */
  async changePassword(userId: string, currentPassword: string, newPassword: string): Promise<void> {
    const user = await this.users.findWithPasswordHash({ id: userId });
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
    delete user.passwordHash;
    return user;
  }
}

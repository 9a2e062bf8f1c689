import { Injectable, UnauthorizedException } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-local';
import type { User } from '../../users/user.entity';
import { INVALID_CREDENTIALS } from '../auth-messages';
import { AuthService } from '../auth.service';
import { privateRegistry } from './run-strategy';

/** Email and password from the JSON (or form) body, for both login endpoints. */
@Injectable()
export class LocalStrategy extends PassportStrategy(Strategy, 'local') {
  constructor(private readonly auth: AuthService) {
    super({ usernameField: 'email', passwordField: 'password', session: false });
  }

  getPassportInstance() {
    return privateRegistry();
  }

  async validate(email: string, password: string): Promise<User> {
    const user = await this.auth.validateCredentials(email, password);
    if (!user) throw new UnauthorizedException(INVALID_CREDENTIALS);
    return user;
  }
}

import { type DynamicModule, Module } from '@nestjs/common';
import { AccountController } from './account.controller';
import { AdminUsersController } from './admin-users.controller';
import { PageRenderer } from './page-renderer';
import { RecoveryPagesController } from './recovery-pages.controller';
import { SecurityPagesController } from './security-pages.controller';
import { SignInController } from './sign-in.controller';

/**
 * Server-rendered pages on the cookie session: sign-in (with its second step),
 * sign-up, profile, sign-ins, security (second factors and passkeys), admin users,
 * and the pages of mailed links (password reset, email verification
 * and change). Signed-in pages go through the global guard like the API (which
 * checks the session, the user and the CSRF token), and PageExceptionFilter turns
 * its 401 into a trip to the sign-in form and back. Part of this service, not of the
 * library: a host app writes its own pages.
 */
@Module({
  controllers: [
    SignInController,
    AccountController,
    SecurityPagesController,
    AdminUsersController,
    RecoveryPagesController,
  ],
  providers: [PageRenderer],
})
export class PagesModule {
  /** `auth`: the app's configured AuthModule, whose services (and feature modules) the pages use. */
  static register(auth: DynamicModule): DynamicModule {
    return { module: PagesModule, imports: [auth] };
  }
}

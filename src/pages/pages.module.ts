import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RolesModule } from '../roles/roles.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { AccountController } from './account.controller';
import { AdminUsersController } from './admin-users.controller';
import { PageRenderer } from './page-renderer';
import { SignInController } from './sign-in.controller';

/**
 * Server-rendered pages on the cookie session: sign-in, sign-up, profile, sign-ins,
 * admin users. Signed-in pages go through the global guard like the API (which
 * checks the session, the user and the CSRF token), and PageExceptionFilter turns
 * its 401 into a trip to the sign-in form and back.
 */
@Module({
  imports: [AuthModule, UsersModule, SessionsModule, RolesModule],
  controllers: [SignInController, AccountController, AdminUsersController],
  providers: [PageRenderer],
})
export class PagesModule {}

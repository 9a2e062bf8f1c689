import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RolesModule } from '../roles/roles.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { PagesController } from './pages.controller';

/** Server-rendered pages on the cookie session: sign-in, sign-up, profile, sign-ins, admin users. */
@Module({
  imports: [AuthModule, UsersModule, SessionsModule, RolesModule],
  controllers: [PagesController],
})
export class PagesModule {}

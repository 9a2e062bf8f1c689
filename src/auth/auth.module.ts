import { Module } from '@nestjs/common';
import { UsersModule } from '../users/users.module';

/** Sign-up, login by cookie session or token, and the global authentication guard. */
@Module({
  imports: [UsersModule],
})
export class AuthModule {}

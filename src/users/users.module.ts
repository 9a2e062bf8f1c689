import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { RolesModule } from '../roles/roles.module';
import { SessionsModule } from '../sessions/sessions.module';
import { AdminBootstrapService } from './admin-bootstrap.service';
import { PasswordPolicy } from './password-policy';
import { PasswordService } from './password.service';
import { UserCache } from './user-cache';
import { UsersController } from './users.controller';
import { User } from './user.entity';
import { UsersService } from './users.service';

@Module({
  imports: [TypeOrmModule.forFeature([User]), RolesModule, SessionsModule],
  controllers: [UsersController],
  providers: [UsersService, PasswordService, PasswordPolicy, UserCache, AdminBootstrapService],
  exports: [UsersService, PasswordService, PasswordPolicy, UserCache],
})
export class UsersModule {}

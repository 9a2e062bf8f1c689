import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { InvalidationModule } from '../database/invalidation.module';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RolesModule } from '../roles/roles.module';
import { SessionsModule } from '../sessions/sessions.module';
import { AdminBootstrapService } from './admin-bootstrap.service';
import { PasswordPolicy } from './password-policy';
import { PasswordService } from './password.service';
import { UserCache } from './user-cache';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { User } from './user.entity';
import { UsersService } from './users.service';

@Module({
  imports: [
    // Registers the module's entities (read through UsersRepository).
    TypeOrmModule.forFeature([User]),
    AuditModule,
    InvalidationModule,
    RolesModule,
    SessionsModule,
  ],
  controllers: [UsersController],
  providers: [
    UsersService,
    UsersRepository,
    PasswordService,
    PasswordPolicy,
    UserCache,
    AdminBootstrapService,
  ],
  exports: [UsersService, UsersRepository, PasswordService, PasswordPolicy, UserCache],
})
export class UsersModule {}

import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { registerOnce } from '../common/register-once';
import { InvalidationModule } from '../database/invalidation.module';
import { RolesModule } from '../roles/roles.module';
import { AdminBootstrapService } from './admin-bootstrap.service';
import { PasswordPolicy } from './password-policy';
import { PasswordService } from './password.service';
import { UserCache } from './user-cache';
import { User } from './user.entity';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

const registered = new WeakMap<DynamicModule, DynamicModule>();

/**
 * Accounts, password hashing and rules, the admin bootstrap. `register(options)` takes
 * a module that provides USERS_OPTIONS and INVALIDATION_OPTIONS (AuthModule's). It
 * knows nothing of sign-ins: the sessions module depends on it, not the other way.
 */
@Module({
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
export class UsersModule {
  static register(options: DynamicModule): DynamicModule {
    return registerOnce(registered, options, () => ({
      module: UsersModule,
      imports: [
        // Registers the module's entities (read through UsersRepository).
        TypeOrmModule.forFeature([User]),
        options,
        AuditModule,
        InvalidationModule.register(options),
        RolesModule,
      ],
    }));
  }
}

import { ConflictException, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { StartupError } from '../common/startup-error';
import { USERS_OPTIONS, type UsersOptions } from './users.options';
import { BuiltInRole } from '../roles/role-names';
import { PasswordPolicy } from './password-policy';
import type { User } from './user.entity';
import { UsersService } from './users.service';

/**
 * ADMIN_EMAIL + ADMIN_PASSWORD: that account exists after start-up with the admin
 * role. An existing account that is not an admin yet is promoted only with
 * ADMIN_PROMOTE_EXISTING=true: anyone could have signed up with that email before
 * the operator set it, and would otherwise be handed the admin role. Its password is
 * left as it is, so a restart never undoes a password change.
 */
@Injectable()
export class AdminBootstrapService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminBootstrapService.name);

  constructor(
    @Inject(USERS_OPTIONS) private readonly config: UsersOptions,
    private readonly users: UsersService,
    private readonly policy: PasswordPolicy,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const admin = this.config.admin;
    if (!admin) return;
    const existing = await this.users.findByEmail(admin.email);
    if (existing) return this.promote(existing);
    const problems = this.policy.problems(admin.password, 'ADMIN_PASSWORD', [admin.email]);
    if (problems.length) throw new StartupError(`Cannot create the admin account: ${problems.join('; ')}`);
    try {
      const created = await this.users.create({ ...admin, roles: [BuiltInRole.Admin], emailVerified: true });
      this.logger.log({ userId: created.id }, 'Admin account created from ADMIN_EMAIL');
    } catch (error) {
      // Another instance created it between our read and our insert.
      if (!(error instanceof ConflictException)) throw error;
      const raced = await this.users.findByEmail(admin.email);
      if (raced) await this.promote(raced);
    }
  }

  private async promote(user: User): Promise<void> {
    if (!user.roles.some((role) => role.name === BuiltInRole.Admin)) {
      if (!this.config.admin?.promoteExisting)
        throw new StartupError(
          'ADMIN_EMAIL names an existing account that is not an admin; set ADMIN_PROMOTE_EXISTING=true to promote it, or choose another ADMIN_EMAIL',
        );
      await this.users.grantRole(user.id, BuiltInRole.Admin);
      await this.users.markEmailVerified(user.id);
      this.logger.log({ userId: user.id }, 'Existing account from ADMIN_EMAIL promoted to admin');
      return;
    }
    // The operator vouches for ADMIN_EMAIL (an admin from before verification existed included).
    if (!user.emailVerified) await this.users.markEmailVerified(user.id);
    this.logger.log({ userId: user.id }, 'Admin account from ADMIN_EMAIL present');
  }
}

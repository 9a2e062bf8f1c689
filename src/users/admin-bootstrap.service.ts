import { ConflictException, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { BuiltInRole } from '../roles/role-names';
import { PasswordPolicy } from './password-policy';
import { UsersService } from './users.service';

/**
 * ADMIN_EMAIL + ADMIN_PASSWORD: that account exists after start-up with the admin
 * role. An existing account is promoted; its password is left as it is, so a
 * restart never undoes a password change.
 */
@Injectable()
export class AdminBootstrapService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminBootstrapService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly users: UsersService,
    private readonly policy: PasswordPolicy,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const admin = this.config.admin;
    if (!admin) return;
    const existing = await this.users.findByEmail(admin.email);
    if (existing) {
      await this.users.grantRole(existing.id, BuiltInRole.Admin);
      this.logger.log({ userId: existing.id }, 'Admin account from ADMIN_EMAIL present');
      return;
    }
    const problems = this.policy.problems(admin.password, 'ADMIN_PASSWORD', [admin.email]);
    if (problems.length) throw new Error(`Cannot create the admin account: ${problems.join('; ')}`);
    try {
      const created = await this.users.create({ ...admin, roles: [BuiltInRole.Admin] });
      this.logger.log({ userId: created.id }, 'Admin account created from ADMIN_EMAIL');
    } catch (error) {
      // Another instance created it between our read and our insert.
      if (!(error instanceof ConflictException)) throw error;
      const raced = await this.users.findByEmail(admin.email);
      if (raced) await this.users.grantRole(raced.id, BuiltInRole.Admin);
    }
  }
}

import { ConflictException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PasswordService } from './password.service';
import { InvalidationBus } from '../database/invalidation-bus';
import { isUniqueViolation } from '../database/postgres-errors';
import { BuiltInRole } from '../roles/role-names';
import { RolesService } from '../roles/roles.service';
import { normaliseEmail } from './email';
import { User } from './user.entity';

export interface NewUser {
  email: string;
  password: string;
  name?: string | null;
  roles?: readonly string[];
}

@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly roles: RolesService,
    private readonly passwords: PasswordService,
    private readonly bus: InvalidationBus,
  ) {}

  /** Every account has the `user` role; 409 when the email is taken (checked by the database). */
  async create({ email, password, name = null, roles = [] }: NewUser): Promise<User> {
    const user = this.users.create({
      email: normaliseEmail(email),
      name,
      passwordHash: await this.passwords.hash(password),
      roles: await this.roles.findByNames([BuiltInRole.User, ...roles]),
    });
    try {
      await this.users.save(user);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('An account with this email already exists');
      throw error;
    }
    return this.users.findOneByOrFail({ id: user.id });
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  findByEmail(email: string): Promise<User | null> {
    return this.users.findOneBy({ email: normaliseEmail(email) });
  }

  /** The user with the password hash loaded, for the one place that checks passwords. */
  findWithPasswordHash(email: string): Promise<User | null> {
    return this.users
      .createQueryBuilder('user')
      .addSelect('user.passwordHash')
      .leftJoinAndSelect('user.roles', 'role')
      .where('user.email = :email', { email: normaliseEmail(email) })
      .getOne();
  }

  /** Idempotent and safe when several instances start at once. Applies to existing sign-ins at once. */
  async grantRole(userId: string, role: string): Promise<void> {
    await this.users
      .createQueryBuilder()
      .insert()
      .into('user_roles')
      .values({ user_id: userId, role_name: role })
      .orIgnore()
      .execute();
    await this.bus.publish([{ kind: 'user', key: userId }]);
  }

  /** A disabled user is refused at login and on every existing session and token, at once. */
  async setDisabled(userId: string, disabled: boolean): Promise<void> {
    await this.users.update({ id: userId }, { disabled });
    await this.bus.publish([{ kind: 'user', key: userId }]);
  }
}

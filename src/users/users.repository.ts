import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type EntityTarget, type ObjectLiteral } from 'typeorm';
import type { Role } from '../roles/role.entity';
import { User } from './user.entity';
import { junctionTableOf, tableOf } from '../database/table-name';

/** An account to create; the email already normalised, the password already hashed. */
export interface NewUserRow {
  email: string;
  name: string | null;
  passwordHash: string;
  roles: Role[];
  emailVerified?: boolean;
}

/**
 * The `users` table and its roles (`user_roles`): one aggregate. Emails are stored
 * and looked up as given: callers normalise them.
 */
@Injectable()
export class UsersRepository {
  // Hand-written SQL names its tables as the metadata does (AuthModule's `schema` option).
  private get table(): string {
    return tableOf(this.dataSource, User);
  }

  private get roleTable(): string {
    return junctionTableOf(this.dataSource, User, 'roles');
  }

  /** `user_roles` as TypeORM knows it (a junction table has no entity class of ours). */
  private get roleJunction(): EntityTarget<ObjectLiteral> {
    return this.dataSource.getMetadata(User).findRelationWithPropertyPath('roles')!.junctionEntityMetadata!
      .target;
  }

  constructor(private readonly dataSource: DataSource) {}

  /** Inserts the account with its roles and returns it as stored; a taken email fails (unique violation). */
  async create(fields: NewUserRow, manager: EntityManager = this.dataSource.manager): Promise<User> {
    const users = manager.getRepository(User);
    const user = await users.save(users.create(fields));
    return users.findOneByOrFail({ id: user.id });
  }

  findById(id: string, manager: EntityManager = this.dataSource.manager): Promise<User | null> {
    return manager.findOneBy(User, { id });
  }

  findByEmail(email: string, manager: EntityManager = this.dataSource.manager): Promise<User | null> {
    return manager.findOneBy(User, { email });
  }

  /** The user with the password hash loaded, for the places that check passwords. */
  findWithPasswordHash(by: { email: string } | { id: string }): Promise<User | null> {
    const query = this.dataSource.manager
      .createQueryBuilder(User, 'user')
      .addSelect('user.passwordHash')
      .leftJoinAndSelect('user.roles', 'role');
    return 'email' in by
      ? query.where('user.email = :email', { email: by.email }).getOne()
      : query.where('user.id = :id', { id: by.id }).getOne();
  }

  /**
   * A page of users, oldest first, optionally those whose email or name contains `text`
   * (case-insensitive, taken literally), with the number of all that match.
   */
  async search({
    offset,
    limit,
    text,
  }: {
    offset: number;
    limit: number;
    text?: string;
  }): Promise<{ items: User[]; total: number }> {
    const query = this.dataSource.manager
      .createQueryBuilder(User, 'user')
      .leftJoinAndSelect('user.roles', 'role')
      .orderBy('user.createdAt', 'ASC')
      .addOrderBy('user.id', 'ASC')
      .skip(offset)
      .take(limit);
    if (text) {
      const pattern = `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
      query.where('(user.email ILIKE :pattern OR user.name ILIKE :pattern)', { pattern });
    }
    const [items, total] = await query.getManyAndCount();
    return { items, total };
  }

  /**
   * Takes a share lock on the user's row until the transaction ends, if the user is
   * enabled and still at `credentialVersion`; false (and no lock) otherwise. A change
   * that bumps the version then waits for the transaction.
   */
  async lockIfCredentialsCurrent(
    id: string,
    credentialVersion: number,
    manager: EntityManager,
  ): Promise<boolean> {
    const current = await manager.query<unknown[]>(
      `SELECT 1 FROM ${this.table} WHERE id = $1 AND credential_version = $2 AND NOT disabled FOR SHARE`,
      [id, credentialVersion],
    );
    return current.length > 0;
  }

  /** Moves the user to the next credential version and returns it; undefined when there is no such user. */
  async bumpCredentialVersion(id: string, manager: EntityManager): Promise<number | undefined> {
    const bumped = await manager
      .createQueryBuilder()
      .update(User)
      .set({ credentialVersion: () => 'credential_version + 1' })
      .where({ id })
      .returning(['credentialVersion'])
      .execute();
    return (bumped.raw as { credential_version: number }[])[0]?.credential_version;
  }

  async setPasswordHash(
    id: string,
    passwordHash: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await manager.update(User, { id }, { passwordHash });
  }

  async setEmailVerified(id: string, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.update(User, { id }, { emailVerified: true });
  }

  /** A new (normalised) sign-in address, verified by the change itself; a taken one fails (unique violation). */
  async setEmail(id: string, email: string, manager: EntityManager): Promise<void> {
    await manager.update(User, { id }, { email, emailVerified: true });
  }

  /** What the second-factor services keep on the user, so that every request knows it without a query. */
  async setSecondFactors(
    id: string,
    factors: { totpEnabled?: boolean; passkeyCount?: number },
    manager: EntityManager,
  ): Promise<void> {
    await manager.update(User, { id }, factors);
  }

  async setName(id: string, name: string | null): Promise<void> {
    await this.dataSource.manager.update(User, { id }, { name });
  }

  async setDisabled(id: string, disabled: boolean, manager: EntityManager): Promise<void> {
    await manager.update(User, { id }, { disabled });
  }

  async delete(id: string, manager: EntityManager): Promise<void> {
    await manager.delete(User, { id });
  }

  /** Replaces the user's roles with exactly `roleNames`. */
  async setRoles(id: string, roleNames: readonly string[], manager: EntityManager): Promise<void> {
    await manager.query(`DELETE FROM ${this.roleTable} WHERE user_id = $1`, [id]);
    await manager.insert(
      this.roleJunction,
      roleNames.map((role) => ({ user_id: id, role_name: role })),
    );
  }

  /** Gives the user the role; nothing happens when they have it already, even in a race. */
  async addRole(id: string, roleName: string): Promise<void> {
    await this.dataSource.manager
      .createQueryBuilder()
      .insert()
      .into(this.roleJunction)
      .values({ user_id: id, role_name: roleName })
      .orIgnore()
      .execute();
  }

  /** How many enabled users have the role. */
  async countEnabledWithRole(roleName: string, manager: EntityManager): Promise<number> {
    const [{ count }] = await manager.query<{ count: number }[]>(
      `SELECT count(*)::int AS count FROM ${this.table} u JOIN ${this.roleTable} r ON r.user_id = u.id
       WHERE r.role_name = $1 AND NOT u.disabled`,
      [roleName],
    );
    return count;
  }
}

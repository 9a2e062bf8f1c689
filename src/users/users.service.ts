import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PasswordService } from './password.service';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service';
import { InvalidationBus, type PublishingTransaction } from '../database/invalidation-bus';
import { isUniqueViolation } from '../common/postgres-errors';
import { BuiltInRole } from '../roles/role-names';
import { RolesService } from '../roles/roles.service';
import { SignInsService } from '../sessions/sign-ins.service';
import { normaliseEmail } from './email';
import { User } from './user.entity';

/** Serialises changes that could remove the last enabled admin. */
const ADMIN_CHANGE_LOCK_KEY = 7_231_004_513;

export interface UserSearch {
  page: number;
  limit: number;
  q?: string;
}

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
    private readonly signIns: SignInsService,
    private readonly audit: AuditService,
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

  /** The user with the password hash loaded, for the places that check passwords. */
  findWithPasswordHash(by: { email: string } | { id: string }): Promise<User | null> {
    const query = this.users
      .createQueryBuilder('user')
      .addSelect('user.passwordHash')
      .leftJoinAndSelect('user.roles', 'role');
    return 'email' in by
      ? query.where('user.email = :email', { email: normaliseEmail(by.email) }).getOne()
      : query.where('user.id = :id', { id: by.id }).getOne();
  }

  async findByIdOrFail(id: string): Promise<User> {
    const user = await this.users.findOneBy({ id });
    if (!user) throw new NotFoundException('No such user');
    return user;
  }

  /** A page of users, optionally those whose email or name contains `q` (case-insensitive). */
  async search({ page, limit, q }: UserSearch): Promise<{ items: User[]; total: number }> {
    const query = this.users
      .createQueryBuilder('user')
      .leftJoinAndSelect('user.roles', 'role')
      .orderBy('user.createdAt', 'ASC')
      .addOrderBy('user.id', 'ASC')
      .skip((page - 1) * limit)
      .take(limit);
    if (q) {
      const pattern = `%${q.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
      query.where('(user.email ILIKE :pattern OR user.name ILIKE :pattern)', { pattern });
    }
    const [items, total] = await query.getManyAndCount();
    return { items, total };
  }

  /** Stores a new hash of the same password (BCRYPT_COST changed): no sign-in ends. */
  async rehashPassword(id: string, password: string): Promise<void> {
    await this.users.update({ id }, { passwordHash: await this.passwords.hash(password) });
  }

  /**
   * Sets a new password and ends every sign-in of the user but the token login
   * `keepLoginId`, in one transaction. Returns the new credential version.
   */
  async changePassword(id: string, password: string, keepLoginId?: string): Promise<number> {
    // Hashed first: the transaction should hold the user's row for milliseconds, not a bcrypt.
    const passwordHash = await this.passwords.hash(password);
    return this.bus.transaction(async (tx) => {
      await tx.manager.update(User, { id }, { passwordHash });
      return this.endAllSignInsIn(tx, id, keepLoginId);
    });
  }

  /** Ends every sign-in of the user (but the token login `keepLoginId`); returns the new credential version. */
  endAllSignIns(id: string, keepLoginId?: string): Promise<number> {
    return this.bus.transaction((tx) => this.endAllSignInsIn(tx, id, keepLoginId));
  }

  /**
   * Moves the user to a new credential version and revokes their sign-ins, inside `tx`.
   * The version is bumped first: the UPDATE waits for any sign-in being created from
   * the old version (it holds the user's row FOR SHARE), and every one created later
   * sees the new version and is refused, so none survives the change.
   */
  private async endAllSignInsIn(
    tx: PublishingTransaction,
    id: string,
    keepLoginId?: string,
  ): Promise<number> {
    const bumped = await tx.manager
      .createQueryBuilder()
      .update(User)
      .set({ credentialVersion: () => 'credential_version + 1' })
      .where({ id })
      .returning(['credentialVersion'])
      .execute();
    const version = (bumped.raw as { credential_version: number }[])[0]?.credential_version;
    if (version === undefined) throw new NotFoundException('No such user');
    await this.signIns.revokeAllIn(tx, id, version, keepLoginId);
    await tx.publish([{ kind: 'user', key: id }]);
    return version;
  }

  async rename(id: string, name: string | null): Promise<User> {
    await this.users.update({ id }, { name });
    await this.bus.publish([{ kind: 'user', key: id }]);
    return this.findByIdOrFail(id);
  }

  /**
   * Enables or disables an account. A disabled user is refused at login and on every
   * existing session and token, at once: the sign-ins are revoked too.
   */
  async setDisabled(id: string, disabled: boolean, by?: Request): Promise<void> {
    await this.guardLastAdmin(id, { disabled }, async (tx) => {
      await tx.manager.update(User, { id }, { disabled });
      if (disabled) await this.endAllSignInsIn(tx, id);
    });
    await this.audit.record(by, {
      type: disabled ? 'user.disabled' : 'user.enabled',
      userId: id,
      actorId: actorOf(by),
    });
  }

  /** Deletes the account; its sign-ins (deleted with it) end at once on every instance. */
  async delete(id: string, by?: Request): Promise<void> {
    await this.guardLastAdmin(id, { deleted: true }, async ({ manager }) => {
      await manager.delete(User, { id });
    });
    await this.audit.record(by, { type: 'user.deleted', userId: id, actorId: actorOf(by) });
  }

  /** Replaces the user's roles; `user` is always kept. Unknown names are a 400. */
  async setRoles(id: string, names: readonly string[], by?: Request): Promise<User> {
    const wanted = [...new Set([BuiltInRole.User, ...names])];
    const roles = await this.roles.findByNames(wanted);
    const unknown = wanted.filter((name) => !roles.some((role) => role.name === name));
    if (unknown.length) throw new BadRequestException([`unknown roles: ${unknown.join(', ')}`]);
    await this.guardLastAdmin(id, { roles: wanted }, async ({ manager }) => {
      await manager.delete('user_roles', { user_id: id });
      await manager.insert(
        'user_roles',
        wanted.map((role) => ({ user_id: id, role_name: role })),
      );
    });
    await this.audit.record(by, {
      type: 'roles.changed',
      userId: id,
      actorId: actorOf(by),
      details: { roles: wanted.sort() },
    });
    return this.findByIdOrFail(id);
  }

  /**
   * Runs a change to user `id` unless it would leave no enabled admin (409). The
   * check and the change share a transaction behind an advisory lock, so two
   * admins demoting each other at once cannot both succeed.
   */
  private async guardLastAdmin(
    id: string,
    change: { disabled?: boolean; deleted?: boolean; roles?: readonly string[] },
    apply: (tx: PublishingTransaction) => Promise<void>,
  ): Promise<void> {
    await this.bus.transaction(async (tx) => {
      const { manager } = tx;
      await manager.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_CHANGE_LOCK_KEY]);
      const user = await manager.findOneBy(User, { id });
      if (!user) throw new NotFoundException('No such user');
      const isEnabledAdmin = !user.disabled && user.roles.some((role) => role.name === BuiltInRole.Admin);
      const staysEnabledAdmin =
        !change.deleted &&
        !(change.disabled ?? user.disabled) &&
        (change.roles ?? user.roles.map((role) => role.name)).includes(BuiltInRole.Admin);
      if (isEnabledAdmin && !staysEnabledAdmin) {
        const [{ count }] = await manager.query<{ count: number }[]>(
          `SELECT count(*)::int AS count FROM users u JOIN user_roles r ON r.user_id = u.id
           WHERE r.role_name = $1 AND NOT u.disabled`,
          [BuiltInRole.Admin],
        );
        if (count <= 1)
          throw new ConflictException('This is the last enabled admin: make another admin first');
      }
      await apply(tx);
      await tx.publish([{ kind: 'user', key: id }]);
    });
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
}

/** The admin making a change (for the audit trail), from their request. */
function actorOf(req: Request | undefined): string | null {
  return req?.auth?.user.id ?? null;
}

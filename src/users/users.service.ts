import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { PasswordService } from './password.service';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service';
import { lockUntilTransactionEnds } from '../database/advisory-lock';
import { InvalidationBus, type PublishingTransaction } from '../database/invalidation-bus';
import { isUniqueViolation } from '../common/postgres-errors';
import { BuiltInRole } from '../roles/role-names';
import { MAX_ROLES_PER_USER } from '../roles/role.entity';
import { RolesService } from '../roles/roles.service';
import { normaliseEmail } from './email';
import type { User } from './user.entity';
import { UsersRepository } from './users.repository';

const EMAIL_TAKEN = 'An account with this email already exists';

/** Serialises changes that could remove the last enabled admin. */
const ADMIN_CHANGE_LOCK_KEY = 7_231_004_513;

/**
 * Ends a user's sign-ins inside the transaction that moves them to `credentialVersion`,
 * all but the token login `keep`. The sessions module registers one: users know no
 * sign-ins, sign-ins depend on users.
 */
export type SignInRevoker = (
  tx: PublishingTransaction,
  userId: string,
  credentialVersion: number,
  keep?: string,
) => Promise<void>;

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
  /** The address is vouched for (the bootstrap admin); otherwise it awaits its owner's proof. */
  emailVerified?: boolean;
}

/** More work in the transaction of a change to a user (a mail for the outbox, a spent token). */
export type WithinUserChange = (tx: PublishingTransaction, user: { id: string }) => Promise<void>;

@Injectable()
export class UsersService {
  private readonly signInRevokers: SignInRevoker[] = [];

  constructor(
    private readonly users: UsersRepository,
    private readonly roles: RolesService,
    private readonly passwords: PasswordService,
    private readonly bus: InvalidationBus,
    private readonly audit: AuditService,
  ) {}

  /**
   * Every account has the `user` role; 409 when the email is taken (checked by the
   * database). `within` runs in the transaction that creates it.
   */
  async create(
    { email, password, name = null, roles = [], emailVerified = false }: NewUser,
    within?: WithinUserChange,
  ): Promise<User> {
    const fields = {
      email: normaliseEmail(email),
      name,
      emailVerified,
      passwordHash: await this.passwords.hash(password),
      roles: await this.roles.findByNames([BuiltInRole.User, ...roles]),
    };
    try {
      return await this.bus.transaction(async (tx) => {
        const user = await this.users.create(fields, tx.manager);
        await within?.(tx, user);
        return user;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException(EMAIL_TAKEN);
      throw error;
    }
  }

  findById(id: string): Promise<User | null> {
    return this.users.findById(id);
  }

  findByEmail(email: string): Promise<User | null> {
    return this.users.findByEmail(normaliseEmail(email));
  }

  /** The user with the password hash loaded, for the places that check passwords. */
  findWithPasswordHash(by: { email: string } | { id: string }): Promise<User | null> {
    return this.users.findWithPasswordHash('email' in by ? { email: normaliseEmail(by.email) } : by);
  }

  async findByIdOrFail(id: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw new NotFoundException('No such user');
    return user;
  }

  /** A page of users, optionally those whose email or name contains `q` (case-insensitive). */
  search({ page, limit, q }: UserSearch): Promise<{ items: User[]; total: number }> {
    return this.users.search({ offset: (page - 1) * limit, limit, text: q });
  }

  /** Stores a new hash of the same password (BCRYPT_COST changed): no sign-in ends. */
  async rehashPassword(id: string, password: string): Promise<void> {
    await this.users.setPasswordHash(id, await this.passwords.hash(password));
  }

  /**
   * Sets a new password and ends every sign-in of the user but the token login
   * `keepLoginId`, in one transaction. Returns the new credential version.
   */
  async changePassword(
    id: string,
    password: string,
    keepLoginId?: string,
    within?: WithinUserChange,
  ): Promise<number> {
    // Hashed first: the transaction should hold the user's row for milliseconds, not a bcrypt.
    const passwordHash = await this.passwords.hash(password);
    return this.bus.transaction(async (tx) => {
      await within?.(tx, { id });
      await this.users.setPasswordHash(id, passwordHash, tx.manager);
      return this.endAllSignInsIn(tx, id, keepLoginId);
    });
  }

  /**
   * Runs a change to the user's second factors in one transaction with the flags it
   * leaves on the user (`change` returns them); every instance sees them on the next
   * request.
   */
  async changeSecondFactors(
    id: string,
    change: (tx: PublishingTransaction) => Promise<{ totpEnabled?: boolean; passkeyCount?: number }>,
  ): Promise<void> {
    await this.bus.transaction(async (tx) => {
      await this.users.setSecondFactors(id, await change(tx), tx.manager);
      await tx.publish([{ kind: 'user', key: id }]);
    });
  }

  /** The owner proved the address (in one transaction with `within`, announced at its commit). */
  async markEmailVerified(id: string, within?: WithinUserChange): Promise<void> {
    await this.bus.transaction(async (tx) => {
      await within?.(tx, { id });
      await this.users.setEmailVerified(id, tx.manager);
      await tx.publish([{ kind: 'user', key: id }]);
    });
  }

  /**
   * Moves the account to `email` (normalised; verified by the change) and ends all
   * its sign-ins, in one transaction with `within`; 409 when the address is taken.
   * Returns the new credential version.
   */
  async changeEmail(id: string, email: string, within?: WithinUserChange): Promise<number> {
    try {
      return await this.bus.transaction(async (tx) => {
        await within?.(tx, { id });
        await this.users.setEmail(id, normaliseEmail(email), tx.manager);
        return this.endAllSignInsIn(tx, id);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException(EMAIL_TAKEN);
      throw error;
    }
  }

  /** What ends a user's sign-ins when their credential version moves on (see SignInRevoker). */
  onEndAllSignIns(revoker: SignInRevoker): void {
    this.signInRevokers.push(revoker);
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
    const version = await this.users.bumpCredentialVersion(id, tx.manager);
    if (version === undefined) throw new NotFoundException('No such user');
    for (const revoke of this.signInRevokers) await revoke(tx, id, version, keepLoginId);
    await tx.publish([{ kind: 'user', key: id }]);
    return version;
  }

  async rename(id: string, name: string | null): Promise<User> {
    await this.users.setName(id, name);
    await this.bus.publish([{ kind: 'user', key: id }]);
    return this.findByIdOrFail(id);
  }

  /**
   * Enables or disables an account. A disabled user is refused at login and on every
   * existing session and token, at once: the sign-ins are revoked too.
   */
  async setDisabled(id: string, disabled: boolean, by?: Request): Promise<void> {
    await this.guardLastAdmin(id, { disabled }, async (tx) => {
      await this.users.setDisabled(id, disabled, tx.manager);
      if (disabled) await this.endAllSignInsIn(tx, id);
    });
    await this.audit.record(by, {
      type: disabled ? 'user.disabled' : 'user.enabled',
      userId: id,
      actorId: actorOf(by),
    });
  }

  /**
   * Deletes the account; its sign-ins end at once on every instance, in every store
   * (PostgreSQL would delete its own with the user, a Redis session store would not).
   */
  async delete(id: string, by?: Request): Promise<void> {
    await this.guardLastAdmin(id, { deleted: true }, async (tx) => {
      await this.endAllSignInsIn(tx, id);
      await this.users.delete(id, tx.manager);
    });
    await this.audit.record(by, { type: 'user.deleted', userId: id, actorId: actorOf(by) });
  }

  /** Replaces the user's roles; `user` is always kept. Unknown names are a 400. */
  async setRoles(id: string, names: readonly string[], by?: Request): Promise<User> {
    const wanted = [...new Set([BuiltInRole.User, ...names])];
    // `user` is always kept: with it the list may not pass the bound the API states.
    if (wanted.length > MAX_ROLES_PER_USER)
      throw new BadRequestException([`at most ${MAX_ROLES_PER_USER} roles, \`user\` included`]);
    const roles = await this.roles.findByNames(wanted);
    const unknown = wanted.filter((name) => !roles.some((role) => role.name === name));
    if (unknown.length) throw new BadRequestException([`unknown roles: ${unknown.join(', ')}`]);
    await this.guardLastAdmin(id, { roles: wanted }, ({ manager }) =>
      this.users.setRoles(id, wanted, manager),
    );
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
      await lockUntilTransactionEnds(manager, ADMIN_CHANGE_LOCK_KEY);
      const user = await this.users.findById(id, manager);
      if (!user) throw new NotFoundException('No such user');
      const isEnabledAdmin = !user.disabled && user.roles.some((role) => role.name === BuiltInRole.Admin);
      const staysEnabledAdmin =
        !change.deleted &&
        !(change.disabled ?? user.disabled) &&
        (change.roles ?? user.roles.map((role) => role.name)).includes(BuiltInRole.Admin);
      if (
        isEnabledAdmin &&
        !staysEnabledAdmin &&
        (await this.users.countEnabledWithRole(BuiltInRole.Admin, manager)) <= 1
      )
        throw new ConflictException('This is the last enabled admin: make another admin first');
      await apply(tx);
      await tx.publish([{ kind: 'user', key: id }]);
    });
  }

  /** Idempotent and safe when several instances start at once. Applies to existing sign-ins at once. */
  async grantRole(userId: string, role: string): Promise<void> {
    await this.users.addRole(userId, role);
    await this.bus.publish([{ kind: 'user', key: userId }]);
  }
}

/** The admin making a change (for the audit trail), from their request. */
function actorOf(req: Request | undefined): string | null {
  return req?.auth?.user.id ?? null;
}

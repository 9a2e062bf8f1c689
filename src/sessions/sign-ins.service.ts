import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { DependencyUnavailableError } from '../common/dependency-unavailable';
import { lockUntilTransactionEnds } from '../database/advisory-lock';
import { MAX_SIGN_INS_PER_USER, type SignInMethod } from './sign-in-method';
import { SESSIONS_OPTIONS, type SessionsOptions } from './sessions.options';
import { InvalidationBus, type PublishingTransaction } from '../database/invalidation-bus';
import type { SignInResponse } from './dto/sign-in.response';
import { SessionRepository } from './session-repository';
import { SessionStore } from './session.store';
import { TokenLoginsRepository } from './token-logins.repository';
import { UsersService } from '../users/users.service';

/** The sign-in a request was made with, so it can be marked, kept or ended. */
export interface CurrentSignIn {
  method: SignInMethod;
  /** SHA-256 of the cookie session's id. */
  sessionHash?: string;
  loginId?: string;
}

/** The space of the per-user locks new sign-ins take in turn (a 32-bit key; see lockUntilTransactionEnds). */
const SIGN_INS_LOCK_SPACE = 7_231_004;

/**
 * A user's sign-ins of both kinds (cookie sessions and token logins): listing and ending
 * them, and keeping each user at MAX_SIGN_INS_PER_USER live ones at most.
 */
@Injectable()
export class SignInsService {
  constructor(
    private readonly sessions: SessionRepository,
    private readonly logins: TokenLoginsRepository,
    private readonly store: SessionStore,
    private readonly bus: InvalidationBus,
    @Inject(SESSIONS_OPTIONS) private readonly config: SessionsOptions,
    private readonly audit: AuditService,
    users: UsersService,
  ) {
    // Whatever moves a user to a new credential version ends their sign-ins with it.
    users.onEndAllSignIns((tx, userId, version, keep) => this.revokeAllIn(tx, userId, version, keep));
    // Sign-ins are created by the login services, each in a transaction of its own: room is made there.
    sessions.beforeCreate((manager, userId) => this.makeRoom(manager, userId));
    logins.beforeCreate((manager, userId) => this.makeRoom(manager, userId));
  }

  /** The user's live sign-ins, newest first; at most MAX_SIGN_INS_PER_USER, the most recently used. */
  async list(userId: string, current?: CurrentSignIn): Promise<SignInResponse[]> {
    const idleMs = this.config.session.idleTimeoutMs;
    const sessions = await this.sessions.findLiveOfUser(userId, idleMs);
    const logins = await this.logins.findLiveOfUser(userId, this.config.jwt.loginIdleTimeoutSeconds);
    const iso = (date: Date) => date.toISOString();
    // More than the cap only after token sign-ins made while the Redis session store was
    // unreachable (see `makeRoom`): the least recently used wait for the next sign-in to end them.
    return [
      ...sessions.map((session) => ({
        id: session.publicId,
        method: 'session' as const,
        createdAt: iso(session.createdAt),
        lastUsedAt: iso(session.lastUsedAt),
        expiresAt: iso(
          new Date(Math.min(session.absoluteExpiresAt.getTime(), session.lastUsedAt.getTime() + idleMs)),
        ),
        ip: session.ip,
        userAgent: session.userAgent,
        current: current?.sessionHash === session.idHash,
      })),
      ...logins.map((login) => ({
        id: login.id,
        method: 'jwt' as const,
        createdAt: iso(login.createdAt),
        lastUsedAt: iso(login.lastUsedAt),
        expiresAt: iso(login.expiresAt),
        ip: login.ip,
        userAgent: login.userAgent,
        current: current?.loginId === login.id,
      })),
    ]
      .sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt))
      .slice(0, MAX_SIGN_INS_PER_USER)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Ends one of the caller's sign-ins by its public id; false when they have none by that id. */
  async revoke(req: Request, id: string): Promise<boolean> {
    const userId = req.auth!.user.id;
    const session = await this.sessions.findOfUser(userId, id);
    const login = session ? null : await this.logins.findActiveOfUser(userId, id);
    if (session) await this.store.remove(session.idHash);
    else if (login) await this.revokeLogins([login.id]);
    else return false;
    await this.audit.record(req, { type: 'signin.revoked', userId, details: { id } });
    return true;
  }

  /**
   * Ends every sign-in of the user but the token login `keep`, inside `tx`, whose caller
   * has just moved the user to `credentialVersion` (UsersService.endAllSignIns calls it). One
   * statement per table however many there are, and no notification per sign-in: the
   * user's new credential version, announced once, is what every instance checks
   * sign-ins against. The kept login moves to the new version with the user.
   */
  async revokeAllIn(
    tx: PublishingTransaction,
    userId: string,
    credentialVersion: number,
    keep?: string,
  ): Promise<void> {
    await this.sessions.deleteAllOfUser(userId, tx.manager);
    await this.logins.revokeAllOfUser(userId, keep, tx.manager);
    if (!keep) return;
    await this.logins.setCredentialVersion(keep, userId, credentialVersion, tx.manager);
    await tx.publish([{ kind: 'login', key: keep }]);
  }

  /**
   * Makes room for a new sign-in of the user, in the transaction that will create it:
   * beyond MAX_SIGN_INS_PER_USER, the least recently used ones end first, through the
   * usual revocation (refused on their next use, on every instance), before the new one
   * can be seen. New sign-ins of one user take turns on a lock held until their commit,
   * so two at once count each other. Usually one ends; more only for a user who had more
   * before the cap existed. What `list` shows is what is counted.
   */
  private async makeRoom(manager: EntityManager, userId: string): Promise<void> {
    // Per user, an advisory lock rather than the user's row: each sign-in already holds
    // that row FOR SHARE, and two of them upgrading it would deadlock.
    await lockUntilTransactionEnds(manager, SIGN_INS_LOCK_SPACE, userId);
    const sessions = await this.sessions
      .findLiveOfUser(userId, this.config.session.idleTimeoutMs, manager)
      .catch((error: unknown) => {
        // Token sign-ins keep working while the Redis session store is unreachable, uncounted
        // cookie sessions and all (a cookie sign-in needs Redis, and fails before this).
        if (error instanceof DependencyUnavailableError) return [];
        throw error;
      });
    const logins = await this.logins.findLiveOfUser(userId, this.config.jwt.loginIdleTimeoutSeconds, manager);
    const excess = sessions.length + logins.length + 1 - MAX_SIGN_INS_PER_USER;
    if (excess <= 0) return;
    const signIns: (Omit<CurrentSignIn, 'method'> & { lastUsedAt: Date; createdAt: Date })[] = [
      ...sessions.map(({ idHash, lastUsedAt, createdAt }) => ({
        sessionHash: idHash,
        lastUsedAt,
        createdAt,
      })),
      ...logins.map(({ id, lastUsedAt, createdAt }) => ({ loginId: id, lastUsedAt, createdAt })),
    ];
    const ended = signIns
      .sort(
        (a, b) =>
          a.lastUsedAt.getTime() - b.lastUsedAt.getTime() || a.createdAt.getTime() - b.createdAt.getTime(),
      )
      .slice(0, excess);
    // All in the sign-in's own transaction: a second connection taken while this one holds
    // the user's lock would let a burst of sign-ins at the cap exhaust the pool.
    const hashes = ended.flatMap(({ sessionHash }) => sessionHash ?? []);
    const loginIds = ended.flatMap(({ loginId }) => loginId ?? []);
    if (hashes.length) await this.sessions.delete(hashes, manager);
    if (loginIds.length) await this.logins.revoke(loginIds, manager);
    await this.bus.publishIn(manager, [
      ...hashes.map((key) => ({ kind: 'session' as const, key })),
      ...loginIds.map((key) => ({ kind: 'login' as const, key })),
    ]);
    // Not awaited, so the lock is not held for it (it takes a connection of its own; it never throws).
    void this.audit.record(undefined, {
      type: 'signin.revoked',
      userId,
      details: { reason: 'sign-in limit', count: ended.length },
    });
  }

  /** Their refresh tokens stop working, and their access tokens on next use, on every instance. */
  async revokeLogins(loginIds: string[]): Promise<void> {
    if (!loginIds.length) return;
    await this.bus.transaction(async (tx) => {
      await this.logins.revoke(loginIds, tx.manager);
      await tx.publish(loginIds.map((key) => ({ kind: 'login', key })));
    });
  }
}

import { BadRequestException, ConflictException, Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service';
import { MailService } from '../../mail/mail.service';
import { normaliseEmail } from '../../users/email';
import type { User } from '../../users/user.entity';
import { UsersService } from '../../users/users.service';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { Reauthentication } from '../reauthentication.service';
import { AccountTokensRepository, hashAccountToken, newAccountToken } from './account-tokens.repository';
import { INVALID_LINK } from './recovery-messages';
import { TooManyMailsException } from './too-many-mails.exception';
import { validFor } from './valid-for';

/** One verification mail a minute per account, however it is asked for. */
const RESEND_INTERVAL_MS = 60_000;

/** What following a link did. */
export interface FollowedLink {
  user: User;
  /** An email change: the user's new credential version (every sign-in of the old one ended). */
  credentialVersion?: number;
}

/**
 * Proving an address: the verification mail (at sign-up, and on request), the email
 * change (a link to the new address; the account moves only when it is followed),
 * and following either link (POST /api/auth/email/verify, the /verify-email and
 * /confirm-email pages).
 */
@Injectable()
export class EmailVerificationService {
  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly tokens: AccountTokensRepository,
    private readonly mail: MailService,
    private readonly reauth: Reauthentication,
    private readonly audit: AuditService,
  ) {}

  /** Sign-up mails a link unless EMAIL_VERIFICATION=off. */
  get mailsAtSignup(): boolean {
    return this.options.account.emailVerification !== 'off';
  }

  /** A verification link for `user`, in `manager`'s transaction (call `mail.wake()` after it commits). */
  async queueLink(manager: EntityManager, user: { id: string; email: string }): Promise<void> {
    const { token, tokenHash } = newAccountToken();
    const ttlMs = this.options.account.emailVerificationTtlMs;
    await this.tokens.replace(manager, { userId: user.id, purpose: 'email_verification', tokenHash, ttlMs });
    await this.mail.queue(manager, user.email, 'email-verification', {
      link: this.mail.link('/verify-email', token),
      validFor: validFor(ttlMs),
    });
  }

  /** A new verification mail (the user's own request, or an admin's): 409 once verified, 429 within a minute of the last. */
  async resend(userId: string, req: Request): Promise<void> {
    const user = await this.users.findByIdOrFail(userId);
    if (user.emailVerified) throw new ConflictException('This email address is already verified');
    if ((await this.tokens.countRecent(user.id, 'email_verification', RESEND_INTERVAL_MS)) > 0)
      throw new TooManyMailsException(RESEND_INTERVAL_MS / 1000);
    await this.dataSource.transaction((manager) => this.queueLink(manager, user));
    this.mail.wake();
    await this.audit.record(req, {
      type: 'email.verification_sent',
      userId: user.id,
      actorId: req.auth?.user.id,
    });
  }

  /**
   * The caller asks to move their account to `newEmail` (password checked, like a
   * login, under the account lock): a link goes to the new address, nothing changes
   * until it is followed. 400 when it is their address already, 409 when taken.
   */
  async requestChange(req: Request, newEmail: string, password: string): Promise<void> {
    const user = await this.reauth.confirmCallerPassword(req, password, 'email.change');
    const email = normaliseEmail(newEmail);
    if (email === user.email) throw new BadRequestException(['newEmail is already your address']);
    if (await this.users.findByEmail(email))
      throw new ConflictException('An account with this email already exists');
    const { token, tokenHash } = newAccountToken();
    const ttlMs = this.options.account.emailVerificationTtlMs;
    await this.dataSource.transaction(async (manager) => {
      await this.tokens.replace(manager, {
        userId: user.id,
        purpose: 'email_change',
        tokenHash,
        ttlMs,
        newEmail: email,
      });
      await this.mail.queue(manager, email, 'email-change', {
        link: this.mail.link('/confirm-email', token),
        newEmail: email,
        validFor: validFor(ttlMs),
      });
    });
    this.mail.wake();
    await this.audit.record(req, { type: 'email.change_requested', userId: user.id });
  }

  /** What a link would do if followed now (the pages ask before showing their button); spends nothing. */
  async linkPurpose(token: string): Promise<'email_verification' | 'email_change' | null> {
    const found = await this.tokens.findUsable(hashAccountToken(token), [
      'email_verification',
      'email_change',
    ]);
    return found ? (found.purpose as 'email_verification' | 'email_change') : null;
  }

  /**
   * Follows a verification or email-change link: 400 (one message) when it cannot be
   * used. An email change moves the account (409 if the address was taken since),
   * tells the old address, and ends every sign-in of the account.
   */
  async follow(token: string, req: Request): Promise<FollowedLink> {
    const tokenHash = hashAccountToken(token);
    const found = await this.tokens.findUsable(tokenHash, ['email_verification', 'email_change']);
    const before = found && (await this.users.findById(found.userId));
    if (!found || !before) throw new BadRequestException(INVALID_LINK);
    const spend = async (manager: EntityManager) => {
      if (!(await this.tokens.consume(tokenHash, [found.purpose], manager)))
        throw new BadRequestException(INVALID_LINK);
    };

    if (found.purpose === 'email_verification') {
      await this.users.markEmailVerified(before.id, (tx) => spend(tx.manager));
      await this.audit.record(req, { type: 'email.verified', userId: before.id });
      return { user: await this.users.findByIdOrFail(before.id) };
    }

    const credentialVersion = await this.users.changeEmail(before.id, found.newEmail!, async (tx) => {
      await spend(tx.manager);
      await this.mail.queue(tx.manager, before.email, 'email-changed', {
        oldEmail: before.email,
        newEmail: found.newEmail!,
      });
    });
    this.mail.wake();
    await this.audit.record(req, {
      type: 'email.changed',
      userId: before.id,
      details: { from: before.email, to: found.newEmail },
    });
    return { user: await this.users.findByIdOrFail(before.id), credentialVersion };
  }
}

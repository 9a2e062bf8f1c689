import { BadRequestException, Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Request } from 'express';
import type { EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service';
import { MailService } from '../../mail/mail.service';
import { OutboxWorker } from '../../mail/outbox.worker';
import { type ClaimedMessage, OutboxRepository } from '../../mail/outbox.repository';
import { SignInCleanup } from '../../sessions/sign-in-cleanup';
import { normaliseEmail } from '../../users/email';
import { PasswordPolicy } from '../../users/password-policy';
import { UsersRepository } from '../../users/users.repository';
import { UsersService } from '../../users/users.service';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { LoginLockout } from '../lockout/login-lockout.service';
import { AccountTokensRepository, hashAccountToken, newAccountToken } from './account-tokens.repository';
import { INVALID_LINK } from './recovery-messages';
import { validFor } from './valid-for';

const REQUEST_KIND = 'password-reset-request';
const DAY_MS = 24 * 3600_000;
/** Per address: at most this many reset mails an hour, whatever the number of IPs asking. */
const MAX_RESET_MAILS_PER_HOUR = 3;

/**
 * Password reset by mail (OWASP Forgot Password cheat sheet): the request is queued
 * and answered at once, alike for every address, and the worker does the rest (the
 * lookup, the per-address limit, the token and its mail, in one transaction).
 * Following the link sets a new password, ends every sign-in and creates none.
 */
@Injectable()
export class PasswordResetService implements OnModuleInit {
  private readonly logger = new Logger(PasswordResetService.name);

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    private readonly users: UsersService,
    private readonly userRows: UsersRepository,
    private readonly tokens: AccountTokensRepository,
    private readonly mail: MailService,
    private readonly worker: OutboxWorker,
    private readonly policy: PasswordPolicy,
    private readonly lockout: LoginLockout,
    private readonly audit: AuditService,
    private readonly cleanup: SignInCleanup,
    private readonly outbox: OutboxRepository,
  ) {}

  onModuleInit(): void {
    this.worker.handle(REQUEST_KIND, (message, manager) => this.mailResetLink(message, manager));
    // Kept a day past expiry (the per-address limits count them), then gone; delivered mail a week.
    this.cleanup.register('accountTokens', (manager, batch) =>
      this.tokens.deleteExpired(DAY_MS, batch, manager),
    );
    this.cleanup.register('outbox', (manager, batch) =>
      this.outbox.deleteFinished(7 * DAY_MS, batch, manager),
    );
  }

  /** Queues the request: one insert, the same for known and unknown addresses. The account is not touched. */
  async request(email: string, req: Request): Promise<void> {
    await this.mail.queueJob(REQUEST_KIND, normaliseEmail(email), { ip: req.ip ?? null });
  }

  /** The worker's half of a request: a link for an enabled account, nothing otherwise. */
  private async mailResetLink({ recipient, payload }: ClaimedMessage, manager: EntityManager): Promise<void> {
    const user = await this.userRows.findByEmail(recipient, manager);
    if (!user || user.disabled) return;
    const recent = await this.tokens.countRecent(user.id, 'password_reset', 3600_000);
    if (recent >= MAX_RESET_MAILS_PER_HOUR) {
      this.logger.warn({ userId: user.id }, 'Password reset mail not sent: per-address limit reached');
      return;
    }
    const { token, tokenHash } = newAccountToken();
    const ttlMs = this.options.account.passwordResetTtlMs;
    await this.tokens.replace(manager, { userId: user.id, purpose: 'password_reset', tokenHash, ttlMs });
    await this.mail.queue(manager, user.email, 'password-reset', {
      link: this.mail.link('/reset-password', token),
      validFor: validFor(ttlMs),
    });
    await this.audit.record(undefined, {
      type: 'password.reset_requested',
      userId: user.id,
      details: { ip: payload.ip ?? null },
    });
  }

  /** Whether a reset link can still be used (the page asks before showing its form); spends nothing. */
  async linkIsUsable(token: string): Promise<boolean> {
    return (await this.tokens.findUsable(hashAccountToken(token), ['password_reset'])) !== null;
  }

  /**
   * Sets the new password (400 when the link cannot be used or the password breaks
   * the rules: the link stays usable then), spends the link, ends every sign-in, tells
   * the user by mail, clears the account lock (they proved the mailbox) and marks the
   * address verified.
   */
  async reset(token: string, newPassword: string, req: Request): Promise<void> {
    const tokenHash = hashAccountToken(token);
    const found = await this.tokens.findUsable(tokenHash, ['password_reset']);
    const user = found && (await this.users.findById(found.userId));
    if (!user) throw new BadRequestException(INVALID_LINK);
    const problems = this.policy.problems(newPassword, 'newPassword', [user.email, user.name]);
    if (problems.length) throw new BadRequestException(problems);
    await this.users.changePassword(user.id, newPassword, undefined, async (tx) => {
      if (!(await this.tokens.consume(tokenHash, ['password_reset'], tx.manager)))
        throw new BadRequestException(INVALID_LINK);
      await this.userRows.setEmailVerified(user.id, tx.manager);
      await this.mail.queue(tx.manager, user.email, 'password-changed');
    });
    this.mail.wake();
    await this.lockout.unlock(user.email);
    await this.audit.record(req, { type: 'password.reset', userId: user.id });
  }
}

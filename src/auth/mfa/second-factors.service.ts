import { ConflictException, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { AuditService } from '../../audit/audit.service';
import { MailService } from '../../mail/mail.service';
import type { User } from '../../users/user.entity';
import { UsersService } from '../../users/users.service';
import { PasskeysRepository } from '../passkeys/passkeys.repository';
import { RecoveryCodesService } from './recovery-codes.service';
import { type TotpSetup, TotpService } from './totp.service';

/**
 * A user's second factors as a whole: turning TOTP on and off, new recovery codes,
 * an admin's reset. Each change runs in one transaction with the flags it leaves on
 * the user (what `/me` and the login read) and a mail telling the user.
 */
@Injectable()
export class SecondFactorsService {
  constructor(
    private readonly users: UsersService,
    private readonly totp: TotpService,
    private readonly recoveryCodes: RecoveryCodesService,
    private readonly passkeys: PasskeysRepository,
    private readonly mail: MailService,
    private readonly audit: AuditService,
  ) {}

  beginTotp(user: User): Promise<TotpSetup> {
    return this.totp.beginSetup(user);
  }

  /** The pending TOTP seed accepts `code`: it is on, with a first set of recovery codes. */
  async confirmTotp(req: Request, user: User, code: string): Promise<string[]> {
    let codes: string[] = [];
    await this.users.changeSecondFactors(user.id, async (tx) => {
      await this.totp.confirm(user.id, code, tx);
      codes = await this.recoveryCodes.replace(user.id, tx);
      await this.notify(tx.manager, user, 'Two-step sign-in with an authenticator app was turned on.');
      return { totpEnabled: true };
    });
    this.mail.wake();
    await this.audit.record(req, { type: 'mfa.totp_enabled', userId: user.id });
    return codes;
  }

  /** TOTP off; its recovery codes go with it. */
  async removeTotp(req: Request, user: User): Promise<void> {
    await this.users.changeSecondFactors(user.id, async (tx) => {
      await this.totp.remove(user.id, tx);
      await this.recoveryCodes.removeAll(user.id, tx);
      await this.notify(tx.manager, user, 'Two-step sign-in with an authenticator app was turned off.');
      return { totpEnabled: false };
    });
    this.mail.wake();
    await this.audit.record(req, { type: 'mfa.totp_disabled', userId: user.id });
  }

  /** A new set of recovery codes, the old one void; 409 without TOTP (they stand in for it). */
  async newRecoveryCodes(req: Request, user: User): Promise<string[]> {
    if (!user.totpEnabled) throw new ConflictException('Recovery codes come with TOTP: set up TOTP first');
    let codes: string[] = [];
    await this.users.changeSecondFactors(user.id, async (tx) => {
      codes = await this.recoveryCodes.replace(user.id, tx);
      await this.notify(tx.manager, user, 'New recovery codes were made; the old ones no longer work.');
      return {};
    });
    this.mail.wake();
    await this.audit.record(req, { type: 'mfa.recovery_codes_generated', userId: user.id });
    return codes;
  }

  /** An admin removes every second factor of a user (TOTP, recovery codes, passkeys); the user is told. */
  async reset(req: Request, userId: string): Promise<void> {
    const user = await this.users.findByIdOrFail(userId);
    await this.users.changeSecondFactors(user.id, async (tx) => {
      await this.totp.remove(user.id, tx);
      await this.recoveryCodes.removeAll(user.id, tx);
      await this.passkeys.deleteAllOfUser(user.id, tx.manager);
      await this.notify(
        tx.manager,
        user,
        'An administrator removed your second factors (authenticator app, recovery codes and passkeys).',
      );
      return { totpEnabled: false, passkeyCount: 0 };
    });
    this.mail.wake();
    await this.audit.record(req, { type: 'mfa.reset', userId: user.id, actorId: req.auth?.user.id });
  }

  /** Tells the user of a change to their sign-in, in the transaction that makes it. */
  notify(manager: Parameters<MailService['queue']>[0], user: User, change: string): Promise<void> {
    return this.mail.queue(manager, user.email, 'security-notice', { change });
  }
}

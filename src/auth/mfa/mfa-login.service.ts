import { Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import { AuditService } from '../../audit/audit.service';
import { randomSecret, sha256Hex } from '../../common/opaque-secrets';
import type { SignInMethod } from '../../sessions/sign-in-method';
import type { User } from '../../users/user.entity';
import { SignInCleanup } from '../../sessions/sign-in-cleanup';
import { UsersService } from '../../users/users.service';
import { LoginLockout } from '../lockout/login-lockout.service';
import { MfaLoginsRepository } from './mfa-logins.repository';
import { RecoveryCodesService } from './recovery-codes.service';
import { TotpService } from './totp.service';

const MFA_LOGIN_TTL_MS = 5 * 60_000;
export const INVALID_MFA_TOKEN = 'This sign-in step has expired or was used: sign in again';
export const INVALID_SECOND_FACTOR = 'Invalid code';

export type SecondFactorMethod = 'totp' | 'recovery_code';

/** What a password login of a user with a second factor answers instead of a sign-in. */
export interface MfaChallenge {
  mfaRequired: true;
  mfaToken: string;
  methods: SecondFactorMethod[];
}

/** A TOTP code or a recovery code, as a second step or a re-authentication carries it. */
export interface SecondFactorProof {
  code?: string;
  recoveryCode?: string;
}

/**
 * The second step of a password login. The password step hands out an `mfaToken`
 * (256 bits, stored hashed, bound to the user, the kind of sign-in and the credential
 * version it read, 5 minutes); no session id or token exists until the second step
 * passes. Codes are checked under the account lock like passwords: a wrong one counts,
 * and a right password does not take it back (the lock gives back only the slots of
 * checks that passed), so holding the password buys no endless code guessing.
 */
@Injectable()
export class MfaLoginService {
  constructor(
    private readonly logins: MfaLoginsRepository,
    private readonly users: UsersService,
    private readonly totp: TotpService,
    private readonly recoveryCodes: RecoveryCodesService,
    private readonly lockout: LoginLockout,
    private readonly audit: AuditService,
    cleanup: SignInCleanup,
  ) {
    cleanup.register('mfaLogins', (manager, batch) => logins.deleteExpired(batch, manager));
  }

  /** Whether a password login of `user` needs a second step. */
  isRequired(user: User): boolean {
    return user.totpEnabled;
  }

  async challenge(user: User, kind: SignInMethod): Promise<MfaChallenge> {
    const mfaToken = randomSecret();
    await this.logins.create({
      tokenHash: sha256Hex(mfaToken),
      userId: user.id,
      kind,
      credentialVersion: user.credentialVersion,
      ttlMs: MFA_LOGIN_TTL_MS,
    });
    return { mfaRequired: true, mfaToken, methods: ['totp', 'recovery_code'] };
  }

  /**
   * Checks the second step; the user (at the credential version the password step
   * read) and the kind of sign-in to create. 401 for an unknown, spent or expired
   * token (or one of another kind than `onlyKind`) or a wrong code, 429 once the
   * account is locked.
   */
  async complete(
    req: Request,
    mfaToken: string,
    proof: SecondFactorProof,
    onlyKind?: SignInMethod,
  ): Promise<{ user: User; kind: SignInMethod }> {
    const login = await this.logins.findUsable(sha256Hex(mfaToken));
    const user = login && (await this.users.findById(login.userId));
    if (!login || !user || user.disabled || (onlyKind && login.kind !== onlyKind))
      throw new UnauthorizedException(INVALID_MFA_TOKEN);
    await this.prove(
      req,
      user,
      proof,
      `login.${login.kind}`,
      () => new UnauthorizedException(INVALID_SECOND_FACTOR),
    );
    if (!(await this.logins.consume(login.id))) throw new UnauthorizedException(INVALID_MFA_TOKEN);
    user.credentialVersion = login.credentialVersion;
    return { user, kind: login.kind };
  }

  /**
   * A TOTP code or a recovery code of `user`, checked under the account lock (a
   * failure is audited and answered with `refusal()`); spends what it accepts.
   */
  async prove(
    req: Request,
    user: User,
    { code, recoveryCode }: SecondFactorProof,
    purpose: string,
    refusal: () => Error,
  ): Promise<void> {
    const { ok, locksAccount } = await this.lockout.check(user.email, () =>
      code !== undefined
        ? this.totp.verify(user.id, code)
        : recoveryCode !== undefined
          ? this.recoveryCodes.use(user.id, recoveryCode)
          : Promise.resolve(false),
    );
    if (ok) {
      if (recoveryCode !== undefined)
        await this.audit.record(req, {
          type: 'mfa.recovery_code_used',
          userId: user.id,
          details: { purpose, remaining: await this.recoveryCodes.remaining(user.id) },
        });
      return;
    }
    await this.audit.record(req, { type: 'mfa.failed', userId: user.id, details: { purpose } });
    if (locksAccount)
      await this.audit.record(req, {
        type: 'account.locked',
        userId: user.id,
        details: { email: user.email },
      });
    throw refusal();
  }
}

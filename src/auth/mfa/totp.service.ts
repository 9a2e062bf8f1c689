import { BadRequestException, ConflictException, Inject, Injectable } from '@nestjs/common';
import { generateSecret, generateURI, verify } from 'otplib/functional';
import { toString as qrCode } from 'qrcode';
import { SecretBox } from '../../common/secret-box';
import type { PublishingTransaction } from '../../database/invalidation-bus';
import type { User } from '../../users/user.entity';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { TotpFactorsRepository } from './totp-factors.repository';

/** RFC 6238 defaults every authenticator app knows: 30 s steps, 6 digits, SHA-1. */
const STEP_SECONDS = 30;
export const INVALID_CODE = 'The code is not valid: enter the current one from your authenticator';

export interface TotpSetup {
  secret: string;
  otpauthUri: string;
  /** The URI as a QR code, an SVG document drawn on the server. */
  qrCodeSvg: string;
}

/**
 * TOTP with otplib: a 160-bit seed (base32, as authenticator apps take it), sealed at
 * rest under a key derived from PASSWORD_PEPPER (a secret that never changes), shown
 * once, active only once a correct code confirms it. A code is accepted once: the
 * time-step it was accepted for is stored and no code of that or an earlier step
 * works after it; ±1 step of clock drift is allowed.
 */
@Injectable()
export class TotpService {
  private readonly box: SecretBox;

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    private readonly factors: TotpFactorsRepository,
  ) {
    this.box = new SecretBox(options.secrets.passwordPepper, 'totp-seed');
  }

  /** A new pending seed for `user` (replacing a pending one); 409 while one is confirmed. */
  async beginSetup(user: User): Promise<TotpSetup> {
    if (await this.factors.findConfirmedOfUser(user.id))
      throw new ConflictException('TOTP is already set up: remove it first to set up another');
    const secret = generateSecret();
    await this.factors.savePending(user.id, this.box.seal(secret));
    const otpauthUri = generateURI({ issuer: this.options.serviceName, label: user.email, secret });
    return { secret, otpauthUri, qrCodeSvg: await qrCode(otpauthUri, { type: 'svg', margin: 2 }) };
  }

  /** The pending seed accepts `code`: it becomes the user's factor, inside `tx`. 400 otherwise. */
  async confirm(userId: string, code: string, tx: PublishingTransaction): Promise<void> {
    const factor = await this.factors.findOfUser(userId);
    if (!factor || factor.confirmedAt)
      throw new BadRequestException('No TOTP set-up is waiting: start one first');
    if (!(await this.accepts(userId, factor.secretSealed, null, code, tx)))
      throw new BadRequestException(INVALID_CODE);
    await this.factors.confirm(userId, tx.manager);
  }

  /** Whether `code` is a valid, unused code of the user's confirmed factor (and spends it). */
  async verify(userId: string, code: string): Promise<boolean> {
    const factor = await this.factors.findConfirmedOfUser(userId);
    if (!factor) return false;
    return this.accepts(userId, factor.secretSealed, factor.lastUsedStep, code);
  }

  async remove(userId: string, tx: PublishingTransaction): Promise<void> {
    await this.factors.delete(userId, tx.manager);
  }

  private async accepts(
    userId: string,
    sealed: string,
    lastUsedStep: string | null,
    code: string,
    tx?: PublishingTransaction,
  ): Promise<boolean> {
    if (!/^\d{6}$/.test(code)) return false;
    const result = await verify({
      secret: this.box.open(sealed),
      token: code,
      period: STEP_SECONDS,
      epochTolerance: STEP_SECONDS,
      ...(lastUsedStep === null ? {} : { afterTimeStep: Number(lastUsedStep) }),
    });
    // The store decides, atomically, that this step was not used meanwhile (two racing requests).
    if (!result.valid || !('timeStep' in result)) return false;
    return this.factors.useStep(userId, result.timeStep, tx?.manager);
  }
}

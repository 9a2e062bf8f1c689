import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { sha256Hex } from '../../common/opaque-secrets';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { SignInCleanup } from '../../sessions/sign-in-cleanup';
import { normaliseEmail } from '../../users/email';
import { type AttemptReservation, LoginAttemptsRepository } from './login-attempts.repository';

/** The long-term cap's window (NIST SP 800-63B 5.2.2: at most 100 consecutive failures). */
const DAY_MS = 24 * 3600 * 1000;

/** An attempt's slot, held while its password is checked. */
type LoginReservation = AttemptReservation & { accountKey: string };

/** 429 with the seconds to wait, answered alike for known and unknown accounts. */
export class AccountLockedException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super('Too many failed sign-in attempts for this account; try again later', HttpStatus.TOO_MANY_REQUESTS);
  }
}

/** The outcome of one password check made under the lock. */
export interface LockedCheck {
  ok: boolean;
  /** This failure is the one that locked the account. */
  locksAccount: boolean;
}

/**
 * Per-account brute-force lock, shared by every instance through PostgreSQL. Two
 * windows count the same failed password checks (logins by either method, and a
 * signed-in user's re-authentication): after LOGIN_MAX_FAILURES within
 * LOGIN_FAILURE_WINDOW_SECONDS, and after LOGIN_MAX_DAILY_FAILURES within a day,
 * every attempt on that account is refused, right password or not, until the window
 * that filled ends (or an admin unlocks the account). The short window slows a burst;
 * the day cap stops an attacker who paces themself under it from guessing for ever.
 *
 * Each attempt reserves its slot atomically *before* the password is checked, so
 * a parallel burst cannot slip past the count; a successful check gives its slot
 * back, so only failures count, and a refused attempt takes no slot. The key is the
 * normalised email, so case and spaces change nothing.
 */
@Injectable()
export class LoginLockout {
  constructor(
    private readonly attempts: LoginAttemptsRepository,
    @Inject(AUTH_OPTIONS) private readonly config: AuthOptions,
    cleanup: SignInCleanup,
  ) {
    // Rows whose windows have both closed count nothing any more.
    cleanup.register('loginAttempts', (manager, batch) =>
      attempts.deleteClosed(config.abuse.loginFailureWindowMs, DAY_MS, batch, manager),
    );
  }

  /**
   * One password check under the lock: 429 when the account is locked; otherwise the
   * check runs with its slot reserved, which a failure (false) keeps and a success
   * gives back. A check that throws did not judge the password (the database is down,
   * the password checks are full): its slot is given back and the error goes on.
   */
  async check(email: string, judge: () => Promise<boolean>): Promise<LockedCheck> {
    const reservation = await this.reserve(email);
    let ok: boolean;
    try {
      ok = await judge();
    } catch (error) {
      await this.release(reservation).catch(() => undefined);
      throw error;
    }
    if (ok) await this.release(reservation);
    return { ok, locksAccount: !ok && this.locksAccount(reservation) };
  }

  private async reserve(email: string): Promise<LoginReservation> {
    const accountKey = keyOf(email);
    const { maxLoginFailures, loginFailureWindowMs, maxDailyLoginFailures } = this.config.abuse;
    const slot = await this.attempts.reserve(accountKey, {
      windowMs: loginFailureWindowMs,
      maxFailures: maxLoginFailures,
      dayMs: DAY_MS,
      maxDailyFailures: maxDailyLoginFailures,
    });
    if (slot.locked) throw new AccountLockedException(Math.max(1, Math.ceil(slot.retryMs / 1000)));
    return { ...slot, accountKey };
  }

  /** True when this failed attempt is the one that locks the account. */
  private locksAccount(reservation: LoginReservation): boolean {
    return (
      reservation.attempts === this.config.abuse.maxLoginFailures ||
      reservation.dayFailures === this.config.abuse.maxDailyLoginFailures
    );
  }

  /** The check succeeded (or did not judge): its attempt does not count. */
  private async release(reservation: LoginReservation): Promise<void> {
    await this.attempts.release(reservation.accountKey, reservation);
  }

  /** An admin lifts the lock of the account with this email, whichever window holds it. */
  async unlock(email: string): Promise<void> {
    await this.attempts.delete(keyOf(email));
  }
}

function keyOf(email: string): string {
  return sha256Hex(normaliseEmail(email));
}

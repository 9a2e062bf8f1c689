import { createHash } from 'node:crypto';
import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { normaliseEmail } from '../../users/email';

/** The long-term cap's window (NIST SP 800-63B 5.2.2: at most 100 consecutive failures). */
export const DAY_MS = 24 * 3600 * 1000;

interface LoginReservation {
  accountKey: string;
  /** This attempt's place in the window: if it fails and this equals the maximum, the lock engages. */
  attempt: number;
  /** This attempt's place in the day window, likewise for the daily cap. */
  dayAttempt: number;
  /** As PostgreSQL wrote them: a JS Date would drop the microseconds and never match again. */
  window: string;
  day: string;
}

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
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

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
    // Whether each window is open and full, from the row as it was; a refused attempt
    // changes nothing, so waiting out the short window does not feed the day cap.
    const sOpen = `a.window_started_at > now() - $2 * interval '1 millisecond'`;
    const dOpen = `a.day_started_at > now() - $5 * interval '1 millisecond'`;
    const sFull = `(${sOpen} AND a.attempts >= $3)`;
    const dFull = `(${dOpen} AND a.day_failures >= $4)`;
    const [row] = await this.dataSource.query<
      {
        locked: boolean;
        attempts: number;
        day_failures: number;
        window: string;
        day: string;
        retry_ms: number;
      }[]
    >(
      `INSERT INTO login_attempts AS a (account_key, window_started_at, attempts, day_started_at, day_failures)
       VALUES ($1, now(), 1, now(), 1)
       ON CONFLICT (account_key) DO UPDATE SET
         window_started_at = CASE WHEN ${sOpen} OR ${sFull} OR ${dFull} THEN a.window_started_at ELSE now() END,
         day_started_at = CASE WHEN ${dOpen} OR ${sFull} OR ${dFull} THEN a.day_started_at ELSE now() END,
         attempts = CASE WHEN ${sFull} THEN $3 + 1 WHEN ${dFull} THEN a.attempts
                         WHEN ${sOpen} THEN a.attempts + 1 ELSE 1 END,
         day_failures = CASE WHEN ${dFull} THEN $4 + 1 WHEN ${sFull} THEN a.day_failures
                             WHEN ${dOpen} THEN a.day_failures + 1 ELSE 1 END
       RETURNING attempts, day_failures, window_started_at::text AS window, day_started_at::text AS day,
         (window_started_at > now() - $2 * interval '1 millisecond' AND attempts > $3)
           OR (day_started_at > now() - $5 * interval '1 millisecond' AND day_failures > $4) AS locked,
         extract(epoch FROM greatest(
           CASE WHEN attempts > $3 THEN window_started_at + $2 * interval '1 millisecond' END,
           CASE WHEN day_failures > $4 THEN day_started_at + $5 * interval '1 millisecond' END
         ) - now()) * 1000 AS retry_ms`,
      [accountKey, loginFailureWindowMs, maxLoginFailures, maxDailyLoginFailures, DAY_MS],
    );
    if (row.locked) throw new AccountLockedException(Math.max(1, Math.ceil(Number(row.retry_ms) / 1000)));
    return {
      accountKey,
      attempt: row.attempts,
      dayAttempt: row.day_failures,
      window: row.window,
      day: row.day,
    };
  }

  /** True when this failed attempt is the one that locks the account. */
  private locksAccount(reservation: LoginReservation): boolean {
    return (
      reservation.attempt === this.config.abuse.maxLoginFailures ||
      reservation.dayAttempt === this.config.abuse.maxDailyLoginFailures
    );
  }

  /** The check succeeded (or did not judge): its attempt does not count. */
  private async release({ accountKey, window, day }: LoginReservation): Promise<void> {
    await this.dataSource.query(
      `UPDATE login_attempts SET
         attempts = CASE WHEN window_started_at = $2::timestamptz THEN greatest(attempts - 1, 0) ELSE attempts END,
         day_failures = CASE WHEN day_started_at = $3::timestamptz THEN greatest(day_failures - 1, 0) ELSE day_failures END
       WHERE account_key = $1`,
      [accountKey, window, day],
    );
  }

  /** An admin lifts the lock of the account with this email, whichever window holds it. */
  async unlock(email: string): Promise<void> {
    await this.dataSource.query('DELETE FROM login_attempts WHERE account_key = $1', [keyOf(email)]);
  }
}

function keyOf(email: string): string {
  return createHash('sha256').update(normaliseEmail(email)).digest('hex');
}

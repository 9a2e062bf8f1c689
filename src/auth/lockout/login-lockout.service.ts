import { createHash } from 'node:crypto';
import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { normaliseEmail } from '../../users/email';

export interface LoginReservation {
  accountKey: string;
  /** This attempt's place in the window: if it fails and this equals the maximum, the lock engages. */
  attempt: number;
  /** As PostgreSQL wrote it: a JS Date would drop the microseconds and never match again. */
  window: string;
}

/** 429 with the seconds to wait, answered alike for known and unknown accounts. */
export class AccountLockedException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super('Too many failed sign-in attempts for this account; try again later', HttpStatus.TOO_MANY_REQUESTS);
  }
}

/**
 * Per-account brute-force lock, shared by every instance through PostgreSQL: after
 * LOGIN_MAX_FAILURES failed logins (by either method) within the window, every
 * attempt on that account is refused, right password or not, until the window ends.
 *
 * Each attempt reserves its slot atomically *before* the password is checked, so
 * a parallel burst cannot slip past the count; a successful login gives its slot
 * back, so only failures count. The key is the normalised email, so case and
 * spaces change nothing.
 */
@Injectable()
export class LoginLockout {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  async reserve(email: string): Promise<LoginReservation> {
    const accountKey = createHash('sha256').update(normaliseEmail(email)).digest('hex');
    const { maxLoginFailures, loginFailureWindowMs } = this.config.abuse;
    const [row] = await this.dataSource.query<{ attempts: number; window: string; retry_ms: number }[]>(
      `INSERT INTO login_attempts AS a (account_key, window_started_at, attempts) VALUES ($1, now(), 1)
       ON CONFLICT (account_key) DO UPDATE SET
         window_started_at = CASE WHEN a.window_started_at <= now() - $2 * interval '1 millisecond'
                                  THEN now() ELSE a.window_started_at END,
         attempts = CASE WHEN a.window_started_at <= now() - $2 * interval '1 millisecond'
                         THEN 1 ELSE least(a.attempts + 1, $3 + 1) END
       RETURNING attempts, window_started_at::text AS window,
         extract(epoch FROM window_started_at + $2 * interval '1 millisecond' - now()) * 1000 AS retry_ms`,
      [accountKey, loginFailureWindowMs, maxLoginFailures],
    );
    if (row.attempts > maxLoginFailures)
      throw new AccountLockedException(Math.max(1, Math.ceil(Number(row.retry_ms) / 1000)));
    return { accountKey, attempt: row.attempts, window: row.window };
  }

  /** True when this failed attempt is the one that locks the account. */
  locksAccount(reservation: LoginReservation): boolean {
    return reservation.attempt === this.config.abuse.maxLoginFailures;
  }

  /** The login succeeded: its attempt does not count. */
  async release({ accountKey, window }: LoginReservation): Promise<void> {
    await this.dataSource.query(
      `UPDATE login_attempts SET attempts = greatest(attempts - 1, 0)
       WHERE account_key = $1 AND window_started_at = $2::timestamptz`,
      [accountKey, window],
    );
  }
}

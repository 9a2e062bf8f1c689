import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { tableOf } from '../../database/table-name';
import { LoginAttempts } from './login-attempts.entity';

/** The two windows of the lock: how long each lasts, and how many failures fill it. */
export interface LockoutWindows {
  windowMs: number;
  maxFailures: number;
  dayMs: number;
  maxDailyFailures: number;
}

/** One attempt's slot in both windows, as the reservation left the account's row. */
export interface AttemptReservation {
  /** A window was open and full: nothing was counted. */
  locked: boolean;
  /** This attempt's place in the short window: if it fails and this equals the maximum, the lock engages. */
  attempts: number;
  /** Its place in the day window, likewise for the daily cap. */
  dayFailures: number;
  /** When the windows began, as PostgreSQL wrote them: a JS Date would drop the microseconds. */
  window: string;
  day: string;
  /** Until the full window ends (when `locked`). */
  retryMs: number;
}

/** The `login_attempts` table: failed password checks per account key, in a short and a day window. */
@Injectable()
export class LoginAttemptsRepository {
  // Hand-written SQL names its table as the metadata does (AuthModule's `schema` option).
  private get table(): string {
    return tableOf(this.dataSource, LoginAttempts);
  }

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Counts an attempt on `accountKey` in one atomic statement, so a parallel burst
   * cannot slip past the count: a closed window starts afresh, an open one counts on,
   * and a full one counts nothing and answers `locked`. Whether each window is open
   * and full is judged from the row as it was, so waiting out the short window does
   * not feed the day cap.
   */
  async reserve(
    accountKey: string,
    { windowMs, maxFailures, dayMs, maxDailyFailures }: LockoutWindows,
  ): Promise<AttemptReservation> {
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
        retry_ms: number | string | null;
      }[]
    >(
      `INSERT INTO ${this.table} AS a (account_key, window_started_at, attempts, day_started_at, day_failures)
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
      [accountKey, windowMs, maxFailures, maxDailyFailures, dayMs],
    );
    return {
      locked: row.locked,
      attempts: row.attempts,
      dayFailures: row.day_failures,
      window: row.window,
      day: row.day,
      retryMs: Number(row.retry_ms),
    };
  }

  /** Gives a reserved slot back, in each window only while it is the one the slot was taken in. */
  async release(
    accountKey: string,
    { window, day }: Pick<AttemptReservation, 'window' | 'day'>,
  ): Promise<void> {
    await this.dataSource.query(
      `UPDATE ${this.table} SET
         attempts = CASE WHEN window_started_at = $2::timestamptz THEN greatest(attempts - 1, 0) ELSE attempts END,
         day_failures = CASE WHEN day_started_at = $3::timestamptz THEN greatest(day_failures - 1, 0) ELSE day_failures END
       WHERE account_key = $1`,
      [accountKey, window, day],
    );
  }

  /** Forgets every attempt on `accountKey`, whichever window holds them. */
  async delete(accountKey: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM ${this.table} WHERE account_key = $1`, [accountKey]);
  }

  /**
   * Deletes up to `batch` rows whose short and day windows have both closed (the day
   * window outlives the short one); returns how many.
   */
  async deleteClosed(
    windowMs: number,
    dayMs: number,
    batch: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<number> {
    const [, deleted] = await manager.query<[unknown[], number]>(
      `DELETE FROM ${this.table} WHERE account_key IN (
         SELECT account_key FROM ${this.table}
         WHERE day_started_at < now() - $2 * interval '1 millisecond' AND window_started_at < now() - $1 * interval '1 millisecond'
         LIMIT $3)`,
      [windowMs, dayMs, batch],
    );
    return deleted;
  }
}

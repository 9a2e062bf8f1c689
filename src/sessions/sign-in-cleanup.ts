import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type QueryRunner } from 'typeorm';
import { DAY_MS } from '../auth/lockout/login-lockout.service';
import { AppConfig } from '../config/app-config';

/** Any constant shared by every instance: one clean-up at a time across them. */
const CLEANUP_LOCK_KEY = 7_231_004_514;
const BATCH = 5000;

export interface CleanupCounts {
  sessions: number;
  tokenLogins: number;
  loginAttempts: number;
}

/**
 * Deletes what can no longer be used, so the tables do not grow forever: cookie
 * sessions past their idle or absolute timeout, token logins (with their refresh
 * tokens, spent ones included) once they have ended and no access token of theirs
 * can still be alive (past their lifetime, revoked, or idle), and lockout rows whose
 * short and day windows have both closed. Spent refresh tokens
 * stay as long as their login, because reuse detection needs them.
 *
 * Runs every CLEANUP_INTERVAL_SECONDS on each instance, in batches (short locks),
 * and only on the instance that wins a PostgreSQL advisory lock.
 */
@Injectable()
export class SignInCleanup implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SignInCleanup.name);
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const intervalMs = this.config.cleanupIntervalMs;
    if (!intervalMs) return;
    this.timer = setInterval(() => {
      this.run().catch((error: Error) => this.logger.warn(`Clean-up failed: ${error.message}`));
    }, intervalMs).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** One pass; null when another instance holds the clean-up lock. */
  async run(): Promise<CleanupCounts | null> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const rows = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [CLEANUP_LOCK_KEY])) as {
        locked: boolean;
      }[];
      if (!rows[0].locked) return null;
      try {
        const idleMs = this.config.session.idleTimeoutMs;
        // An access token can outlive its login's end by nothing, and a revocation by its lifetime.
        const tokenGraceMs = this.config.jwt.accessTokenTtlSeconds * 1000 + 60_000;
        const counts = {
          sessions: await this.deleteExpired(
            runner,
            'cookie_sessions',
            'id_hash',
            "absolute_expires_at < now() OR last_used_at < now() - $1 * interval '1 millisecond'",
            idleMs,
          ),
          tokenLogins: await this.deleteExpired(
            runner,
            'token_logins',
            'id',
            "expires_at < now() OR revoked_at < now() - $1 * interval '1 millisecond' OR last_used_at < now() - $2 * interval '1 millisecond'",
            tokenGraceMs,
            // Idle logins: no access token of theirs can be alive after the idle timeout plus its lifetime.
            this.config.jwt.loginIdleTimeoutSeconds * 1000 + tokenGraceMs,
          ),
          // Both windows closed: the day cap outlives the short window.
          loginAttempts: await this.deleteExpired(
            runner,
            'login_attempts',
            'account_key',
            "day_started_at < now() - $2 * interval '1 millisecond' AND window_started_at < now() - $1 * interval '1 millisecond'",
            this.config.abuse.loginFailureWindowMs,
            DAY_MS,
          ),
        };
        if (counts.sessions || counts.tokenLogins || counts.loginAttempts)
          this.logger.log(counts, 'Expired sign-ins cleaned up');
        return counts;
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [CLEANUP_LOCK_KEY]);
      }
    } finally {
      await runner.release();
    }
  }

  /** Deletes the rows of `table` matching `expired` (with its interval parameters), a batch at a time. */
  private async deleteExpired(
    runner: QueryRunner,
    table: string,
    key: string,
    expired: string,
    ...intervalsMs: number[]
  ): Promise<number> {
    const sql = `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE ${expired} LIMIT ${BATCH})`;
    let total = 0;
    for (;;) {
      const deleted = (await runner.query(sql, intervalsMs, true)).affected ?? 0;
      total += deleted;
      if (deleted < BATCH) return total;
    }
  }
}

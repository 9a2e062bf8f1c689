import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { SESSIONS_OPTIONS, type SessionsOptions } from './sessions.options';
import { tryAdvisoryLock } from '../database/advisory-lock';
import { CookieSessionsRepository } from './cookie-sessions.repository';
import { TokenLoginsRepository } from './token-logins.repository';

/** Any constant shared by every instance: one clean-up at a time across them. */
const CLEANUP_LOCK_KEY = 7_231_004_514;
const BATCH = 5000;

/** Rows deleted per table, by the name each was registered under. */
export type CleanupCounts = Record<string, number>;

/** Deletes up to `batch` rows of one table that nobody can use any more; returns how many. */
export type DeleteExpired = (manager: EntityManager, batch: number) => Promise<number>;

/**
 * Deletes what can no longer be used, so the tables do not grow forever: cookie
 * sessions past their idle or absolute timeout, token logins (with their refresh
 * tokens, spent ones included) once they have ended and no access token of theirs
 * can still be alive (past their lifetime, revoked, or idle), and what other modules
 * `register` (the lockout: rows whose windows have both closed). Spent refresh tokens
 * stay as long as their login, because reuse detection needs them.
 *
 * Runs every CLEANUP_INTERVAL_SECONDS on each instance, in batches (short locks),
 * and only on the instance that wins a PostgreSQL advisory lock.
 */
@Injectable()
export class SignInCleanup implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SignInCleanup.name);
  private readonly tables = new Map<string, DeleteExpired>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(SESSIONS_OPTIONS) private readonly config: SessionsOptions,
    sessions: CookieSessionsRepository,
    logins: TokenLoginsRepository,
  ) {
    const idleMs = config.session.idleTimeoutMs;
    // An access token can outlive its login's end by nothing, and a revocation by its lifetime.
    const tokenGraceMs = config.jwt.accessTokenTtlSeconds * 1000 + 60_000;
    // Idle logins: no access token of theirs can be alive after the idle timeout plus its lifetime.
    const loginIdleMs = config.jwt.loginIdleTimeoutSeconds * 1000 + tokenGraceMs;
    this.register('sessions', (manager, batch) => sessions.deleteExpired(idleMs, batch, manager));
    this.register('tokenLogins', (manager, batch) =>
      logins.deleteEnded(tokenGraceMs, loginIdleMs, batch, manager),
    );
  }

  /** Adds a table to every pass, its count reported under `name`. */
  register(name: string, deleteExpired: DeleteExpired): void {
    this.tables.set(name, deleteExpired);
  }

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
  run(): Promise<CleanupCounts | null> {
    return tryAdvisoryLock(this.dataSource, CLEANUP_LOCK_KEY, async (manager) => {
      const counts: CleanupCounts = {};
      for (const [name, deleteExpired] of this.tables) {
        counts[name] = 0;
        for (;;) {
          const deleted = await deleteExpired(manager, BATCH);
          counts[name] += deleted;
          if (deleted < BATCH) break;
        }
      }
      if (Object.values(counts).some(Boolean)) this.logger.log(counts, 'Expired sign-ins cleaned up');
      return counts;
    });
  }
}

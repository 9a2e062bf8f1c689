import { Inject, Injectable } from '@nestjs/common';
import { SESSIONS_OPTIONS, type SessionsOptions } from './sessions.options';
import { type Invalidation, InvalidationBus, type InvalidationListener } from '../database/invalidation-bus';
import { SyncedCache } from '../database/synced-cache';
import { TokenLoginsRepository } from './token-logins.repository';

/** What a bearer request needs to know about its login. */
export type LoginState = { userId: string; expiresAt: number; credentialVersion: number } | 'revoked';

/**
 * Token logins as the bearer path sees them, in memory: who they belong to, when
 * they end, or that they were revoked. A login is read from the database the first
 * time an instance meets it, then never again until it changes, so checking an
 * access token's login costs no query. Revocations reach every instance through
 * the InvalidationBus; an instance that (re)connects forgets everything and first
 * loads the revocations recent enough to still have unexpired access tokens.
 */
@Injectable()
export class TokenLoginCache implements InvalidationListener {
  private readonly logins: SyncedCache<LoginState | null>;
  private readonly retentionMs: number;

  constructor(
    private readonly repository: TokenLoginsRepository,
    private readonly bus: InvalidationBus,
    @Inject(SESSIONS_OPTIONS) config: SessionsOptions,
  ) {
    // An access token lives at most this long, plus a minute of clock skew.
    this.retentionMs = config.jwt.accessTokenTtlSeconds * 1000 + 60_000;
    this.logins = new SyncedCache(bus, 200_000, config.cacheMaxAgeMs);
    bus.register(this);
  }

  /**
   * What memory holds, without a promise (the bearer path asks on every request);
   * undefined when it holds nothing it can trust: then use `get`.
   */
  peek(id: string): LoginState | null | undefined {
    return this.logins.peek(id);
  }

  /** null: there is no such login. */
  get(id: string): Promise<LoginState | null> {
    return this.logins.get(id, async () => {
      const login = await this.repository.findState(id);
      if (!login) return null;
      return login.revokedAt
        ? 'revoked'
        : {
            userId: login.userId,
            expiresAt: login.expiresAt.getTime(),
            credentialVersion: login.credentialVersion,
          };
    });
  }

  /** A login changed (revoked, or moved to a new credential version): read it again when next used. */
  invalidate({ kind, key }: Invalidation): void {
    if (kind === 'login') this.logins.delete(key);
  }

  async resync(): Promise<void> {
    this.logins.clear();
    const since = new Date(Date.now() - this.retentionMs);
    for (const id of await this.repository.findRevokedSince(since)) this.logins.set(id, 'revoked');
  }

  /** Logins held in memory. */
  get size(): number {
    return this.logins.size;
  }
}

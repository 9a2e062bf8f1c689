import { Inject, Injectable } from '@nestjs/common';
import {
  type Invalidation,
  InvalidationBus,
  type InvalidationListener,
} from '../../database/invalidation-bus';
import { SyncedCache } from '../../database/synced-cache';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { ApiKeysRepository } from './api-keys.repository';

/** What a request by API key needs to know about its key. */
export type ApiKeyState =
  { id: string; userId: string; roles: string[]; expiresAt: number | null } | 'revoked';

/**
 * API keys as requests see them, in memory, by the hash of the key: read from the
 * database the first time an instance meets a key, then never again until it changes
 * (a revocation reaches every instance through the InvalidationBus, kind `apikey`, by
 * hash), so a request by key costs no query. An instance that (re)connects forgets
 * everything; nothing revoked is trusted from memory meanwhile (SyncedCache).
 */
@Injectable()
export class ApiKeyCache implements InvalidationListener {
  private readonly keys: SyncedCache<ApiKeyState | null>;

  constructor(
    private readonly repository: ApiKeysRepository,
    bus: InvalidationBus,
    @Inject(AUTH_OPTIONS) options: AuthOptions,
  ) {
    this.keys = new SyncedCache(bus, 100_000, options.cacheMaxAgeMs);
    bus.register(this);
  }

  peek(keyHash: string): ApiKeyState | null | undefined {
    return this.keys.peek(keyHash);
  }

  /** null: no such key. */
  get(keyHash: string): Promise<ApiKeyState | null> {
    return this.keys.get(keyHash, async () => {
      const key = await this.repository.findByHash(keyHash);
      if (!key) return null;
      return key.revokedAt
        ? 'revoked'
        : { id: key.id, userId: key.userId, roles: key.roles, expiresAt: key.expiresAt?.getTime() ?? null };
    });
  }

  invalidate({ kind, key }: Invalidation): void {
    if (kind === 'apikey') this.keys.delete(key);
  }

  resync(): Promise<void> {
    this.keys.clear();
    return Promise.resolve();
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { USERS_OPTIONS, type UsersOptions } from './users.options';
import { type Invalidation, InvalidationBus, type InvalidationListener } from '../database/invalidation-bus';
import { SyncedCache } from '../database/synced-cache';
import type { User } from './user.entity';
import { UsersRepository } from './users.repository';

/**
 * The users behind authenticated requests, with their current roles and disabled
 * flag, kept in memory and dropped on every instance when a user changes. Every
 * request checks them, so a role change or a disabled account applies at once
 * without a query per request.
 */
@Injectable()
export class UserCache implements InvalidationListener {
  private readonly users: SyncedCache<User | null>;

  constructor(
    private readonly repository: UsersRepository,
    bus: InvalidationBus,
    @Inject(USERS_OPTIONS) config: UsersOptions,
  ) {
    this.users = new SyncedCache(bus, 100_000, config.cacheMaxAgeMs);
    bus.register(this);
  }

  /** What memory holds, without a promise; undefined when it holds nothing it can trust: then use `get`. */
  peek(id: string): User | null | undefined {
    return this.users.peek(id);
  }

  /** The user, or null when there is none. Callers must not mutate it. */
  get(id: string): Promise<User | null> {
    return this.users.get(id, () => this.repository.findById(id));
  }

  invalidate({ kind, key }: Invalidation): void {
    if (kind === 'user') this.users.delete(key);
  }

  resync(): Promise<void> {
    this.users.clear();
    return Promise.resolve();
  }

  /** Users held in memory. */
  get size(): number {
    return this.users.size;
  }
}

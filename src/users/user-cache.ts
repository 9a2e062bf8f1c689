import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { BoundedMap } from '../common/bounded-map';
import { type Invalidation, InvalidationBus, type InvalidationListener } from '../database/invalidation-bus';
import { User } from './user.entity';

/**
 * The users behind authenticated requests, with their current roles and disabled
 * flag, kept in memory and dropped on every instance when a user changes. Every
 * request checks them, so a role change or a disabled account applies at once
 * without a query per request.
 */
@Injectable()
export class UserCache implements InvalidationListener {
  private readonly users = new BoundedMap<string, User | null>(100_000);
  /** Bumped by every invalidation, so a read that raced one is not cached. */
  private generation = 0;

  constructor(
    @InjectRepository(User) private readonly repository: Repository<User>,
    private readonly bus: InvalidationBus,
  ) {
    bus.register(this);
  }

  /** The user, or null when there is none. Callers must not mutate it. */
  async get(id: string): Promise<User | null> {
    if (this.bus.live) {
      const cached = this.users.get(id);
      if (cached !== undefined) return cached;
    }
    const generation = this.generation;
    const user = await this.repository.findOneBy({ id });
    if (this.bus.live && generation === this.generation) this.users.set(id, user);
    return user;
  }

  invalidate({ kind, key }: Invalidation): void {
    if (kind !== 'user') return;
    this.generation++;
    this.users.delete(key);
  }

  resync(): Promise<void> {
    this.generation++;
    this.users.clear();
    return Promise.resolve();
  }
}

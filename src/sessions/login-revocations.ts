import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { MoreThan, Repository } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { type Invalidation, InvalidationBus, type InvalidationListener } from '../database/invalidation-bus';
import { TokenLogin } from './token-login.entity';

/**
 * The token logins revoked recently enough that some of their access tokens may
 * still be unexpired, held in memory so that checking a bearer request costs no
 * query. Kept in step on every instance through the InvalidationBus, and reloaded
 * from the database whenever events may have been missed (start, reconnect).
 */
@Injectable()
export class LoginRevocations implements InvalidationListener, OnModuleDestroy {
  private revoked = new Map<string, number>();
  private readonly retentionMs: number;
  private readonly pruneTimer: NodeJS.Timeout;

  constructor(
    @InjectRepository(TokenLogin) private readonly logins: Repository<TokenLogin>,
    private readonly bus: InvalidationBus,
    config: AppConfig,
  ) {
    // An access token lives at most this long, plus a minute of clock skew.
    this.retentionMs = config.jwt.accessTokenTtlSeconds * 1000 + 60_000;
    this.pruneTimer = setInterval(() => this.prune(), 60_000).unref();
    bus.register(this);
  }

  async isRevoked(loginId: string): Promise<boolean> {
    if (this.bus.live) return this.revoked.has(loginId);
    // Events may be passing us by: the database is the only safe answer.
    const login = await this.logins.findOne({
      select: { id: true, revokedAt: true },
      where: { id: loginId },
    });
    return !login || login.revokedAt !== null;
  }

  invalidate({ kind, key }: Invalidation): void {
    if (kind === 'login') this.revoked.set(key, Date.now());
  }

  async resync(): Promise<void> {
    const since = new Date(Date.now() - this.retentionMs);
    const rows = await this.logins.find({
      select: { id: true, revokedAt: true },
      where: { revokedAt: MoreThan(since) },
    });
    this.revoked = new Map(rows.map((row) => [row.id, row.revokedAt!.getTime()]));
  }

  onModuleDestroy(): void {
    clearInterval(this.pruneTimer);
  }

  private prune(): void {
    const cutoff = Date.now() - this.retentionMs;
    for (const [id, revokedAt] of this.revoked) if (revokedAt < cutoff) this.revoked.delete(id);
  }
}

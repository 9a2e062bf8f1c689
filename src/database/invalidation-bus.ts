import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import { AppConfig } from '../config/app-config';

const CHANNEL = 'auth_invalidation';
const RECONNECT_DELAY_MS = 1000;

/** What changed: a cache entry every instance must drop. */
export interface Invalidation {
  kind: 'session' | 'login' | 'user';
  key: string;
}

export interface InvalidationListener {
  /** Drop what `invalidation` names. Called for local and remote changes alike. */
  invalidate(invalidation: Invalidation): void;
  /** Events may have been missed (start-up, reconnect): reload or forget everything. */
  resync(): Promise<void>;
}

/**
 * Keeps the in-memory caches of every instance consistent: a change is published
 * with PostgreSQL NOTIFY (delivered at commit) and applied locally at once, so the
 * instance that made it never serves the old state, and the others drop it within
 * milliseconds. While the LISTEN connection is down, `live` is false and the
 * caches must go to the database instead.
 *
 * Hand-written because no maintained library does LISTEN with reconnects and a
 * "you may have missed events" signal on top of an existing TypeORM setup.
 */
@Injectable()
export class InvalidationBus implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(InvalidationBus.name);
  private readonly listeners: InvalidationListener[] = [];
  private client?: Client;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;
  live = false;

  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
  ) {}

  register(listener: InvalidationListener): void {
    this.listeners.push(listener);
  }

  /** Publishes after commit when given the transaction's manager; applies locally now. */
  async publish(
    invalidations: Invalidation[],
    manager: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    if (!invalidations.length) return;
    for (const invalidation of invalidations) this.apply(invalidation);
    // One notification per change keeps each payload far below NOTIFY's 8000-byte limit.
    for (const invalidation of invalidations) {
      await manager.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(invalidation)]);
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.live = false;
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.config.database.url, connectionTimeoutMillis: 5000 });
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      try {
        this.apply(JSON.parse(message.payload) as Invalidation);
      } catch {
        this.logger.warn('Ignored a malformed invalidation message');
      }
    });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      if (this.stopped) {
        await client.end();
        return;
      }
      await client.query(`LISTEN ${CHANNEL}`);
      this.client = client;
      // Anything published before LISTEN took effect is covered by the resync.
      await Promise.all(this.listeners.map((listener) => listener.resync()));
      this.live = true;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (this.client === client) this.client = undefined;
      this.logger.warn(`Invalidation feed unavailable (${(error as Error).message}); retrying`);
      this.scheduleReconnect();
    }
  }

  private lost(client: Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.live = false;
    if (!this.stopped) this.logger.warn('Invalidation feed lost; caches bypassed until it is back');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) void this.connect();
    }, RECONNECT_DELAY_MS).unref();
  }

  private apply(invalidation: Invalidation): void {
    for (const listener of this.listeners) listener.invalidate(invalidation);
  }
}

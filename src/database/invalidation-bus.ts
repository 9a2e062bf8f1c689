import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Client, type ClientConfig } from 'pg';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { DataSource, type EntityManager } from 'typeorm';
import { INVALIDATION_OPTIONS, type InvalidationOptions } from './invalidation.options';

const CHANNEL = 'auth_invalidation';
const RECONNECT_DELAY_MS = 1000;
/** The longest a change waits for its own notification to come back (see `echo`). */
const ECHO_WAIT_MS = 1000;

/** What changed: a cache entry every instance must drop. */
export interface Invalidation {
  kind: 'session' | 'login' | 'user' | 'signing-key' | 'apikey';
  key: string;
}

export interface InvalidationListener {
  /** Drop what `invalidation` names. Called for local and remote changes alike. */
  invalidate(invalidation: Invalidation): void;
  /** Events may have been missed (start-up, reconnect): reload or forget everything. */
  resync(): Promise<void>;
}

/** A transaction whose invalidations are announced at commit. */
export interface PublishingTransaction {
  manager: EntityManager;
  publish(invalidations: Invalidation[]): Promise<void>;
}

/**
 * Keeps the in-memory caches of every instance consistent: a change is published
 * with PostgreSQL NOTIFY (delivered at commit) and applied locally, so the instance
 * that made it never serves the old state, and the others drop it within
 * milliseconds. A change is answered only once its own notification has come back
 * to this instance (at most ECHO_WAIT_MS): PostgreSQL hands it to every listener at
 * the same moment, so by the time the client hears "done", the other instances have
 * it too, and the client's next request to any of them sees the change.
 *
 * The caches may be trusted only while `live`: the LISTEN connection is up, was
 * resynchronised after it (re)connected, and has proven itself within the last
 * INVALIDATION_FEED_TIMEOUT_SECONDS. A connection can die without a word (a NAT or
 * load balancer forgetting the flow, a failover leaving a half-open socket), so it
 * must keep proving it: a heartbeat query on that very connection several times
 * per timeout (and TCP keepalive underneath). Without an answer in time the feed is
 * dead, `live` turns false by itself (whatever the timers do), the connection is
 * dropped and a new one is made, resynchronised, and only then trusted again.
 *
 * Hand-written because no maintained library does LISTEN with reconnects, liveness
 * and a "you may have missed events" signal on top of an existing TypeORM setup.
 */
@Injectable()
export class InvalidationBus implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(InvalidationBus.name);
  private readonly listeners: InvalidationListener[] = [];
  private readonly timeoutMs: number;
  /** The LISTEN connection once it is resynchronised; undefined while connecting or down. */
  private client?: Client;
  /** When the current connection last answered (Date.now()). */
  private provenAt = 0;
  private heartbeat?: NodeJS.Timeout;
  private beating = false;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;
  /** Changes waiting for their notification to come back, by echo id. */
  private readonly echoes = new Map<string, () => void>();
  private echoCount = 0;
  private readonly echoPrefix = Math.random().toString(36).slice(2);

  constructor(
    @Inject(INVALIDATION_OPTIONS) private readonly config: InvalidationOptions,
    private readonly dataSource: DataSource,
  ) {
    this.timeoutMs = config.feedTimeoutMs;
  }

  /** True while no change from another instance can have been missed. */
  get live(): boolean {
    return this.client !== undefined && Date.now() - this.provenAt < this.timeoutMs;
  }

  register(listener: InvalidationListener): void {
    this.listeners.push(listener);
  }

  /** Applies locally now and announces at once; resolves when the announcement is back. */
  async publish(invalidations: Invalidation[]): Promise<void> {
    if (!invalidations.length) return;
    this.applyAll(invalidations);
    const echo = this.echo();
    try {
      await this.notify(invalidations, this.dataSource.manager, echo.id);
    } catch (error) {
      echo.cancel();
      throw error;
    }
    await echo.back;
  }

  /**
   * For changes made in a transaction another module opened (`transaction` cannot wrap
   * them): applied here now, announced at that transaction's commit (NOTIFY waits for
   * it), and applied here again when the announcement comes back through the feed.
   * Nothing waits for that echo, and no second connection is taken.
   */
  async publishIn(manager: EntityManager, invalidations: Invalidation[]): Promise<void> {
    if (!invalidations.length) return;
    this.applyAll(invalidations);
    await this.notify(invalidations, manager, '');
  }

  /**
   * Runs `work` in a transaction; what it publishes is applied locally at once, announced
   * at commit, and applied locally again after the commit. The second pass matters: a
   * request that read the old rows between the first pass and the commit may have cached
   * them, and nothing else would drop them on this instance until its own notification
   * came back.
   */
  async transaction<T>(work: (tx: PublishingTransaction) => Promise<T>): Promise<T> {
    const published: Invalidation[] = [];
    const echo = this.echo();
    let result: T;
    try {
      result = await this.dataSource.transaction((manager) =>
        work({
          manager,
          publish: async (invalidations) => {
            published.push(...invalidations);
            this.applyAll(invalidations);
            await this.notify(invalidations, manager, echo.id);
          },
        }),
      );
    } catch (error) {
      echo.cancel();
      throw error;
    }
    this.applyAll(published);
    if (published.length) await echo.back;
    else echo.cancel();
    return result;
  }

  /**
   * One notification per change keeps each payload far below NOTIFY's 8000-byte limit;
   * one statement sends them all (ending tens of thousands of sign-ins is one round trip).
   */
  private async notify(invalidations: Invalidation[], manager: EntityManager, echo: string): Promise<void> {
    await manager.query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [
      CHANNEL,
      invalidations.map(({ kind, key }) => JSON.stringify({ kind, key, echo })),
    ]);
  }

  /**
   * Waits for a notification carrying this id to come back through the feed; at most
   * ECHO_WAIT_MS, and not at all while the feed is dead (the caches are bypassed then).
   */
  private echo(): { id: string; back: Promise<void>; cancel(): void } {
    const id = `${this.echoPrefix}.${++this.echoCount}`;
    let timer: NodeJS.Timeout | undefined;
    const back = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.echoes.delete(id);
        resolve();
      };
      this.echoes.set(id, done);
      timer = setTimeout(done, ECHO_WAIT_MS);
    });
    const cancel = () => this.echoes.get(id)?.();
    return { id, back: this.live ? back : (cancel(), back), cancel };
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.drop();
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({
      ...connectionOf(this.dataSource),
      connectionTimeoutMillis: Math.max(this.timeoutMs, 2000),
      // A query (LISTEN, a heartbeat) unanswered for a whole timeout means the feed is dead.
      query_timeout: this.timeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: this.timeoutMs,
    });
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      try {
        const { kind, key, echo } = JSON.parse(message.payload) as Invalidation & { echo?: string };
        this.apply({ kind, key });
        if (echo) this.echoes.get(echo)?.();
      } catch {
        this.logger.warn('Ignored a malformed invalidation message');
      }
    });
    let current = false;
    const lost = (reason: string) => {
      if (current) this.lost(client, reason);
    };
    client.on('error', (error) => lost(error.message));
    client.on('end', () => lost('connection closed'));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (this.stopped) throw new Error('shutting down');
      // Anything published before LISTEN took effect is covered by the resync. The
      // connection must still be there afterwards: if it died meanwhile, the events
      // it missed are not covered, and the next connection will resync again.
      await Promise.all(this.listeners.map((listener) => listener.resync()));
      await client.query('SELECT 1');
      if (this.stopped) throw new Error('shutting down');
      current = true;
      this.client = client;
      this.provenAt = Date.now();
      this.heartbeat = setInterval(() => this.beat(client), Math.max(100, this.timeoutMs / 5)).unref();
    } catch (error) {
      destroy(client);
      if (this.stopped) return;
      this.logger.warn(
        `Invalidation feed unavailable (${(error as Error).message}); caches bypassed, retrying`,
      );
      this.scheduleReconnect();
    }
  }

  /** Asks the connection to prove itself; declares it dead when its last proof is too old. */
  private beat(client: Client): void {
    if (this.client !== client) return;
    if (Date.now() - this.provenAt >= this.timeoutMs) {
      this.lost(client, `no answer for ${this.timeoutMs} ms`);
      return;
    }
    if (this.beating) return;
    this.beating = true;
    client.query('SELECT 1').then(
      () => {
        this.beating = false;
        if (this.client === client) this.provenAt = Date.now();
      },
      (error: Error) => {
        this.beating = false;
        this.lost(client, error.message);
      },
    );
  }

  private lost(client: Client, reason: string): void {
    if (this.client !== client) return;
    this.drop();
    destroy(client);
    if (this.stopped) return;
    this.logger.warn(`Invalidation feed lost (${reason}); caches bypassed until it is back`);
    this.scheduleReconnect();
  }

  private drop(): void {
    this.client = undefined;
    this.beating = false;
    clearInterval(this.heartbeat);
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) void this.connect();
    }, RECONNECT_DELAY_MS).unref();
  }

  private applyAll(invalidations: Invalidation[]): void {
    for (const invalidation of invalidations) this.apply(invalidation);
  }

  private apply(invalidation: Invalidation): void {
    for (const listener of this.listeners) listener.invalidate(invalidation);
  }
}

/** The LISTEN connection goes where the service's own DataSource goes (a host's, too). */
function connectionOf(dataSource: DataSource): ClientConfig {
  const { url, host, port, username, password, database, ssl } =
    dataSource.options as PostgresDataSourceOptions;
  return {
    connectionString: url,
    host,
    port,
    user: username,
    password: typeof password === 'function' ? undefined : password,
    database,
    ssl: ssl as ClientConfig['ssl'],
  };
}

/**
 * Closes a connection that may be frozen: `end()` alone would wait for an answer that
 * never comes, so the socket is destroyed as well.
 */
function destroy(client: Client): void {
  void client.end().catch(() => undefined);
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

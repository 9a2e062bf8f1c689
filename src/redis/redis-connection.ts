import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { createClient, type RedisClientType } from 'redis';
import { DependencyUnavailableError } from '../common/dependency-unavailable';
import { REDIS_OPTIONS, type RedisOptions } from './redis.options';

/** How often an idle connection proves itself; silent for LIVE_MS, it is not trusted. */
const PING_INTERVAL_MS = 1000;
const LIVE_MS = 3000;
/**
 * A command unanswered this long fails (503), instead of holding the request.
 * node-redis's own command timeout stops counting once a command is written, so a
 * Redis gone silent (a frozen link) would hold requests until TCP gives up: the
 * deadline is ours.
 */
const COMMAND_TIMEOUT_MS = 2000;
/** The start waits this long for Redis, then goes on (health says 503 until it is there). */
const START_WAIT_MS = 3000;

/**
 * The one node-redis client of this instance, when REDIS_URL is set. Commands fail at
 * once while it is disconnected (no offline queue: a request must not wait for a
 * Redis that is down) and after COMMAND_TIMEOUT_MS when Redis is silent; the client
 * reconnects by itself. `live` is false from the moment the connection drops, or
 * after LIVE_MS without an answer: what is cached from Redis is then not trusted.
 * After a reconnect Redis may be another, emptier one (restarted without
 * persistence): `onReset` listeners drop what they cached. A connection that keeps
 * silent past LIVE_MS is replaced by a new client (node-redis cannot be told to drop
 * a connection that still looks open).
 */
@Injectable()
export class RedisConnection implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  private redis?: RedisClientType;
  private readonly resetListeners: (() => void)[] = [];
  private provenAt = 0;
  private connectedOnce = false;
  private down = false;

  constructor(@Inject(REDIS_OPTIONS) private readonly options: RedisOptions) {
    if (options.url) this.redis = this.createClient(options.url);
  }

  private createClient(url: string): RedisClientType {
    const client: RedisClientType = createClient({
      url,
      disableOfflineQueue: true,
      pingInterval: PING_INTERVAL_MS,
      commandOptions: { timeout: COMMAND_TIMEOUT_MS },
      socket: {
        connectTimeout: COMMAND_TIMEOUT_MS,
        reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000),
      },
    });
    client.on('error', (error: Error) => this.failed(error));
    client.on('ready', () => this.ready());
    client.on('ping-interval', () => (this.provenAt = Date.now()));
    return client;
  }

  /** REDIS_URL is configured. */
  get enabled(): boolean {
    return this.redis !== undefined;
  }

  /** Connected, and answered within the last few seconds. */
  get live(): boolean {
    return this.redis?.isReady === true && Date.now() - this.provenAt < LIVE_MS;
  }

  /** The key under this deployment's prefix. */
  key(name: string): string {
    return this.options.keyPrefix + name;
  }

  /** Runs `work` on the client; any failure of Redis becomes a DependencyUnavailableError (503). */
  async run<T>(work: (client: RedisClientType) => Promise<T>): Promise<T> {
    if (!this.redis) throw new Error('Redis is not configured (REDIS_URL)');
    try {
      const result = await this.withinDeadline(work(this.redis), COMMAND_TIMEOUT_MS);
      this.provenAt = Date.now();
      return result;
    } catch (error) {
      throw new DependencyUnavailableError('Redis', error);
    }
  }

  /** Called after every reconnection: what was cached from before may be gone. */
  onReset(listener: () => void): void {
    this.resetListeners.push(listener);
  }

  /** For the health check: true when Redis answers a PING within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<boolean> {
    if (!this.redis?.isReady) return false;
    return this.withinDeadline(this.redis.ping(), timeoutMs).then(
      () => true,
      () => false,
    );
  }

  /** `command`, or a timeout error after `ms`; a silent connection is replaced. */
  private withinDeadline<T>(command: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.replaceIfSilent();
        reject(new Error(`no answer within ${ms} ms`));
      }, ms);
    });
    // The command may still settle after the deadline: nobody waits for it then.
    command.catch(() => undefined);
    return Promise.race([command, deadline]).finally(() => clearTimeout(timer));
  }

  private replaceIfSilent(): void {
    const silent = this.redis;
    if (!silent || !this.options.url || Date.now() - this.provenAt < LIVE_MS) return;
    this.failed(new Error(`no answer for ${LIVE_MS} ms`));
    this.redis = this.createClient(this.options.url);
    silent.destroy();
    // The new client counts as a reconnection: what was cached is dropped when it is ready.
    this.redis.connect().catch(() => undefined);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.redis) return;
    const connected = this.redis.connect().then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), START_WAIT_MS)));
    const ok = await Promise.race([connected, waited]);
    clearTimeout(timer);
    if (!ok) this.logger.warn('Redis is not reachable yet: retrying in the background (health answers 503)');
  }

  onApplicationShutdown(): void {
    // Requests are over by now (the server closed first): nothing is waiting for an answer.
    if (this.redis?.isOpen) this.redis.destroy();
  }

  private ready(): void {
    this.provenAt = Date.now();
    if (this.down) this.logger.log('Redis is reachable again');
    this.down = false;
    if (this.connectedOnce) for (const listener of this.resetListeners) listener();
    this.connectedOnce = true;
  }

  /** One warning per outage, not one per reconnection attempt. */
  private failed(error: Error): void {
    if (this.down) return;
    this.down = true;
    this.logger.warn(`Redis unavailable: ${error.message}`);
  }
}

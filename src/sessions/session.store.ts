import { hash as digest } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Store, type SessionData } from 'express-session';
import { SESSIONS_OPTIONS, type SessionsOptions } from './sessions.options';
import { type Invalidation, InvalidationBus, type InvalidationListener } from '../database/invalidation-bus';
import { SyncedCache } from '../database/synced-cache';
import { SessionRepository, touchIntervalMs } from './session-repository';
import './session-data';

interface CachedSession {
  json: string;
  lastUsedAt: number;
  lastWrittenAt: number;
  absoluteExpiresAt: number;
}

type Callback<T = void> = (error?: unknown, result?: T) => void;

/**
 * The user's credential version moved on (password change, logout everywhere, revoke-all,
 * disable) after the sign-in read it: the session is not created.
 */
export class StaleCredentialsError extends Error {
  constructor() {
    super('The credentials this sign-in was checked against have changed');
    this.name = 'StaleCredentialsError';
  }
}

export function hashSessionId(sid: string): string {
  return digest('sha256', sid, 'hex');
}

/**
 * express-session store on the service's SessionRepository (PostgreSQL, or Redis with
 * SESSION_STORE=redis), written by hand because the off-the-shelf ones
 * (connect-pg-simple, connect-redis) keep no per-user index, store the session id in
 * clear, know one expiry only, and read their database on every request. This one:
 * - keys sessions by the SHA-256 of the session id and indexes them by user;
 * - enforces the idle timeout and the absolute lifetime itself, whatever the cookie
 *   says, so a rolling or replayed cookie cannot stretch a session;
 * - serves reads from memory, dropped on every instance through the
 *   InvalidationBus and trusted only while both the feed and the repository are
 *   live, and writes `last_used_at` at most once per `touchIntervalMs`.
 */
@Injectable()
export class SessionStore extends Store implements InvalidationListener {
  private readonly logger = new Logger(SessionStore.name);
  private readonly cache: SyncedCache<CachedSession | undefined>;
  private readonly idleMs: number;
  private readonly absoluteMs: number;
  /** The idle timeout is precise to this much. */
  private readonly touchIntervalMs: number;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly bus: InvalidationBus,
    @Inject(SESSIONS_OPTIONS) config: SessionsOptions,
  ) {
    super();
    this.idleMs = config.session.idleTimeoutMs;
    this.absoluteMs = config.session.absoluteTimeoutMs;
    this.touchIntervalMs = touchIntervalMs(this.idleMs);
    this.cache = new SyncedCache(
      {
        get live() {
          return bus.live && sessions.live;
        },
      },
      200_000,
      config.cacheMaxAgeMs,
    );
    bus.register(this);
    sessions.onReset(() => this.cache.clear());
  }

  /**
   * Every request with a session cookie reads its session here, so this is also
   * where its use is recorded (see `markUsed`). A live session in memory is
   * answered at once: no promise and no extra tick on the path of every cookie
   * request. Anything else goes through `read`.
   */
  override get(sid: string, callback: Callback<SessionData | null>): void {
    const hash = hashSessionId(sid);
    const now = Date.now();
    const cached = this.cache.peek(hash);
    if (cached && this.isLive(cached, now)) {
      this.markUsed(hash, cached, now);
      return callback(undefined, parse(cached));
    }
    void this.read(hash).then((session) => {
      if (session) this.markUsed(hash, session, Date.now());
      callback(undefined, session ? parse(session) : null);
    }, callback);
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    void this.save(sid, session).then(() => callback?.(), callback);
  }

  override destroy(sid: string, callback?: Callback): void {
    void this.remove(hashSessionId(sid)).then(() => callback?.(), callback);
  }

  // No `touch`: express-session would call it at the end of every request, with
  // one more hash of the session and one more tick before the response is sent.
  // `get` records the use instead.

  /**
   * The session is in use: in memory at once; in the database at most once per
   * `touchIntervalMs`, off the request's path (a failed write only delays the
   * idle clock of other instances until the next one).
   */
  private markUsed(hash: string, session: CachedSession, now: number): void {
    session.lastUsedAt = now;
    if (now - session.lastWrittenAt < this.touchIntervalMs) return;
    session.lastWrittenAt = now;
    this.sessions
      .setLastUsedAt(hash, new Date(now))
      .catch((error: Error) => this.logger.warn(`Could not record session use: ${error.message}`));
  }

  invalidate({ kind, key }: Invalidation): void {
    if (kind === 'session') this.cache.delete(key);
  }

  resync(): Promise<void> {
    this.cache.clear();
    return Promise.resolve();
  }

  /** Not in memory, or looks idle here (another instance may have used it since): ask the database. */
  private async read(hash: string): Promise<CachedSession | undefined> {
    const session = await this.cache.load(hash, () => this.fetch(hash));
    if (!session) return undefined;
    if (!this.isLive(session, Date.now())) {
      await this.remove(hash);
      return undefined;
    }
    return session;
  }

  private isLive(session: CachedSession, now: number): boolean {
    return now < session.absoluteExpiresAt && now - session.lastUsedAt <= this.idleMs;
  }

  private async fetch(hash: string): Promise<CachedSession | undefined> {
    const row = await this.sessions.findByHash(hash);
    if (!row) return undefined;
    return {
      json: JSON.stringify(row.data),
      lastUsedAt: row.lastUsedAt.getTime(),
      lastWrittenAt: row.lastUsedAt.getTime(),
      absoluteExpiresAt: row.absoluteExpiresAt.getTime(),
    };
  }

  /**
   * Stores a signed-in session, only while the credential version its sign-in read is
   * still the user's: the user's row is share-locked, so a change that bumps the
   * version either waits for this insert (and then revokes it) or is seen by it.
   * A session without a user is never stored: nothing is written for an anonymous visitor.
   */
  private async save(sid: string, data: SessionData): Promise<void> {
    if (!data.userId) return;
    const hash = hashSessionId(sid);
    const json = JSON.stringify(data);
    const row = await this.sessions.saveIfCredentialsCurrent({
      idHash: hash,
      userId: data.userId,
      json,
      ip: data.client?.ip ?? null,
      userAgent: data.client?.userAgent ?? null,
      absoluteMs: this.absoluteMs,
      credentialVersion: data.credentialVersion ?? 0,
    });
    if (!row) throw new StaleCredentialsError();
    // Another instance may hold the old contents; a brand-new session is nobody's yet.
    if (!row.inserted) await this.bus.publish([{ kind: 'session', key: hash }]);
    const lastUsedAt = row.lastUsedAt.getTime();
    this.cache.set(hash, {
      json,
      lastUsedAt,
      lastWrittenAt: lastUsedAt,
      absoluteExpiresAt: row.absoluteExpiresAt.getTime(),
    });
  }

  /** Sessions held in memory. */
  get size(): number {
    return this.cache.size;
  }

  /** Ends sessions by hash, on every instance. */
  async remove(...hashes: string[]): Promise<void> {
    if (!hashes.length) return;
    await this.sessions.delete(hashes);
    await this.bus.publish(hashes.map((key) => ({ kind: 'session' as const, key })));
  }
}

function parse(session: CachedSession): SessionData {
  return JSON.parse(session.json) as SessionData;
}

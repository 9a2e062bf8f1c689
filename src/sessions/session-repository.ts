import type { EntityManager } from 'typeorm';

/**
 * A session's use is written to its store at most this often (the idle timeout is
 * precise to this much): the last use in memory may be this much newer than the stored one.
 */
export function touchIntervalMs(idleMs: number): number {
  return Math.min(60_000, idleMs / 4);
}

/** A stored cookie session, whichever store holds it. */
export interface StoredSession {
  /** SHA-256 of the session id: the id itself is never stored. */
  idHash: string;
  /** The handle clients see (lists, revoking one). */
  publicId: string;
  userId: string | null;
  /** The session's contents (express-session's SessionData). */
  data: object;
  createdAt: Date;
  lastUsedAt: Date;
  absoluteExpiresAt: Date;
  ip: string | null;
  userAgent: string | null;
}

/** A signed-in session to store, keyed by the hash of its id. */
export interface NewCookieSession {
  idHash: string;
  userId: string;
  /** The session's contents, as JSON. */
  json: string;
  ip: string | null;
  userAgent: string | null;
  /** Its absolute lifetime, counted from now when it is created (kept when it is overwritten). */
  absoluteMs: number;
  /** The user's credential version that its sign-in read. */
  credentialVersion: number;
}

/** What the store wrote for a saved session. */
export interface SavedCookieSession {
  lastUsedAt: Date;
  absoluteExpiresAt: Date;
  /** A new session, not an overwrite of an existing one. */
  inserted: boolean;
}

/**
 * Where cookie sessions are kept (SESSION_STORE): PostgreSQL (CookieSessionsRepository,
 * the default) or Redis (RedisSessionsRepository). Both keep a per-user index, so that
 * listing, revoking one and ending them all behave the same; the session store and
 * SignInsService see only this.
 */
export abstract class SessionRepository {
  /**
   * False while the store cannot be reached: what is held in memory from it is then
   * not trusted (PostgreSQL's own liveness is the invalidation feed's).
   */
  abstract readonly live: boolean;

  /** `listener` runs when the store may have lost sessions behind our back (Redis restarted). */
  abstract onReset(listener: () => void): void;

  abstract findByHash(idHash: string): Promise<StoredSession | null>;

  /** The user's session by its public handle. */
  abstract findOfUser(userId: string, publicId: string): Promise<StoredSession | null>;

  /** The user's sessions neither past their absolute lifetime nor unused for longer than `idleMs`. */
  abstract findLiveOfUser(userId: string, idleMs: number): Promise<StoredSession[]>;

  /**
   * Stores (or overwrites) the session only while the user is still enabled and at the
   * credential version its sign-in read; null when they are not. The user's row is
   * share-locked meanwhile, so a change that bumps the version either waits for the
   * write or is seen by it.
   */
  abstract saveIfCredentialsCurrent(session: NewCookieSession): Promise<SavedCookieSession | null>;

  abstract setLastUsedAt(idHash: string, lastUsedAt: Date): Promise<void>;

  abstract delete(idHashes: string[]): Promise<void>;

  /**
   * Deletes every session of the user, as part of `manager`'s transaction (the one
   * that moves the user to a new credential version): in it for PostgreSQL, before
   * its commit for Redis (a failure rolls the change back: 503, nothing half done).
   */
  abstract deleteAllOfUser(userId: string, manager?: EntityManager): Promise<void>;
}

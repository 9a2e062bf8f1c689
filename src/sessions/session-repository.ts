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

/**
 * Runs in the transaction that is about to store a new sign-in of `userId` (a cookie
 * session or a token login), after its credential check: SignInsService makes room
 * for it there, under each user's cap. Failing it fails the sign-in.
 */
export type NewSignInHook = (manager: EntityManager, userId: string) => Promise<void>;

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
  private readonly newSessionHooks: NewSignInHook[] = [];

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

  /**
   * The user's sessions neither past their absolute lifetime nor unused for longer than
   * `idleMs` (PostgreSQL: as `manager`'s transaction sees them).
   */
  abstract findLiveOfUser(userId: string, idleMs: number, manager?: EntityManager): Promise<StoredSession[]>;

  /**
   * Stores (or overwrites) the session only while the user is still enabled and at the
   * credential version its sign-in read; null when they are not. The user's row is
   * share-locked meanwhile, so a change that bumps the version either waits for the
   * write or is seen by it. A new session runs the `beforeCreate` hooks first.
   */
  abstract saveIfCredentialsCurrent(session: NewCookieSession): Promise<SavedCookieSession | null>;

  /** `hook` runs before each new session (not an overwrite) is stored, in its transaction. */
  beforeCreate(hook: NewSignInHook): void {
    this.newSessionHooks.push(hook);
  }

  protected async runBeforeCreate(manager: EntityManager, userId: string): Promise<void> {
    for (const hook of this.newSessionHooks) await hook(manager, userId);
  }

  abstract setLastUsedAt(idHash: string, lastUsedAt: Date): Promise<void>;

  /** PostgreSQL: in `manager`'s transaction when given; Redis: at once, whatever the transaction does. */
  abstract delete(idHashes: string[], manager?: EntityManager): Promise<void>;

  /**
   * Deletes every session of the user, as part of `manager`'s transaction (the one
   * that moves the user to a new credential version): in it for PostgreSQL, before
   * its commit for Redis (a failure rolls the change back: 503, nothing half done).
   */
  abstract deleteAllOfUser(userId: string, manager?: EntityManager): Promise<void>;
}

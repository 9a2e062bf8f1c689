/** What the sessions module needs to know: the cookie, the timeouts, the clean-up, its caches. */
export interface SessionsOptions {
  readonly secrets: { readonly session: string };
  readonly session: {
    /** Production adds the `__Host-` prefix: Secure, Path=/, no Domain. */
    readonly cookieName: string;
    readonly secureCookie: boolean;
    /** A session unused for this long is over. */
    readonly idleTimeoutMs: number;
    /** A session is over this long after sign-in, however active. */
    readonly absoluteTimeoutMs: number;
    /** Routes express-session is mounted on (Nest `forRoutes` paths). */
    readonly routes: readonly string[];
    /** Where sessions live: PostgreSQL, or the Redis of REDIS_OPTIONS. */
    readonly store: 'postgres' | 'redis';
  };
  readonly jwt: {
    readonly accessTokenTtlSeconds: number;
    /** A token login unused this long is over. */
    readonly loginIdleTimeoutSeconds: number;
  };
  /** How often expired sign-ins are deleted; 0: never (another process does it). */
  readonly cleanupIntervalMs: number;
  /** No cached session or token login is trusted longer than this. */
  readonly cacheMaxAgeMs: number;
}

export const SESSIONS_OPTIONS = Symbol('SessionsOptions');

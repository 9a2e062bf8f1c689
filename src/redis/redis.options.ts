/** Where the Redis shared by every instance is; no `url`: this deployment has none. */
export interface RedisOptions {
  readonly url?: string;
  /** Put before every key, so that one Redis can serve several deployments. */
  readonly keyPrefix: string;
}

export const REDIS_OPTIONS = Symbol('RedisOptions');

/** The invalidation feed must prove it is alive within this bound, or caches are bypassed. */
export interface InvalidationOptions {
  readonly feedTimeoutMs: number;
}

export const INVALIDATION_OPTIONS = Symbol('InvalidationOptions');

import { isDatabaseUnavailable } from './postgres-errors';

/**
 * A service the request needs (Redis) did not answer: the client gets 503 with
 * Retry-After, never a 401 or a 500. The cause is kept for the log, never shown.
 */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: string,
    cause: unknown,
  ) {
    super(`${dependency} unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'DependencyUnavailableError';
  }
}

/** PostgreSQL or Redis could not be reached: a 503, not a bug. */
export function isDependencyUnavailable(error: unknown): boolean {
  return error instanceof DependencyUnavailableError || isDatabaseUnavailable(error);
}

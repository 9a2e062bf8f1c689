import { ServiceUnavailableException } from '@nestjs/common';
import { isDatabaseUnavailable } from './postgres-errors';

export const UNAVAILABLE_MESSAGE = 'Service temporarily unavailable, try again shortly';

/**
 * A service the request needs (Redis) did not answer: 503, never a 401 or a 500. An
 * HTTP exception, so that a host app's own exception filter answers 503 too; the cause
 * is kept for the log, never shown.
 */
export class DependencyUnavailableError extends ServiceUnavailableException {
  constructor(
    readonly dependency: string,
    cause: unknown,
  ) {
    super(UNAVAILABLE_MESSAGE, { cause });
    this.name = 'DependencyUnavailableError';
  }

  /** For the log: which dependency, and what it said. */
  get detail(): string {
    return `${this.dependency} unavailable: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`;
  }
}

/** PostgreSQL or Redis could not be reached: a 503, not a bug. */
export function isDependencyUnavailable(error: unknown): boolean {
  return error instanceof DependencyUnavailableError || isDatabaseUnavailable(error);
}

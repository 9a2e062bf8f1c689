import {
  QueryFailedError,
  QueryRunnerAlreadyReleasedError,
  QueryRunnerProviderAlreadyReleasedError,
} from 'typeorm';

/** SQLSTATE 23505: the insert or update hit a unique constraint. */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof QueryFailedError && (error.driverError as { code?: string }).code === '23505';
}

/** Connection-level failures: PostgreSQL is down, restarting or unreachable (SQLSTATE class 08, 57P0x). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01',
  '57P02',
  '57P03',
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|Client was closed and is not queryable/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  // TypeORM releases a transaction's connection when PostgreSQL ends it mid-way; the
  // transaction's next query then fails with these, not with the connection error.
  if (
    error instanceof QueryRunnerAlreadyReleasedError ||
    error instanceof QueryRunnerProviderAlreadyReleasedError
  )
    return true;
  const cause: unknown = error instanceof QueryFailedError ? (error.driverError as unknown) : error;
  const code = (cause as { code?: string } | null)?.code ?? '';
  return (
    UNAVAILABLE_CODES.has(code) ||
    code.startsWith('08') ||
    (cause instanceof Error && UNAVAILABLE_MESSAGES.test(cause.message))
  );
}

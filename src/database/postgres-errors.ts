import { QueryFailedError } from 'typeorm';

/** SQLSTATE 23505: the insert or update hit a unique constraint. */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof QueryFailedError && (error.driverError as { code?: string }).code === '23505';
}

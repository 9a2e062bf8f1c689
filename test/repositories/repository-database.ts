import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { authEntities } from '../../src/auth/auth.entities';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/**
 * A migrated database of the test file's own and a DataSource on it (two connections,
 * so one can wait on a lock the other holds), opened before its tests and dropped after.
 */
export function useTestDataSource(): () => DataSource {
  let database: TestDatabase | undefined;
  let dataSource: DataSource | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await new DataSource({
      ...dataSourceOptions(database.url, 2),
      entities: authEntities,
    }).initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });
  return () => dataSource!;
}

/** Inserts an account directly (the repositories under test must not build their own fixtures). */
export async function insertUser(
  dataSource: DataSource,
  fields: { email?: string; name?: string | null; disabled?: boolean; credentialVersion?: number } = {},
): Promise<string> {
  const [{ id }] = await dataSource.query<{ id: string }[]>(
    `INSERT INTO users (email, name, password_hash, disabled, credential_version)
     VALUES ($1, $2, 'not a hash', $3, $4) RETURNING id`,
    [
      fields.email ?? `${randomUUID()}@example.com`,
      fields.name ?? null,
      fields.disabled ?? false,
      fields.credentialVersion ?? 0,
    ],
  );
  return id;
}

/** Whether `promise` settles within `ms`: false for work that waits on a lock. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}

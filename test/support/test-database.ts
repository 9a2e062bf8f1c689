import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Set by the global setup: a URL with the right to create databases, and the migrated template. */
export const ADMIN_URL_VAR = 'TEST_DATABASE_ADMIN_URL';
export const TEMPLATE_VAR = 'TEST_DATABASE_TEMPLATE';

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdminClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: process.env[ADMIN_URL_VAR] });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * A database of its own for one test file, copied from the migrated template
 * (a file-level copy: much faster than running the migrations again).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `auth_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient((client) =>
    client.query(`CREATE DATABASE "${name}" TEMPLATE "${process.env[TEMPLATE_VAR]}"`),
  );
  return {
    name,
    url: databaseUrl(process.env[ADMIN_URL_VAR]!, name),
    drop: () =>
      withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}

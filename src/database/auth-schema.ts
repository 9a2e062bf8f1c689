import type { QueryRunner } from 'typeorm';
import { getMetadataArgsStorage } from 'typeorm';
import { StartupError } from '../common/startup-error';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

let schema: string | undefined;

/**
 * Puts the auth tables in PostgreSQL schema `name` (AuthModule's `schema` option), by
 * setting it on their TypeORM metadata before any DataSource is built from them.
 * TypeORM takes an entity's schema only from its decorator or from the DataSource, so
 * this is the one way a module can choose it; the choice is therefore one per process.
 */
export function placeTablesInSchema(name: string, entities: readonly (abstract new () => unknown)[]): void {
  if (!IDENTIFIER.test(name))
    throw new StartupError(
      'AuthModule option schema must be a PostgreSQL name: lower-case letters, digits, _',
    );
  if (schema !== undefined && schema !== name)
    throw new StartupError(
      `AuthModule option schema: the tables are already placed in "${schema}" in this process`,
    );
  schema = name === 'public' ? undefined : name;
  if (!schema) return;
  const storage = getMetadataArgsStorage();
  for (const table of storage.tables) if (entities.includes(table.target as never)) table.schema = schema;
  for (const join of storage.joinTables)
    if (entities.includes(join.target as never)) (join as { schema?: string }).schema = schema;
}

/**
 * Every migration starts here: with a schema chosen, it creates that schema and runs
 * the rest of the migration in it, ahead of the connection's own search path (where
 * TypeORM keeps its `migrations` table). Local to the transaction migrations run in.
 */
export async function enterAuthSchema(queryRunner: QueryRunner): Promise<void> {
  if (!schema) return;
  await queryRunner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await queryRunner.query(
    `SELECT set_config('search_path', '"${schema}", ' || current_setting('search_path'), true)`,
  );
}

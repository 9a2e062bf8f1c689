import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { runMigrations } from '../../src/database/database.module';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { ADMIN_URL_VAR, TEMPLATE_VAR, databaseUrl, withAdminClient } from './test-database';

/**
 * Runs once before every suite. Without DATABASE_URL it starts a throw-away embedded
 * PostgreSQL; with it, it uses that server (its role needs CREATEDB). Either way it
 * migrates a template database that each test file copies.
 */
export default async function globalSetup(): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const dir = await mkdtemp(join(tmpdir(), 'auth-test-pg-'));
    const server = await EmbeddedPostgres.start({ dir });
    Object.assign(globalThis, { __embeddedPostgres: server, __embeddedPostgresDir: dir });
    adminUrl = server.url;
  }
  process.env[ADMIN_URL_VAR] = adminUrl;
  // The app under test never reads DATABASE_URL: each test passes its own database.
  delete process.env.DATABASE_URL;

  const template = `auth_test_template_${process.pid}`;
  process.env[TEMPLATE_VAR] = template;
  await withAdminClient(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${template}"`);
  });
  const dataSource = await new DataSource(dataSourceOptions(databaseUrl(adminUrl, template), 2)).initialize();
  await runMigrations(dataSource);
  await dataSource.destroy();
}

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { runMigrations } from '../../src/database/database.module';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { ADMIN_URL_VAR, TEMPLATE_VAR, databaseUrl, withAdminClient } from './test-database';
import { REDIS_URL_VAR, RedisServer, hasHaproxy, hasRedisServer } from './redis-server';

/**
 * Runs once before every suite. Without DATABASE_URL it starts a throw-away embedded
 * PostgreSQL; with it, it uses that server (its role needs CREATEDB). Either way it
 * migrates a template database that each test file copies.
 *
 * Redis the same way: REDIS_URL, or else a redis-server of the run's own when one is
 * on the PATH, or else none (the Redis suites say they are skipped).
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

  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl && hasRedisServer()) {
    const redis = await RedisServer.start();
    Object.assign(globalThis, { __redisServer: redis });
    redisUrl = redis.url;
  }
  // CI sets it: there, a suite that would skip for want of Redis or haproxy is a failure.
  if (process.env.TEST_REQUIRE_REDIS === 'true') {
    if (!redisUrl || !hasRedisServer())
      throw new Error('TEST_REQUIRE_REDIS: redis-server is not on the PATH');
    if (!hasHaproxy()) throw new Error('TEST_REQUIRE_REDIS: haproxy is not installed');
  }
  if (redisUrl) process.env[REDIS_URL_VAR] = redisUrl;
  else
    process.stderr.write(
      '\nNo Redis (REDIS_URL unset, no redis-server on the PATH): the Redis suites are skipped.\n',
    );
  // Like DATABASE_URL: the app under test is given its Redis explicitly, or none.
  delete process.env.REDIS_URL;
  delete process.env.SESSION_STORE;
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

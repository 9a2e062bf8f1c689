import { rm } from 'node:fs/promises';
import type { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import type { RedisServer } from './redis-server';
import { TEMPLATE_VAR, withAdminClient } from './test-database';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __redisServer?: RedisServer }).__redisServer?.stop();
  const state = globalThis as { __embeddedPostgres?: EmbeddedPostgres; __embeddedPostgresDir?: string };
  if (state.__embeddedPostgres) {
    await state.__embeddedPostgres.stop();
    await rm(state.__embeddedPostgresDir!, { recursive: true, force: true });
    return;
  }
  await withAdminClient((client) =>
    client.query(`DROP DATABASE IF EXISTS "${process.env[TEMPLATE_VAR]}" WITH (FORCE)`),
  );
}

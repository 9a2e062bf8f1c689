import { Client, type ClientConfig } from 'pg';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { migrations } from './migrations';

/**
 * One definition of the connection, shared by the app, the tests and `ormconfig.ts`
 * (the TypeORM CLI). The schema comes only from migrations: `synchronize` stays off.
 * No entities: the app's modules register theirs (`autoLoadEntities`); a DataSource
 * of its own (the CLI, tests) adds `authEntities`.
 *
 * `queryTimeoutMs` (the app's request pool) fails a query that gets no answer, so a
 * request waits a bounded time and answers 503 when the database, or the network to
 * it, goes silent; TCP keepalive lets the kernel notice dead connections too.
 * Migrations and the CLI run without it: a migration may legitimately take long.
 */
export function dataSourceOptions(
  url: string,
  poolSize = 10,
  queryTimeoutMs?: number,
): PostgresDataSourceOptions {
  return {
    type: 'postgres',
    url,
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    // gen_random_uuid() is built into PostgreSQL 13+: no extension to install.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    // Waiting for a connection (a free one, or a new one on a silent path) is bounded alike.
    connectTimeoutMS: Math.min(5000, queryTimeoutMs ?? 5000),
    extra: {
      max: poolSize,
      keepAlive: true,
      ...(queryTimeoutMs ? { query_timeout: queryTimeoutMs, Client: ClosingOnTimeoutClient } : {}),
    },
  };
}

/**
 * pg fails a query that outlives `query_timeout` but leaves its connection open, still
 * waiting for that answer: back in the pool, every later query on it would time out
 * too, for as long as the path stays silent (until TCP keepalive gives up, hours
 * later). This client closes the connection instead, so the pool replaces it and
 * requests recover as soon as the database can be reached again.
 */
class ClosingOnTimeoutClient extends Client {
  constructor(config?: ClientConfig) {
    super(config);
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    this.query = ((...args: unknown[]) => {
      const result = query(...args);
      if (result instanceof Promise) result.catch((error: unknown) => this.closeOnTimeout(error));
      return result;
    }) as Client['query'];
  }

  private closeOnTimeout(error: unknown): void {
    if (error instanceof Error && error.message === 'Query read timeout')
      (this as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}

import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { AuditEvent } from '../audit/audit-event.entity';
import { LoginAttempts } from '../auth/lockout/login-attempts.entity';
import { RefreshToken } from '../auth/tokens/refresh-token.entity';
import { Role } from '../roles/role.entity';
import { CookieSession } from '../sessions/cookie-session.entity';
import { TokenLogin } from '../sessions/token-login.entity';
import { User } from '../users/user.entity';
import { migrations } from './migrations';

export const entities = [User, Role, CookieSession, TokenLogin, RefreshToken, LoginAttempts, AuditEvent];

/**
 * One definition of the connection, shared by the app, the tests and `ormconfig.ts`
 * (the TypeORM CLI). The schema comes only from migrations: `synchronize` stays off.
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
    entities,
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    // gen_random_uuid() is built into PostgreSQL 13+: no extension to install.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    connectTimeoutMS: 5000,
    extra: { max: poolSize, keepAlive: true, ...(queryTimeoutMs ? { query_timeout: queryTimeoutMs } : {}) },
  };
}

import type { NestExpressApplication } from '@nestjs/platform-express';
import type { DestinationStream } from 'pino';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { createApp } from '../../src/bootstrap';
import { loadConfig, type AppConfig } from '../../src/config/app-config';
import { createTestDatabase, type TestDatabase } from './test-database';

/** Fixed, strong secrets so that several instances in one test accept each other's credentials. */
export const TEST_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  SESSION_SECRET: 'test-session-secret-0123456789-abcdefghijklmnop',
  JWT_SECRET: 'test-jwt-secret-0123456789-abcdefghijklmnopqrstuv',
  PASSWORD_PEPPER: 'test-password-pepper-0123456789-abcdefghijklmn',
  BCRYPT_COST: '4',
  // Every test client is 127.0.0.1: per-IP limits are tested on their own (test/security).
  AUTH_RATE_LIMIT: '100000',
  API_RATE_LIMIT: '100000000',
  LOG_LEVEL: 'silent',
};

/**
 * What production needs beyond TEST_ENV: strong secrets, a mail relay (nothing
 * listens on port 9 here: mail stays in the outbox) and an https PUBLIC_URL.
 */
export const PRODUCTION_ENV: Record<string, string> = {
  NODE_ENV: 'production',
  SESSION_SECRET: 'Zq3vR8wK2mN6pT1xY5bC9hL4jF7dG0sA-prod-session',
  JWT_SECRET: 'Hn5kW2qR8tY4mB7vC1xZ6pL3jD9fG0sA-prod-jwt',
  PASSWORD_PEPPER: 'Pp7vR2wK8mN4pT6xY1bC5hL9jF3dG0sA-prod-pepper',
  SMTP_URL: 'smtp://127.0.0.1:9',
  PUBLIC_URL: 'https://auth.example.com',
};

export function testConfig(databaseUrl: string, env: Record<string, string> = {}): AppConfig {
  const config = loadConfig({ ...TEST_ENV, ...env });
  return { ...config, database: { ...config.database, url: databaseUrl } };
}

export interface TestApp {
  app: NestExpressApplication;
  http: () => TestAgent;
  close(): Promise<void>;
}

/** The application exactly as main.ts builds it, on the given database. */
export async function startApp(
  databaseUrl: string,
  env: Record<string, string> = {},
  logStream?: DestinationStream,
): Promise<TestApp> {
  const app = await createApp(testConfig(databaseUrl, env), { logStream });
  const server = app.getHttpServer();
  return { app, http: () => request(server), close: () => app.close() };
}

export interface TestContext extends TestApp {
  database: TestDatabase;
}

/** A fresh database and one app on it; `close()` removes both. */
export async function startAppOnFreshDatabase(env: Record<string, string> = {}): Promise<TestContext> {
  const database = await createTestDatabase();
  const app = await startApp(database.url, env);
  return {
    ...app,
    database,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}

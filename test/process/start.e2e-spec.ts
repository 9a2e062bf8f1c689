import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../../src/database/embedded-postgres';
import { migrations } from '../../src/database/migrations';
import { holdBuiltServer, launchServer, type ServerProcess, untilHealthy } from '../support/server-process';
import { ADMIN_URL_VAR, createTestDatabase, databaseUrl, withAdminClient } from '../support/test-database';

/**
 * `npm start` as a user runs it: the compiled server in its own process, on the
 * embedded PostgreSQL, stopped by signals.
 */
const ROOT = join(__dirname, '../..');
const MAIN = join(ROOT, 'dist/src/main.js');

const launch = (env: Record<string, string>) => launchServer({ main: MAIN, cwd: ROOT, env });

function postmasterPid(dir: string): number | undefined {
  const file = join(dir, 'pgdata/postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
}

describe('the server process (npm start)', () => {
  let dir: string;
  const running: ServerProcess[] = [];

  let built: { release(): Promise<void> } | undefined;

  beforeAll(async () => {
    built = await holdBuiltServer();
    dir = await mkdtemp(join(tmpdir(), 'auth-start-'));
    await chmod(dir, 0o755);
  }, 240_000);

  afterAll(async () => {
    await built?.release();
    for (const server of running) if (server.process.exitCode === null) server.process.kill('SIGKILL');
    const pid = postmasterPid(join(dir, 'pg'));
    if (pid && isAlive(pid)) process.kill(pid, 'SIGINT');
    await sleep(500);
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (env: Record<string, string> = {}) => {
    const server = await launch({ EMBEDDED_POSTGRES_DIR: join(dir, 'pg'), ...env });
    running.push(server);
    await untilHealthy(server);
    return server;
  };

  it('serves on an embedded PostgreSQL and stops it cleanly on SIGTERM', async () => {
    const server = await start({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'bootstrap password' });
    const res = await fetch(`http://127.0.0.1:${server.port}/api`);
    expect(res.status).toBe(200);
    expect(server.output()).toContain('Admin account created from ADMIN_EMAIL');
    // The built server has every page asset: the stylesheet, and the passkey scripts with their WebAuthn client.
    for (const asset of ['style.css', 'passkeys.js', 'vendor/simplewebauthn/index.umd.min.js']) {
      const file = await fetch(`http://127.0.0.1:${server.port}/assets/${asset}`);
      expect({ asset, status: file.status }).toEqual({ asset, status: 200 });
    }
    expect(server.output()).toContain(
      'SMTP_URL is not set: mails (with their links) are written to this log',
    );
    expect(server.output()).toMatch(
      /PASSWORD_PEPPER is not set: using a generated development secret kept in .*dev-secrets\.json/,
    );
    const postgres = postmasterPid(join(dir, 'pg'))!;
    expect(isAlive(postgres)).toBe(true);

    server.process.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(isAlive(postgres)).toBe(false);
    expect(postmasterPid(join(dir, 'pg'))).toBeUndefined();
  });

  it('keeps its data across restarts, and SIGINT stops it as cleanly', async () => {
    const server = await start({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'bootstrap password' });
    expect(server.output()).toContain('Admin account from ADMIN_EMAIL present');
    server.process.kill('SIGINT');
    expect(await server.exited).toBe(0);
    expect(postmasterPid(join(dir, 'pg'))).toBeUndefined();
  });

  it('starts again after being killed outright, taking over from the orphaned postgres', async () => {
    const killed = await start();
    const orphan = postmasterPid(join(dir, 'pg'))!;
    killed.process.kill('SIGKILL');
    await killed.exited;
    expect(isAlive(orphan)).toBe(true);

    const next = await start();
    expect(isAlive(orphan)).toBe(false);
    next.process.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  });

  it('uses DATABASE_URL instead when it is set, and starts no embedded server', async () => {
    const database = await createTestDatabase();
    const external = join(dir, 'never-created');
    const server = await launch({ DATABASE_URL: database.url, EMBEDDED_POSTGRES_DIR: external });
    running.push(server);
    await untilHealthy(server);
    expect(existsSync(external)).toBe(false);
    server.process.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    await database.drop();
  });

  it('runs and reverts migrations through ormconfig.ts with the TypeORM CLI (npm run migration:run|revert)', async () => {
    const name = `auth_test_cli_${Date.now()}`;
    await withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`));
    try {
      const url = databaseUrl(process.env[ADMIN_URL_VAR]!, name);
      const cli = (command: string) =>
        execFileSync(
          process.execPath,
          [join(ROOT, 'node_modules/typeorm/cli.js'), command, '-d', 'dist/ormconfig.js'],
          {
            cwd: ROOT,
            env: { ...process.env, DATABASE_URL: url },
            encoding: 'utf8',
          },
        );
      const names = migrations.map((migration) => migration.name);
      const shown = (output: string, name: string) =>
        new RegExp(`\\[(X| )\\].*\\b${name}\\b`).exec(output)?.[1];
      const before = cli('migration:show');
      expect(names.map((name) => shown(before, name))).toEqual(names.map(() => ' '));
      cli('migration:run');
      const applied = cli('migration:show');
      expect(names.map((name) => shown(applied, name))).toEqual(names.map(() => 'X'));
      cli('migration:revert');
      const reverted = cli('migration:show');
      expect(names.map((name) => shown(reverted, name))).toEqual([...names.slice(1).map(() => 'X'), ' ']);
    } finally {
      await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    }
  });

  it('refuses to start on a malformed variable, with one line naming it', async () => {
    const server = await launch({ BCRYPT_COST: 'abc', EMBEDDED_POSTGRES_DIR: join(dir, 'unused') });
    expect(await server.exited).toBe(1);
    expect(server.output().trim()).toBe(
      'Configuration error: BCRYPT_COST must be a whole number from 4 to 31',
    );
  });

  it('refuses to start in production without strong secrets', async () => {
    const server = await launch({
      NODE_ENV: 'production',
      JWT_SECRET: 'short',
      EMBEDDED_POSTGRES_DIR: join(dir, 'unused'),
    });
    expect(await server.exited).toBe(1);
    expect(server.output().trim().split('\n')).toEqual([
      'Configuration error: SESSION_SECRET is required when NODE_ENV=production',
      'Configuration error: JWT_SECRET must be at least 32 bytes long in production',
      'Configuration error: PASSWORD_PEPPER is required when NODE_ENV=production',
      'Configuration error: SMTP_URL is required when NODE_ENV=production (password reset and verification mails)',
      'Configuration error: PUBLIC_URL is required when NODE_ENV=production (the origin of every mailed link)',
    ]);
  });
});

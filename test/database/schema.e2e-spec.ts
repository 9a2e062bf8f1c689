import { ConflictException } from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';
import { authEntities } from '../../src/auth/auth.entities';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { runMigrations } from '../../src/database/database.module';
import { UsersService } from '../../src/users/users.service';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';
import { createTestDatabase } from '../support/test-database';

const TABLES = [
  'account_tokens',
  'api_keys',
  'audit_events',
  'cookie_sessions',
  'login_attempts',
  'mfa_logins',
  'outbox',
  'passkeys',
  'recovery_codes',
  'refresh_tokens',
  'roles',
  'signing_keys',
  'token_logins',
  'totp_factors',
  'user_roles',
  'users',
  'webauthn_challenges',
];

describe('schema from migrations', () => {
  it('matches the entities exactly: nothing left for TypeORM to synchronise', async () => {
    const database = await createTestDatabase();
    const dataSource = await new DataSource({
      ...dataSourceOptions(database.url, 2),
      entities: authEntities,
    }).initialize();
    try {
      const pending = await dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((query) => query.query)).toEqual([]);
    } finally {
      await dataSource.destroy();
      await database.drop();
    }
  });

  it('reverts and re-applies cleanly (what migration:revert and migration:run do)', async () => {
    const database = await createTestDatabase();
    const dataSource = await new DataSource({
      ...dataSourceOptions(database.url, 2),
      entities: authEntities,
    }).initialize();
    const tables = async () =>
      (
        await dataSource.query<{ tablename: string }[]>(
          `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migrations' ORDER BY 1`,
        )
      ).map((row) => row.tablename);
    try {
      expect(await tables()).toEqual(TABLES);
      const applied = async () => (await dataSource.query<unknown[]>('SELECT 1 FROM migrations')).length;
      while ((await applied()) > 0) {
        await dataSource.undoLastMigration();
      }
      expect(await tables()).toEqual([]);
      expect(await runMigrations(dataSource)).not.toHaveLength(0);
      expect(await tables()).toEqual(TABLES);
    } finally {
      await dataSource.destroy();
      await database.drop();
    }
  });
});

describe('data model', () => {
  let ctx: TestContext;
  let users: UsersService;
  let dataSource: DataSource;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    users = ctx.app.get(UsersService);
    dataSource = ctx.app.get(DataSource);
  });
  afterAll(() => ctx.close());

  it('has the built-in roles user and admin', async () => {
    const roles = await dataSource.query<{ name: string }[]>('SELECT name FROM roles ORDER BY name');
    expect(roles.map((role) => role.name)).toEqual(['admin', 'user']);
  });

  it('stores a trimmed, lower-cased email, the user role and a bcrypt hash at the configured cost', async () => {
    const user = await users.create({ email: '  Ada@Example.COM ', password: 'correct horse', name: 'Ada' });
    expect(user).toMatchObject({ email: 'ada@example.com', name: 'Ada', disabled: false });
    expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(user.roles.map((role) => role.name)).toEqual(['user']);
    expect(user.passwordHash).toBeUndefined();

    const withHash = await users.findWithPasswordHash({ email: 'ADA@example.com' });
    expect(withHash?.passwordHash).toMatch(/^\$2b\$04\$/);
    expect(withHash?.passwordHash).not.toContain('correct horse');
  });

  it('finds users by email whatever the case and spacing', async () => {
    await users.create({ email: 'grace@example.com', password: 'long password' });
    expect((await users.findByEmail(' GRACE@example.com'))?.email).toBe('grace@example.com');
  });

  it('refuses a second account for the same email in another case with 409', async () => {
    await users.create({ email: 'linus@example.com', password: 'long password' });
    await expect(users.create({ email: 'LINUS@EXAMPLE.COM ', password: 'other password' })).rejects.toThrow(
      ConflictException,
    );
  });

  it('enforces normalised, unique emails in the database itself, not only in code', async () => {
    const insert = (email: string) =>
      dataSource.query(`INSERT INTO users (email, password_hash) VALUES ($1, 'x')`, [email]);
    await expect(insert('Mixed@Example.com')).rejects.toThrow(/CHK_users_email_normalised/);
    await expect(insert(' padded@example.com')).rejects.toThrow(QueryFailedError);
    await insert('once@example.com');
    await expect(insert('once@example.com')).rejects.toThrow(/duplicate key/);
  });
});

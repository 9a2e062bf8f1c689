import { DataSource } from 'typeorm';
import { PasswordService } from '../../src/users/password.service';
import { UsersService } from '../../src/users/users.service';
import { startApp, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const ADMIN = { ADMIN_EMAIL: ' Root@Example.com ', ADMIN_PASSWORD: 'bootstrap password' };
const PROMOTE = { ...ADMIN, ADMIN_PROMOTE_EXISTING: 'true' };

async function adminState(app: TestApp, email: string) {
  const users = app.app.get(UsersService);
  const user = await users.findWithPasswordHash({ email });
  const count = await app.app.get(DataSource).query<{ n: number }[]>('SELECT count(*)::int AS n FROM users');
  return { user, roles: user?.roles.map((role) => role.name).sort(), userCount: count[0].n };
}

describe('admin bootstrap from ADMIN_EMAIL / ADMIN_PASSWORD', () => {
  let database: TestDatabase;
  beforeEach(async () => (database = await createTestDatabase()));
  afterEach(() => database.drop());

  /** The error a start fails with; an app that starts anyway is closed, and the test fails. */
  async function startFailure(env: Record<string, string>): Promise<Error> {
    const outcome = await startApp(database.url, env).then(
      (app) => app,
      (error: Error) => error,
    );
    if (outcome instanceof Error) return outcome;
    await outcome.close();
    throw new Error(`the app started with ${JSON.stringify(env)}`);
  }

  /** A plain account made before any admin bootstrap, with a password of its own. */
  async function existingAccount(): Promise<void> {
    const plain = await startApp(database.url);
    await plain.app.get(UsersService).create({ email: 'root@example.com', password: 'their own password' });
    await plain.close();
  }

  it('creates the account with the admin role, and a restart without ADMIN_PROMOTE_EXISTING changes nothing', async () => {
    const first = await startApp(database.url, ADMIN);
    const created = await adminState(first, 'root@example.com');
    expect(created.roles).toEqual(['admin', 'user']);
    expect(
      await first.app.get(PasswordService).verify('bootstrap password', created.user!.passwordHash!),
    ).toBe(true);
    await first.close();

    // Already an admin: nothing to promote, so no flag is needed.
    const second = await startApp(database.url, ADMIN);
    const after = await adminState(second, 'root@example.com');
    expect(after.user!.id).toBe(created.user!.id);
    expect(after.roles).toEqual(['admin', 'user']);
    expect(after.userCount).toBe(1);
    await second.close();
  });

  it.each([
    ['unset', ADMIN],
    ['false', { ...ADMIN, ADMIN_PROMOTE_EXISTING: 'false' }],
  ])(
    'refuses to start, in one line, rather than promote an existing account when ADMIN_PROMOTE_EXISTING is %s',
    async (_case, env) => {
      await existingAccount();

      const error = await startFailure(env);
      expect(error.message).toMatch(/ADMIN_EMAIL/);
      expect(error.message).toMatch(/ADMIN_PROMOTE_EXISTING=true/);
      expect(error.message).not.toContain('\n');
      // Someone who signed up with the configured email did not become an admin.
      const app = await startApp(database.url);
      const state = await adminState(app, 'root@example.com');
      expect(state.roles).toEqual(['user']);
      expect(state.userCount).toBe(1);
      await app.close();
    },
  );

  it('promotes an existing account with ADMIN_PROMOTE_EXISTING=true and leaves its password alone', async () => {
    await existingAccount();

    const app = await startApp(database.url, PROMOTE);
    const state = await adminState(app, 'root@example.com');
    expect(state.roles).toEqual(['admin', 'user']);
    const passwords = app.app.get(PasswordService);
    expect(await passwords.verify('their own password', state.user!.passwordHash!)).toBe(true);
    expect(await passwords.verify('bootstrap password', state.user!.passwordHash!)).toBe(false);
    await app.close();

    // Promoted once, it is an admin: later starts need no flag.
    const restarted = await startApp(database.url, ADMIN);
    expect((await adminState(restarted, 'root@example.com')).roles).toEqual(['admin', 'user']);
    await restarted.close();
  });

  it('ends with exactly one admin account when several instances start at once', async () => {
    const apps = await Promise.all([
      startApp(database.url, ADMIN),
      startApp(database.url, ADMIN),
      startApp(database.url, ADMIN),
    ]);
    const state = await adminState(apps[0], 'root@example.com');
    expect(state.userCount).toBe(1);
    expect(state.roles).toEqual(['admin', 'user']);
    await Promise.all(apps.map((app) => app.close()));
  });

  it('promotes an existing account once when several instances start at once with ADMIN_PROMOTE_EXISTING=true', async () => {
    await existingAccount();
    const apps = await Promise.all([
      startApp(database.url, PROMOTE),
      startApp(database.url, PROMOTE),
      startApp(database.url, PROMOTE),
    ]);
    const state = await adminState(apps[0], 'root@example.com');
    expect(state.userCount).toBe(1);
    expect(state.roles).toEqual(['admin', 'user']);
    await Promise.all(apps.map((app) => app.close()));
  });

  it('refuses ADMIN_PROMOTE_EXISTING other than true or false as a configuration error naming it', async () => {
    for (const value of ['yes', '1', 'on']) {
      const error = await startFailure({ ...ADMIN, ADMIN_PROMOTE_EXISTING: value });
      expect(error.message).toMatch(/ADMIN_PROMOTE_EXISTING/);
    }
  });

  it('refuses to start with a common ADMIN_PASSWORD rather than create a guessable admin', async () => {
    await expect(
      startApp(database.url, { ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'password1' }),
    ).rejects.toThrow(/^Cannot create the admin account: ADMIN_PASSWORD .*common/);
  });

  it('does nothing when the variables are not set', async () => {
    const app = await startApp(database.url);
    expect((await adminState(app, 'root@example.com')).userCount).toBe(0);
    await app.close();
  });
});

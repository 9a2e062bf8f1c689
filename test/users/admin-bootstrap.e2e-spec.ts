import { DataSource } from 'typeorm';
import { PasswordService } from '../../src/users/password.service';
import { UsersService } from '../../src/users/users.service';
import { startApp, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const ADMIN = { ADMIN_EMAIL: ' Root@Example.com ', ADMIN_PASSWORD: 'bootstrap password' };

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

  it('creates the account with the admin role, and a restart changes nothing', async () => {
    const first = await startApp(database.url, ADMIN);
    const created = await adminState(first, 'root@example.com');
    expect(created.roles).toEqual(['admin', 'user']);
    expect(
      await first.app.get(PasswordService).verify('bootstrap password', created.user!.passwordHash!),
    ).toBe(true);
    await first.close();

    const second = await startApp(database.url, ADMIN);
    const after = await adminState(second, 'root@example.com');
    expect(after.user!.id).toBe(created.user!.id);
    expect(after.roles).toEqual(['admin', 'user']);
    expect(after.userCount).toBe(1);
    await second.close();
  });

  it('promotes an existing account and leaves its password alone', async () => {
    const plain = await startApp(database.url);
    await plain.app.get(UsersService).create({ email: 'root@example.com', password: 'their own password' });
    await plain.close();

    const app = await startApp(database.url, ADMIN);
    const state = await adminState(app, 'root@example.com');
    expect(state.roles).toEqual(['admin', 'user']);
    const passwords = app.app.get(PasswordService);
    expect(await passwords.verify('their own password', state.user!.passwordHash!)).toBe(true);
    expect(await passwords.verify('bootstrap password', state.user!.passwordHash!)).toBe(false);
    await app.close();
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

  it('refuses to start with a common ADMIN_PASSWORD rather than create a guessable admin', async () => {
    await expect(
      startApp(database.url, { ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'password1' }),
    ).rejects.toThrow(/Cannot create the admin account: ADMIN_PASSWORD is too common or too easy to guess/);
  });

  it('does nothing when the variables are not set', async () => {
    const app = await startApp(database.url);
    expect((await adminState(app, 'root@example.com')).userCount).toBe(0);
    await app.close();
  });
});

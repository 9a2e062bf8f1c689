import { randomUUID } from 'node:crypto';
import { isUniqueViolation } from '../../src/common/postgres-errors';
import { Role } from '../../src/roles/role.entity';
import { UsersRepository } from '../../src/users/users.repository';
import { insertUser, settlesWithin, useTestDataSource } from './repository-database';

describe('UsersRepository', () => {
  const dataSource = useTestDataSource();
  let users: UsersRepository;
  let builtIn: Role[];
  beforeAll(async () => {
    users = new UsersRepository(dataSource());
    builtIn = await dataSource().manager.find(Role, { order: { name: 'ASC' } });
  });

  const email = () => `${randomUUID()}@example.com`;
  const roleNames = async (id: string) =>
    (
      await dataSource().query<{ role_name: string }[]>(
        'SELECT role_name FROM user_roles WHERE user_id = $1 ORDER BY role_name',
        [id],
      )
    ).map((r) => r.role_name);
  const column = async (id: string, name: string): Promise<unknown> =>
    (await dataSource().query<{ v: unknown }[]>(`SELECT ${name} AS v FROM users WHERE id = $1`, [id]))[0]?.v;

  it('creates an account with its roles and returns it as stored, without the password hash', async () => {
    const address = email();
    const user = await users.create({ email: address, name: 'Ada', passwordHash: 'a hash', roles: builtIn });
    expect(user).toMatchObject({ email: address, name: 'Ada', disabled: false, credentialVersion: 0 });
    expect(user.passwordHash).toBeUndefined();
    expect(user.roles.map((role) => role.name).sort()).toEqual(['admin', 'user']);
    expect(await column(user.id, 'password_hash')).toBe('a hash');
  });

  it('refuses a second account with the same email, as a unique violation', async () => {
    const address = email();
    await users.create({ email: address, name: null, passwordHash: 'h', roles: [] });
    const refusal: unknown = await users
      .create({ email: address, name: null, passwordHash: 'h', roles: [] })
      .catch((error: unknown) => error);
    expect(isUniqueViolation(refusal)).toBe(true);
  });

  it('finds a user by id or by email, and with the password hash only when asked', async () => {
    const address = email();
    const { id } = await users.create({ email: address, name: null, passwordHash: 'secret', roles: builtIn });
    expect((await users.findById(id))?.email).toBe(address);
    expect((await users.findByEmail(address))?.id).toBe(id);
    expect((await users.findById(id))?.passwordHash).toBeUndefined();
    expect(await users.findById(randomUUID())).toBeNull();

    for (const by of [{ id }, { email: address }]) {
      const withHash = await users.findWithPasswordHash(by);
      expect(withHash).toMatchObject({ id, passwordHash: 'secret' });
      expect(withHash?.roles.map((role) => role.name).sort()).toEqual(['admin', 'user']);
    }
    expect(await users.findWithPasswordHash({ email: email() })).toBeNull();
  });

  it('searches email and name in any letter case, takes the text literally, and pages oldest first', async () => {
    const tag = randomUUID().slice(0, 8);
    const ids = [];
    for (const [address, name] of [
      [`${tag}-one@example.com`, null],
      [`other-${randomUUID()}@example.com`, `Name ${tag.toUpperCase()}`],
      [`${tag}-three@example.com`, '100% sure'],
      [`${tag}_four@example.com`, null],
    ] as const)
      ids.push((await users.create({ email: address, name, passwordHash: 'h', roles: [builtIn[1]] })).id);

    const page = await users.search({ offset: 0, limit: 2, text: tag.toUpperCase() });
    expect(page.total).toBe(4);
    expect(page.items.map((user) => user.id)).toEqual(ids.slice(0, 2));
    expect(page.items[0].roles.map((role) => role.name)).toEqual(['user']);
    expect((await users.search({ offset: 2, limit: 2, text: tag })).items.map((u) => u.id)).toEqual(
      ids.slice(2),
    );
    expect((await users.search({ offset: 0, limit: 10, text: `${tag}_` })).items.map((u) => u.id)).toEqual([
      ids[3],
    ]);
    expect((await users.search({ offset: 0, limit: 100, text: '100%' })).items.map((u) => u.id)).toEqual([
      ids[2],
    ]);
    const all = await users.search({ offset: 0, limit: 100 });
    expect(all.total).toBeGreaterThanOrEqual(4);
  });

  it('share-locks an enabled user at the expected credential version until the transaction ends', async () => {
    const id = await insertUser(dataSource(), { credentialVersion: 2 });
    let finish!: () => void;
    const finishing = new Promise<void>((resolve) => (finish = resolve));
    let locked!: (current: boolean) => void;
    const isLocked = new Promise<boolean>((resolve) => (locked = resolve));
    const holder = dataSource().transaction(async (manager) => {
      locked(await users.lockIfCredentialsCurrent(id, 2, manager));
      await finishing;
    });
    expect(await isLocked).toBe(true);

    const bump = dataSource().transaction((manager) => users.bumpCredentialVersion(id, manager));
    expect(await settlesWithin(bump, 300)).toBe(false);
    finish();
    await holder;
    expect(await bump).toBe(3);
  });

  it('does not lock, and says so, a user at another credential version, disabled, or unknown', async () => {
    const stale = await insertUser(dataSource(), { credentialVersion: 1 });
    const disabled = await insertUser(dataSource(), { disabled: true });
    await dataSource().transaction(async (manager) => {
      expect(await users.lockIfCredentialsCurrent(stale, 0, manager)).toBe(false);
      expect(await users.lockIfCredentialsCurrent(disabled, 0, manager)).toBe(false);
      expect(await users.lockIfCredentialsCurrent(randomUUID(), 0, manager)).toBe(false);
    });
  });

  it('moves a user to the next credential version, and says when there is no such user', async () => {
    const id = await insertUser(dataSource(), { credentialVersion: 7 });
    expect(await dataSource().transaction((manager) => users.bumpCredentialVersion(id, manager))).toBe(8);
    expect(await column(id, 'credential_version')).toBe(8);
    expect(
      await dataSource().transaction((manager) => users.bumpCredentialVersion(randomUUID(), manager)),
    ).toBeUndefined();
  });

  it('stores a new password hash, name and disabled flag, and deletes the account', async () => {
    const id = await insertUser(dataSource());
    await users.setPasswordHash(id, 'new hash');
    await users.setName(id, 'Grace');
    await dataSource().transaction((manager) => users.setDisabled(id, true, manager));
    expect(await column(id, 'password_hash')).toBe('new hash');
    expect(await users.findById(id)).toMatchObject({ name: 'Grace', disabled: true });
    await dataSource().transaction((manager) => users.delete(id, manager));
    expect(await users.findById(id)).toBeNull();
  });

  it('replaces the roles exactly, and adds one idempotently even from two callers at once', async () => {
    const id = await insertUser(dataSource());
    await dataSource().transaction((manager) => users.setRoles(id, ['user', 'admin'], manager));
    expect(await roleNames(id)).toEqual(['admin', 'user']);
    await dataSource().transaction((manager) => users.setRoles(id, ['user'], manager));
    expect(await roleNames(id)).toEqual(['user']);

    await Promise.all([users.addRole(id, 'admin'), users.addRole(id, 'admin')]);
    await users.addRole(id, 'admin');
    expect(await roleNames(id)).toEqual(['admin', 'user']);
  });

  it('counts the enabled users with a role, leaving out disabled ones', async () => {
    const count = () => dataSource().transaction((manager) => users.countEnabledWithRole('admin', manager));
    const before = await count();
    const [enabled, disabled] = [
      await insertUser(dataSource()),
      await insertUser(dataSource(), { disabled: true }),
    ];
    for (const id of [enabled, disabled]) await users.addRole(id, 'admin');
    await users.addRole(await insertUser(dataSource()), 'user');
    expect(await count()).toBe(before + 1);
  });
});

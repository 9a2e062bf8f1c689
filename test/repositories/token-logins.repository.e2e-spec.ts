import { randomBytes, randomUUID } from 'node:crypto';
import { TokenLoginsRepository, type NewTokenLogin } from '../../src/sessions/token-logins.repository';
import { insertUser, useTestDataSource } from './repository-database';

const DAY_MS = 86_400_000;

describe('TokenLoginsRepository', () => {
  const dataSource = useTestDataSource();
  let logins: TokenLoginsRepository;
  beforeAll(() => (logins = new TokenLoginsRepository(dataSource())));

  const login = (userId: string, fields: Partial<NewTokenLogin> = {}) =>
    logins.create({
      userId,
      expiresAt: new Date(Date.now() + 30 * DAY_MS),
      credentialVersion: 0,
      ip: '203.0.113.7',
      userAgent: 'test agent',
      ...fields,
    });
  const set = (id: string, assignment: string) =>
    dataSource().query(`UPDATE token_logins SET ${assignment} WHERE id = $1`, [id]);
  const revokedAt = async (id: string) =>
    (
      await dataSource().query<{ revoked_at: string | null }[]>(
        'SELECT revoked_at::text FROM token_logins WHERE id = $1',
        [id],
      )
    )[0].revoked_at;

  it('creates a login, not revoked and used now, and finds it by id', async () => {
    const userId = await insertUser(dataSource());
    const created = await login(userId, { credentialVersion: 4 });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    const found = await logins.findById(created.id);
    expect(found).toMatchObject({ userId, credentialVersion: 4, revokedAt: null, ip: '203.0.113.7' });
    expect(Math.abs(found!.lastUsedAt.getTime() - Date.now())).toBeLessThan(5000);
    expect(await logins.findById(randomUUID())).toBeNull();
  });

  it('reads only what the bearer path checks', async () => {
    const userId = await insertUser(dataSource());
    const created = await login(userId, { credentialVersion: 2 });
    const state = await logins.findState(created.id);
    expect(state).toEqual({
      id: created.id,
      userId,
      expiresAt: created.expiresAt,
      revokedAt: null,
      credentialVersion: 2,
    });
    expect(await logins.findState(randomUUID())).toBeNull();
  });

  it('revokes every login of a user but the one kept, in one statement however many, and no one else', async () => {
    const [userId, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const many = [];
    for (let i = 0; i < 50; i++) many.push(await login(userId));
    const kept = await login(userId);
    const earlier = await login(userId);
    await set(earlier.id, `revoked_at = now() - interval '1 hour'`);
    const earlierAt = await revokedAt(earlier.id);
    const theirs = await login(other);

    await dataSource().transaction((manager) => logins.revokeAllOfUser(userId, kept.id, manager));
    const times = new Set(await Promise.all(many.map((l) => revokedAt(l.id))));
    // One statement: a single now() for all of them.
    expect(times.size).toBe(1);
    expect([...times][0]).not.toBeNull();
    expect(await revokedAt(kept.id)).toBeNull();
    expect(await revokedAt(earlier.id)).toBe(earlierAt);
    expect(await revokedAt(theirs.id)).toBeNull();

    await logins.revokeAllOfUser(userId);
    expect(await revokedAt(kept.id)).not.toBeNull();
  });

  it('revokes the given logins that are not revoked yet, keeping an earlier revocation', async () => {
    const userId = await insertUser(dataSource());
    const [a, b, earlier, untouched] = [
      await login(userId),
      await login(userId),
      await login(userId),
      await login(userId),
    ];
    await set(earlier.id, `revoked_at = now() - interval '1 hour'`);
    const earlierAt = await revokedAt(earlier.id);
    await logins.revoke([a.id, b.id, earlier.id]);
    expect(await revokedAt(a.id)).not.toBeNull();
    expect(await revokedAt(b.id)).not.toBeNull();
    expect(await revokedAt(earlier.id)).toBe(earlierAt);
    expect(await revokedAt(untouched.id)).toBeNull();
  });

  it("lists a user's logins that are not revoked, not past their lifetime, and used recently", async () => {
    const [userId, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const live = await login(userId);
    const revoked = await login(userId);
    const ended = await login(userId);
    const idle = await login(userId);
    await login(other);
    await logins.revoke([revoked.id]);
    await set(ended.id, `expires_at = now() - interval '1 second'`);
    await set(idle.id, `last_used_at = now() - interval '8 days'`);
    const found = await logins.findLiveOfUser(userId, 7 * 86_400);
    expect(found.map((l) => l.id)).toEqual([live.id]);
  });

  it("finds a user's own login by id unless it is revoked", async () => {
    const [userId, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const active = await login(userId);
    const revoked = await login(userId);
    await logins.revoke([revoked.id]);
    expect((await logins.findActiveOfUser(userId, active.id))?.id).toBe(active.id);
    expect(await logins.findActiveOfUser(other, active.id)).toBeNull();
    expect(await logins.findActiveOfUser(userId, revoked.id)).toBeNull();
  });

  it('finds the logins revoked since a moment', async () => {
    const userId = await insertUser(dataSource());
    const [recent, old, live] = [await login(userId), await login(userId), await login(userId)];
    await set(recent.id, `revoked_at = now() - interval '5 minutes'`);
    await set(old.id, `revoked_at = now() - interval '2 hours'`);
    const ids = await logins.findRevokedSince(new Date(Date.now() - 3_600_000));
    expect(ids).toContain(recent.id);
    expect(ids).not.toContain(old.id);
    expect(ids).not.toContain(live.id);
  });

  it("marks a login used now and moves it to a new credential version, only the user's own", async () => {
    const [userId, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const created = await login(userId);
    await set(created.id, `last_used_at = now() - interval '3 days'`);
    await logins.markUsed(created.id);
    const used = await logins.findById(created.id);
    expect(Math.abs(used!.lastUsedAt.getTime() - Date.now())).toBeLessThan(5000);

    await logins.setCredentialVersion(created.id, other, 9);
    expect((await logins.findById(created.id))?.credentialVersion).toBe(0);
    await logins.setCredentialVersion(created.id, userId, 9);
    expect((await logins.findById(created.id))?.credentialVersion).toBe(9);
  });

  it('deletes, a batch at a time, the logins that have ended, with their refresh tokens', async () => {
    await dataSource().query('DELETE FROM token_logins');
    const userId = await insertUser(dataSource());
    const [ended, revokedLongAgo, idle, revokedJustNow, live] = [
      await login(userId),
      await login(userId),
      await login(userId),
      await login(userId),
      await login(userId),
    ];
    for (const l of [ended, live])
      await dataSource().query('INSERT INTO refresh_tokens (token_hash, login_id) VALUES ($1, $2)', [
        randomBytes(32).toString('hex'),
        l.id,
      ]);
    await set(ended.id, `expires_at = now() - interval '1 second'`);
    await set(revokedLongAgo.id, `revoked_at = now() - interval '20 minutes'`);
    await set(idle.id, `last_used_at = now() - interval '8 days'`);
    await set(revokedJustNow.id, `revoked_at = now()`);

    const revokedMs = 16 * 60_000;
    const idleMs = 7 * DAY_MS + revokedMs;
    expect(await logins.deleteEnded(revokedMs, idleMs, 2)).toBe(2);
    expect(await logins.deleteEnded(revokedMs, idleMs, 2)).toBe(1);
    expect(await logins.deleteEnded(revokedMs, idleMs, 2)).toBe(0);
    const left = await dataSource().query<{ id: string }[]>('SELECT id FROM token_logins');
    expect(left.map((l) => l.id).sort()).toEqual([revokedJustNow.id, live.id].sort());
    const tokens = await dataSource().query<{ login_id: string }[]>('SELECT login_id FROM refresh_tokens');
    expect(tokens.map((t) => t.login_id)).toEqual([live.id]);
  });
});

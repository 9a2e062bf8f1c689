import { randomBytes } from 'node:crypto';
import { CookieSessionsRepository } from '../../src/sessions/cookie-sessions.repository';
import type { NewCookieSession } from '../../src/sessions/session-repository';
import { insertUser, settlesWithin, useTestDataSource } from './repository-database';

const HOUR_MS = 3_600_000;

describe('CookieSessionsRepository', () => {
  const dataSource = useTestDataSource();
  let sessions: CookieSessionsRepository;
  beforeAll(() => (sessions = new CookieSessionsRepository(dataSource())));

  const session = (userId: string, fields: Partial<NewCookieSession> = {}): NewCookieSession => ({
    idHash: randomBytes(32).toString('hex'),
    userId,
    json: JSON.stringify({ userId, cookie: {} }),
    ip: '203.0.113.7',
    userAgent: 'test agent',
    absoluteMs: 12 * HOUR_MS,
    credentialVersion: 0,
    ...fields,
  });
  const age = (idHash: string, column: 'last_used_at' | 'absolute_expires_at', by: string) =>
    dataSource().query(`UPDATE cookie_sessions SET ${column} = now() - $2::interval WHERE id_hash = $1`, [
      idHash,
      by,
    ]);

  it('stores a session with its absolute lifetime from now, and finds it by the hash of its id', async () => {
    const userId = await insertUser(dataSource());
    const stored = session(userId);
    const saved = await sessions.saveIfCredentialsCurrent(stored);
    expect(saved?.inserted).toBe(true);
    expect(Math.abs(saved!.lastUsedAt.getTime() - Date.now())).toBeLessThan(5000);
    expect(saved!.absoluteExpiresAt.getTime() - saved!.lastUsedAt.getTime()).toBeCloseTo(12 * HOUR_MS, -3);

    const row = await sessions.findByHash(stored.idHash);
    expect(row).toMatchObject({
      idHash: stored.idHash,
      userId,
      data: { userId, cookie: {} },
      ip: '203.0.113.7',
      userAgent: 'test agent',
    });
    expect(row?.publicId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await sessions.findByHash(randomBytes(32).toString('hex'))).toBeNull();
  });

  it('overwrites the contents of a stored session but keeps its handle and absolute expiry', async () => {
    const userId = await insertUser(dataSource());
    const first = session(userId);
    const created = await sessions.saveIfCredentialsCurrent(first);
    const before = await sessions.findByHash(first.idHash);
    const again = await sessions.saveIfCredentialsCurrent({
      ...first,
      json: JSON.stringify({ userId, changed: true }),
      ip: '198.51.100.1',
      absoluteMs: 1000,
    });
    expect(again?.inserted).toBe(false);
    expect(again?.absoluteExpiresAt).toEqual(created?.absoluteExpiresAt);
    expect(await sessions.findByHash(first.idHash)).toMatchObject({
      publicId: before?.publicId,
      data: { userId, changed: true },
      ip: '198.51.100.1',
    });
  });

  it('stores nothing for a user whose credential version has moved on, or who does not exist', async () => {
    const userId = await insertUser(dataSource(), { credentialVersion: 3 });
    const stale = session(userId, { credentialVersion: 2 });
    expect(await sessions.saveIfCredentialsCurrent(stale)).toBeNull();
    expect(await sessions.findByHash(stale.idHash)).toBeNull();
    const nobody = session('00000000-0000-4000-8000-000000000000');
    expect(await sessions.saveIfCredentialsCurrent(nobody)).toBeNull();
    expect(await sessions.saveIfCredentialsCurrent(session(userId, { credentialVersion: 3 }))).not.toBeNull();
  });

  it('waits for a credential change in progress and then refuses the session it made stale', async () => {
    const userId = await insertUser(dataSource());
    const runner = dataSource().createQueryRunner();
    await runner.startTransaction();
    try {
      await runner.query('UPDATE users SET credential_version = credential_version + 1 WHERE id = $1', [
        userId,
      ]);
      const racing = session(userId);
      const save = sessions.saveIfCredentialsCurrent(racing);
      expect(await settlesWithin(save, 300)).toBe(false);
      await runner.commitTransaction();
      expect(await save).toBeNull();
      expect(await sessions.findByHash(racing.idHash)).toBeNull();
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it("finds a user's own session by its public handle only", async () => {
    const [owner, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const stored = session(owner);
    await sessions.saveIfCredentialsCurrent(stored);
    const { publicId } = (await sessions.findByHash(stored.idHash))!;
    expect((await sessions.findOfUser(owner, publicId))?.idHash).toBe(stored.idHash);
    expect(await sessions.findOfUser(other, publicId)).toBeNull();
  });

  it("lists a user's sessions that are neither past their lifetime nor idle too long", async () => {
    const [userId, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const [live, idle, over, elsewhere] = [session(userId), session(userId), session(userId), session(other)];
    for (const s of [live, idle, over, elsewhere]) await sessions.saveIfCredentialsCurrent(s);
    await age(idle.idHash, 'last_used_at', '31 minutes');
    await age(over.idHash, 'absolute_expires_at', '1 second');
    await age(live.idHash, 'last_used_at', '29 minutes');
    const found = await sessions.findLiveOfUser(userId, 30 * 60_000);
    expect(found.map((s) => s.idHash)).toEqual([live.idHash]);
  });

  it('records when a session was last used', async () => {
    const userId = await insertUser(dataSource());
    const stored = session(userId);
    await sessions.saveIfCredentialsCurrent(stored);
    const at = new Date(Date.now() - 10 * 60_000);
    await sessions.setLastUsedAt(stored.idHash, at);
    expect((await sessions.findByHash(stored.idHash))?.lastUsedAt).toEqual(at);
  });

  it('deletes sessions by hash, or every session of one user at once', async () => {
    const [userId, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const mine = Array.from({ length: 5 }, () => session(userId));
    const theirs = [session(other), session(other)];
    for (const s of [...mine, ...theirs]) await sessions.saveIfCredentialsCurrent(s);

    await sessions.delete([theirs[0].idHash]);
    expect(await sessions.findByHash(theirs[0].idHash)).toBeNull();
    await dataSource().transaction((manager) => sessions.deleteAllOfUser(userId, manager));
    for (const s of mine) expect(await sessions.findByHash(s.idHash)).toBeNull();
    expect(await sessions.findByHash(theirs[1].idHash)).not.toBeNull();
  });

  it('deletes, a batch at a time, the sessions past their lifetime or idle too long', async () => {
    await dataSource().query('DELETE FROM cookie_sessions');
    const userId = await insertUser(dataSource());
    const [idle, over, overToo, live] = [session(userId), session(userId), session(userId), session(userId)];
    for (const s of [idle, over, overToo, live]) await sessions.saveIfCredentialsCurrent(s);
    await age(idle.idHash, 'last_used_at', '31 minutes');
    await age(over.idHash, 'absolute_expires_at', '1 second');
    await age(overToo.idHash, 'absolute_expires_at', '1 hour');

    const idleMs = 30 * 60_000;
    expect(await sessions.deleteExpired(idleMs, 2)).toBe(2);
    expect(await sessions.deleteExpired(idleMs, 2)).toBe(1);
    expect(await sessions.deleteExpired(idleMs, 2)).toBe(0);
    expect(await sessions.findByHash(live.idHash)).not.toBeNull();
  });
});

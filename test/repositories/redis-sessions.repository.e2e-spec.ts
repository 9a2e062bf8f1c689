import { randomBytes } from 'node:crypto';
import type { RedisClientType } from 'redis';
import { RedisConnection } from '../../src/redis/redis-connection';
import { RedisSessionsRepository } from '../../src/sessions/redis-sessions.repository';
import type { NewCookieSession } from '../../src/sessions/session-repository';
import type { SessionsOptions } from '../../src/sessions/sessions.options';
import { UsersRepository } from '../../src/users/users.repository';
import { sleep } from '../support/auth-helpers';
import { redisSkipReason, testRedisEnv } from '../support/redis-server';
import { insertUser, settlesWithin, useTestDataSource } from './repository-database';

const HOUR_MS = 3_600_000;
const IDLE_MS = 30 * 60_000;
/**
 * An unused key lives the idle timeout plus the touch interval (1 min here): uses seen
 * in memory reach Redis at most once a minute, and the store checks the idle timeout
 * itself against the latest one.
 */
const KEY_IDLE_MS = IDLE_MS + 60_000;
/** Redis keeps TTLs to the millisecond; this much covers the test's own round trips. */
const SLACK_MS = 2000;

const redisEnv = testRedisEnv();
const describeRedis = redisEnv ? describe : describe.skip;

/* The PostgreSQL twin is cookie-sessions.repository.e2e-spec.ts; this one reads Redis's keys directly. */
describeRedis(`RedisSessionsRepository${redisEnv ? '' : `: ${redisSkipReason()}`}`, () => {
  const dataSource = useTestDataSource();
  const prefix = redisEnv?.REDIS_KEY_PREFIX ?? '';
  let connection: RedisConnection;
  let sessions: RedisSessionsRepository;

  beforeAll(async () => {
    connection = new RedisConnection({ url: redisEnv!.REDIS_URL, keyPrefix: prefix });
    await connection.onApplicationBootstrap();
    // The repository reads only the idle timeout of the sessions' options.
    const options = { session: { idleTimeoutMs: IDLE_MS } } as unknown as SessionsOptions;
    sessions = new RedisSessionsRepository(
      connection,
      dataSource(),
      new UsersRepository(dataSource()),
      options,
    );
  });
  afterAll(async () => {
    if (!connection) return;
    await redis(async (client) => {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length) await client.del(keys);
    }).catch(() => undefined);
    connection.onApplicationShutdown();
  });

  const redis = <T>(work: (client: RedisClientType) => Promise<T>) => connection.run(work);
  const sessionKey = (idHash: string) => `${prefix}session:${idHash}`;
  const indexKey = (userId: string) => `${prefix}user-sessions:${userId}`;
  const indexOf = (userId: string) => redis((client) => client.zRange(indexKey(userId), 0, -1));
  const ttlOf = (idHash: string) => redis((client) => client.pTTL(sessionKey(idHash)));

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

  it('stores a session under the hash of its id with its absolute lifetime from now, and indexes it by user', async () => {
    const userId = await insertUser(dataSource());
    const stored = session(userId);
    const saved = await sessions.saveIfCredentialsCurrent(stored);
    expect(saved?.inserted).toBe(true);
    expect(Math.abs(saved!.lastUsedAt.getTime() - Date.now())).toBeLessThan(5000);
    expect(saved!.absoluteExpiresAt.getTime() - saved!.lastUsedAt.getTime()).toBe(12 * HOUR_MS);

    expect(await sessions.findByHash(stored.idHash)).toMatchObject({
      idHash: stored.idHash,
      publicId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      userId,
      data: { userId, cookie: {} },
      ip: '203.0.113.7',
      userAgent: 'test agent',
      absoluteExpiresAt: saved!.absoluteExpiresAt,
    });
    expect(await redis((client) => client.exists(sessionKey(stored.idHash)))).toBe(1);
    expect(await indexOf(userId)).toEqual([stored.idHash]);
    expect(await sessions.findByHash(randomBytes(32).toString('hex'))).toBeNull();
  });

  it('overwrites the contents of a stored session but keeps its handle, creation time and absolute end', async () => {
    const userId = await insertUser(dataSource());
    const first = session(userId);
    const created = await sessions.saveIfCredentialsCurrent(first);
    const before = (await sessions.findByHash(first.idHash))!;
    await sleep(20);
    const again = await sessions.saveIfCredentialsCurrent({
      ...first,
      json: JSON.stringify({ userId, changed: true }),
      ip: '198.51.100.1',
      absoluteMs: 1000,
    });
    expect(again?.inserted).toBe(false);
    expect(again?.absoluteExpiresAt).toEqual(created?.absoluteExpiresAt);
    const after = (await sessions.findByHash(first.idHash))!;
    expect(after).toMatchObject({
      publicId: before.publicId,
      createdAt: before.createdAt,
      absoluteExpiresAt: before.absoluteExpiresAt,
      data: { userId, changed: true },
      ip: '198.51.100.1',
    });
    expect(after.lastUsedAt.getTime()).toBeGreaterThan(before.lastUsedAt.getTime());
    expect(await indexOf(userId)).toEqual([first.idHash]);
  });

  it("expires a session's key by itself at the earlier of its idle (plus the touch interval) and absolute ends; the index with the last", async () => {
    const userId = await insertUser(dataSource());
    const long = session(userId);
    const short = session(userId, { absoluteMs: 5000 });
    await sessions.saveIfCredentialsCurrent(long);
    await sessions.saveIfCredentialsCurrent(short);

    const longTtl = await ttlOf(long.idHash);
    expect(longTtl).toBeLessThanOrEqual(KEY_IDLE_MS);
    expect(longTtl).toBeGreaterThan(KEY_IDLE_MS - SLACK_MS);
    const shortTtl = await ttlOf(short.idHash);
    expect(shortTtl).toBeLessThanOrEqual(5000);
    expect(shortTtl).toBeGreaterThan(5000 - SLACK_MS);
    const indexTtl = await redis((client) => client.pTTL(indexKey(userId)));
    expect(indexTtl).toBeLessThanOrEqual(12 * HOUR_MS);
    expect(indexTtl).toBeGreaterThan(12 * HOUR_MS - SLACK_MS);
  });

  it('a use moves the idle end, never past the absolute one; a session already gone is not brought back', async () => {
    const userId = await insertUser(dataSource());
    const stored = session(userId);
    await sessions.saveIfCredentialsCurrent(stored);

    // Last used 10 minutes ago: 20 minutes of idle time left (and the touch interval).
    await sessions.setLastUsedAt(stored.idHash, new Date(Date.now() - 10 * 60_000));
    const aged = await ttlOf(stored.idHash);
    expect(aged).toBeLessThanOrEqual(KEY_IDLE_MS - 10 * 60_000);
    expect(aged).toBeGreaterThan(KEY_IDLE_MS - 10 * 60_000 - SLACK_MS);
    const usedAt = new Date();
    await sessions.setLastUsedAt(stored.idHash, usedAt);
    expect(await ttlOf(stored.idHash)).toBeGreaterThan(KEY_IDLE_MS - SLACK_MS);
    expect((await sessions.findByHash(stored.idHash))?.lastUsedAt).toEqual(usedAt);

    const ending = session(userId, { absoluteMs: 3000 });
    await sessions.saveIfCredentialsCurrent(ending);
    await sessions.setLastUsedAt(ending.idHash, new Date());
    expect(await ttlOf(ending.idHash)).toBeLessThanOrEqual(3000);

    const gone = session(userId);
    await sessions.saveIfCredentialsCurrent(gone);
    await redis((client) => client.del(sessionKey(gone.idHash)));
    await sessions.setLastUsedAt(gone.idHash, new Date());
    expect(await redis((client) => client.exists(sessionKey(gone.idHash)))).toBe(0);
  });

  it("finds a user's own session by its public handle only", async () => {
    const [owner, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const stored = session(owner);
    await sessions.saveIfCredentialsCurrent(stored);
    const { publicId } = (await sessions.findByHash(stored.idHash))!;
    expect((await sessions.findOfUser(owner, publicId))?.idHash).toBe(stored.idHash);
    expect(await sessions.findOfUser(other, publicId)).toBeNull();
  });

  it("lists a user's live sessions, and drops from the index the ones Redis has expired", async () => {
    const [userId, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const [live, idle, expired, elsewhere] = [
      session(userId),
      session(userId),
      session(userId),
      session(other),
    ];
    for (const s of [live, idle, expired, elsewhere]) await sessions.saveIfCredentialsCurrent(s);
    await sessions.setLastUsedAt(idle.idHash, new Date(Date.now() - 11 * 60_000));
    await sessions.setLastUsedAt(live.idHash, new Date(Date.now() - 9 * 60_000));
    // What Redis does at the key's end: the session goes, its index entry stays until read.
    await redis((client) => client.del(sessionKey(expired.idHash)));
    expect(await indexOf(userId)).toHaveLength(3);

    const found = await sessions.findLiveOfUser(userId, 10 * 60_000);
    expect(found.map((s) => s.idHash)).toEqual([live.idHash]);
    expect((await indexOf(userId)).sort()).toEqual([live.idHash, idle.idHash].sort());
    expect(await indexOf(other)).toEqual([elsewhere.idHash]);
  });

  it('drops index entries past their absolute end when the user saves another session', async () => {
    const userId = await insertUser(dataSource());
    const brief = session(userId, { absoluteMs: 200 });
    await sessions.saveIfCredentialsCurrent(brief);
    await sleep(300);
    const next = session(userId);
    await sessions.saveIfCredentialsCurrent(next);
    expect(await indexOf(userId)).toEqual([next.idHash]);
  });

  it('deletes sessions by hash, from their index too', async () => {
    const [userId, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const [kept, dropped, theirs] = [session(userId), session(userId), session(other)];
    for (const s of [kept, dropped, theirs]) await sessions.saveIfCredentialsCurrent(s);

    await sessions.delete([dropped.idHash, theirs.idHash]);
    expect(await sessions.findByHash(dropped.idHash)).toBeNull();
    expect(await sessions.findByHash(theirs.idHash)).toBeNull();
    expect(await indexOf(userId)).toEqual([kept.idHash]);
    expect(await indexOf(other)).toEqual([]);
    expect((await sessions.findLiveOfUser(userId, IDLE_MS)).map((s) => s.idHash)).toEqual([kept.idHash]);
    await sessions.delete([]);
  });

  it('deletes every session of one user at once, and their index', async () => {
    const [userId, other] = [await insertUser(dataSource()), await insertUser(dataSource())];
    const mine = Array.from({ length: 5 }, () => session(userId));
    const theirs = session(other);
    for (const s of [...mine, theirs]) await sessions.saveIfCredentialsCurrent(s);

    await sessions.deleteAllOfUser(userId);
    for (const s of mine) expect(await redis((client) => client.exists(sessionKey(s.idHash)))).toBe(0);
    expect(await redis((client) => client.exists(indexKey(userId)))).toBe(0);
    expect(await sessions.findLiveOfUser(userId, IDLE_MS)).toEqual([]);
    expect(await sessions.findByHash(theirs.idHash)).not.toBeNull();
  });

  it('stores nothing for a stale credential version, a disabled user, or a user who does not exist', async () => {
    const current = await insertUser(dataSource(), { credentialVersion: 3 });
    const disabled = await insertUser(dataSource(), { disabled: true });
    const refused = [
      session(current, { credentialVersion: 2 }),
      session(disabled),
      session('00000000-0000-4000-8000-000000000000'),
    ];
    for (const s of refused) {
      expect(await sessions.saveIfCredentialsCurrent(s)).toBeNull();
      expect(await redis((client) => client.exists([sessionKey(s.idHash), indexKey(s.userId)]))).toBe(0);
    }
    expect(
      await sessions.saveIfCredentialsCurrent(session(current, { credentialVersion: 3 })),
    ).not.toBeNull();
  });

  it('a save while a credential change is in progress waits for it, and then stores nothing', async () => {
    const userId = await insertUser(dataSource());
    const runner = dataSource().createQueryRunner();
    await runner.startTransaction();
    try {
      // What UsersService does: bump the version, end the sign-ins (in Redis, before the commit), commit.
      await runner.query('UPDATE users SET credential_version = credential_version + 1 WHERE id = $1', [
        userId,
      ]);
      const racing = session(userId);
      const save = sessions.saveIfCredentialsCurrent(racing);
      expect(await settlesWithin(save, 300)).toBe(false);
      await sessions.deleteAllOfUser(userId);
      await runner.commitTransaction();
      expect(await save).toBeNull();
      expect(await sessions.findByHash(racing.idHash)).toBeNull();
      expect(await indexOf(userId)).toEqual([]);
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('a credential change that starts while a save is writing to Redis waits for it, and then ends it', async () => {
    const userId = await insertUser(dataSource());
    const racing = session(userId);
    // Redis holds every write for a moment: the save has share-locked the user's row and waits.
    await redis((client) => client.sendCommand(['CLIENT', 'PAUSE', '700', 'WRITE']));
    const save = sessions.saveIfCredentialsCurrent(racing);
    await sleep(150);
    const runner = dataSource().createQueryRunner();
    await runner.startTransaction();
    try {
      const bump = runner.query(
        'UPDATE users SET credential_version = credential_version + 1 WHERE id = $1',
        [userId],
      );
      expect(await settlesWithin(bump, 250)).toBe(false);
      // The save read the old version while it was current: it is stored...
      expect(await save).not.toBeNull();
      await bump;
      // ...and the change, once it has the row, ends it with every other session.
      await sessions.deleteAllOfUser(userId);
      await runner.commitTransaction();
      expect(await sessions.findByHash(racing.idHash)).toBeNull();
      expect(await indexOf(userId)).toEqual([]);
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
      await redis((client) => client.sendCommand(['CLIENT', 'UNPAUSE']));
    }
  });

  it('writes two keys per user and session, both under the prefix: the session by its hash, the index by user id', async () => {
    const userId = await insertUser(dataSource());
    const stored = session(userId);
    await sessions.saveIfCredentialsCurrent(stored);
    const all = await redis((client) => client.keys('*'));
    const related = all.filter((key) => key.includes(userId) || key.includes(stored.idHash));
    expect(related.sort()).toEqual([sessionKey(stored.idHash), indexKey(userId)].sort());
  });
});

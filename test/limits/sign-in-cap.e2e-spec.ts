import type Test from 'supertest/lib/test';
import { RedisConnection } from '../../src/redis/redis-connection';
import { MAX_SIGN_INS_PER_USER } from '../../src/sessions/sign-in-method';
import {
  decodeJwtPart,
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  type CookieLogin,
  type TokenLogin,
} from '../support/auth-helpers';
import { describeEachSessionStore, SessionStorage } from '../support/session-stores';
import { sql } from '../support/sql';
import { startApp, startAppOnFreshDatabase, type TestApp, type TestContext } from '../support/test-app';

/*
 * At most MAX_SIGN_INS_PER_USER live sign-ins per user, cookie sessions and token logins
 * together (what GET /api/sessions lists): a new sign-in beyond it ends the least recently
 * used one, which every instance then refuses. Concurrent sign-ins end with exactly the cap.
 * The first sign-ins are token logins inserted with SQL; the last ones go through HTTP.
 */

const MINUTE_MS = 60_000;

describeEachSessionStore(`sign-ins: at most ${MAX_SIGN_INS_PER_USER} live per user`, (store) => {
  let ctx: TestContext;
  /** Another instance on the same database (and Redis): it must refuse an ended sign-in too. */
  let second: TestApp;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase(store.env);
    second = await startApp(ctx.database.url, store.env);
  });
  afterAll(async () => {
    await second?.close();
    await ctx?.close();
  });

  const query = <T extends Record<string, unknown>>(text: string, values: unknown[] = []) =>
    sql<T>(ctx.database.url, text, values);
  const as = (req: Test, login: CookieLogin | TokenLogin) =>
    'cookie' in login
      ? req.set('Cookie', login.cookie)
      : req.set('Authorization', `Bearer ${login.accessToken}`);
  const me = (app: TestApp, login: CookieLogin | TokenLogin) => as(app.http().get('/api/auth/me'), login);
  const listed = async (login: CookieLogin | TokenLogin) =>
    ((await as(ctx.http().get('/api/sessions'), login).expect(200)).body as unknown[]).length;
  const loginIdOf = (login: TokenLogin) => decodeJwtPart(login.accessToken, 1).sid as string;

  /** `n` live token logins, the i-th last used 10 minutes and i seconds ago. */
  const insertLogins = (userId: string, n: number) =>
    query(
      `INSERT INTO token_logins (user_id, expires_at, last_used_at)
       SELECT $1, now() + interval '30 days', now() - interval '10 minutes' - i * interval '1 second'
       FROM generate_series(1, $2::int) AS i`,
      [userId, n],
    );

  /** The user's only cookie session was last used `ms` ago, as its store records it. */
  async function ageSession(userId: string, ms: number): Promise<void> {
    const [session] = (await new SessionStorage(ctx.app, store.name).all()).filter(
      (record) => record.userId === userId,
    );
    if (store.name === 'postgres')
      await query(
        `UPDATE cookie_sessions SET last_used_at = now() - $2 * interval '1 millisecond' WHERE id_hash = $1`,
        [session.idHash, ms],
      );
    else {
      const redis = ctx.app.get(RedisConnection);
      await redis.run((client) =>
        client.hSet(redis.key(`session:${session.idHash}`), 'lastUsedAt', String(Date.now() - ms)),
      );
    }
  }

  it('the sign-in beyond the cap ends the least recently used, refused at once on every instance', async () => {
    const user = await signUp(ctx.http);
    const oldSession = await sessionLogin(ctx.http, user);
    const oldLogin = await tokenLogin(ctx.http, user);
    // Both instances use (and cache) them; then their recorded uses are moved back.
    for (const app of [ctx, second]) {
      expect((await me(app, oldSession)).status).toBe(200);
      expect((await me(app, oldLogin)).status).toBe(200);
    }
    await sleep(250);
    await ageSession(user.id, 20 * MINUTE_MS);
    await query(`UPDATE token_logins SET last_used_at = now() - interval '2 days' WHERE id = $1`, [
      loginIdOf(oldLogin),
    ]);
    await insertLogins(user.id, MAX_SIGN_INS_PER_USER - 3);

    // The cap itself: nothing ends.
    const caller = await tokenLogin(ctx.http, user);
    expect(await listed(caller)).toBe(MAX_SIGN_INS_PER_USER);
    expect((await me(second, oldLogin)).status).toBe(200);

    // One beyond: the token login used 2 days ago ends (its access and refresh tokens), the rest stays.
    const newSession = await sessionLogin(ctx.http, user);
    for (const app of [ctx, second]) expect((await me(app, oldLogin)).status).toBe(401);
    await ctx
      .http()
      .post('/api/auth/token/refresh')
      .send({ refreshToken: oldLogin.refreshToken })
      .expect(401);
    expect((await me(second, oldSession)).status).toBe(200);
    expect(await listed(caller)).toBe(MAX_SIGN_INS_PER_USER);

    // One more: now the cookie session used 20 minutes ago ends.
    const newLogin = await tokenLogin(ctx.http, user);
    for (const app of [ctx, second]) expect((await me(app, oldSession)).status).toBe(401);
    expect(await listed(newSession)).toBe(MAX_SIGN_INS_PER_USER);
    for (const login of [caller, newSession, newLogin]) expect((await me(second, login)).status).toBe(200);

    const [{ details }] = await query<{ details: Record<string, unknown> }>(
      `SELECT details FROM audit_events WHERE type = 'signin.revoked' AND user_id = $1 ORDER BY id LIMIT 1`,
      [user.id],
    );
    expect(details).toEqual({ reason: 'sign-in limit', count: 1 });
  });

  it('GET /api/sessions lists the most recently used up to the cap even with more stored; the next sign-in ends the rest', async () => {
    const user = await signUp(ctx.http);
    const caller = await tokenLogin(ctx.http, user);
    // As after token sign-ins while the Redis session store was unreachable, or from before the cap.
    await insertLogins(user.id, MAX_SIGN_INS_PER_USER);
    const res = await as(ctx.http().get('/api/sessions'), caller).expect(200);
    const items = res.body as { id: string; current: boolean }[];
    expect(items).toHaveLength(MAX_SIGN_INS_PER_USER);
    expect(items.filter((item) => item.current).map((item) => item.id)).toEqual([loginIdOf(caller)]);

    await sessionLogin(ctx.http, user);
    const [{ live }] = await query<{ live: number }>(
      'SELECT count(*)::int AS live FROM token_logins WHERE user_id = $1 AND revoked_at IS NULL',
      [user.id],
    );
    expect(live).toBe(MAX_SIGN_INS_PER_USER - 1);
    expect(await listed(caller)).toBe(MAX_SIGN_INS_PER_USER);
    expect((await me(second, caller)).status).toBe(200);
  });

  it('sign-ins racing one below the cap, and at it, end with exactly the cap: the least recently used end', async () => {
    const user = await signUp(ctx.http);
    await insertLogins(user.id, MAX_SIGN_INS_PER_USER - 1);
    const oldest = await query<{ id: string }>(
      'SELECT id FROM token_logins WHERE user_id = $1 ORDER BY last_used_at LIMIT 4',
      [user.id],
    );
    const revoked = async () =>
      (
        await query<{ id: string }>(
          'SELECT id FROM token_logins WHERE user_id = $1 AND revoked_at IS NOT NULL ORDER BY last_used_at',
          [user.id],
        )
      ).map((row) => row.id);

    const [token] = await Promise.all([tokenLogin(ctx.http, user), sessionLogin(ctx.http, user)]);
    expect(await listed(token)).toBe(MAX_SIGN_INS_PER_USER);
    expect(await revoked()).toEqual([oldest[0].id]);

    await Promise.all([tokenLogin(ctx.http, user), sessionLogin(ctx.http, user)]);
    expect(await listed(token)).toBe(MAX_SIGN_INS_PER_USER);
    expect(await revoked()).toEqual(oldest.slice(0, 3).map((row) => row.id));
  });

  it('a burst of sign-ins at the cap takes no second connection under the lock: none waits on the pool', async () => {
    // Two connections: a sign-in holding one under the user's lock while asking for another
    // would wait on the others, each holding one while queued on the lock, until a 503.
    const small = await startApp(ctx.database.url, { ...store.env, DATABASE_POOL_SIZE: '2' });
    try {
      const user = await signUp(small.http);
      await insertLogins(user.id, MAX_SIGN_INS_PER_USER);
      const logins = await Promise.all(
        Array.from({ length: 8 }, () =>
          small.http().post('/api/auth/token').send({ email: user.email, password: user.password }),
        ),
      );
      expect(logins.map((res) => res.status)).toEqual(Array(8).fill(200));
      expect(await listed(logins[0].body as TokenLogin)).toBe(MAX_SIGN_INS_PER_USER);
    } finally {
      await small.close();
    }
  });
});

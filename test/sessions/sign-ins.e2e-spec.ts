import { DataSource } from 'typeorm';
import { UsersService } from '../../src/users/users.service';
import {
  decodeJwtPart,
  PASSWORD,
  sessionCookie,
  sessionLogin,
  signUp,
  tokenLogin,
  type CookieLogin,
  type SignedUp,
  type TokenLogin,
} from '../support/auth-helpers';
import { describeEachSessionStore, SessionStorage } from '../support/session-stores';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

interface SignIn {
  id: string;
  method: 'session' | 'jwt';
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}

describeEachSessionStore('/api/sessions', (store) => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase(store.env)));
  afterAll(() => ctx?.close());

  async function twoSignIns(user: SignedUp): Promise<{ cookie: CookieLogin; token: TokenLogin }> {
    const cookie = await sessionLogin(ctx.http, user);
    const token = await tokenLogin(ctx.http, user);
    return { cookie, token };
  }

  const meBy = (login: CookieLogin | TokenLogin) =>
    'cookie' in login
      ? ctx.http().get('/api/auth/me').set('Cookie', login.cookie)
      : ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${login.accessToken}`);
  /** The user's sessions as the store holds them (the table, or Redis), not as the API lists them. */
  const storedOf = async (userId: string) =>
    (await new SessionStorage(ctx.app, store.name).all()).filter((record) => record.userId === userId);

  const listBy = (login: CookieLogin | TokenLogin) =>
    'cookie' in login
      ? ctx.http().get('/api/sessions').set('Cookie', login.cookie)
      : ctx.http().get('/api/sessions').set('Authorization', `Bearer ${login.accessToken}`);

  it("lists the caller's sign-ins of both kinds, marks the current one, and leaks no secret", async () => {
    const user = await signUp(ctx.http);
    await signUp(ctx.http).then((other) => sessionLogin(ctx.http, other));
    const { cookie, token } = await twoSignIns(user);

    const res = await ctx
      .http()
      .get('/api/sessions')
      .set('Cookie', cookie.cookie)
      .set('User-Agent', 'test-ua')
      .expect(200);
    const list = res.body as SignIn[];
    expect(list).toHaveLength(2);
    for (const item of list) {
      expect(item).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        method: expect.stringMatching(/^(session|jwt)$/),
        createdAt: expect.stringMatching(/Z$/),
        lastUsedAt: expect.stringMatching(/Z$/),
        expiresAt: expect.stringMatching(/Z$/),
        ip: expect.any(String),
        userAgent: null, // supertest sends none
        current: expect.any(Boolean),
      });
    }
    const session = list.find((item) => item.method === 'session')!;
    const jwt = list.find((item) => item.method === 'jwt')!;
    expect(session.current).toBe(true);
    expect(jwt.current).toBe(false);
    expect(jwt.id).toBe(decodeJwtPart(token.accessToken, 1).sid);

    const sid = decodeURIComponent(cookie.cookie.split('=')[1]).slice(2).split('.')[0];
    const text = JSON.stringify(list);
    for (const secret of [sid, token.refreshToken, token.accessToken, cookie.csrfToken])
      expect(text).not.toContain(secret);

    const byToken = (await listBy(token).expect(200)).body as SignIn[];
    expect(byToken.find((item) => item.method === 'jwt')!.current).toBe(true);
    expect(byToken.find((item) => item.method === 'session')!.current).toBe(false);
  });

  it('records where a sign-in came from', async () => {
    const user = await signUp(ctx.http);
    const res = await ctx
      .http()
      .post('/api/auth/token')
      .set('User-Agent', 'ExampleApp/2.1 (iPhone)')
      .send({ email: user.email, password: user.password })
      .expect(200);
    const list = (await listBy(res.body as TokenLogin).expect(200)).body as SignIn[];
    expect(list[0]).toMatchObject({
      userAgent: 'ExampleApp/2.1 (iPhone)',
      ip: expect.stringMatching(/127\.0\.0\.1/),
    });
  });

  it('uses a public id for a cookie session that is not derivable from the session id', async () => {
    const user = await signUp(ctx.http);
    const { cookie } = await twoSignIns(user);
    const list = (await listBy(cookie).expect(200)).body as SignIn[];
    const stored = (await new SessionStorage(ctx.app, store.name).all()).filter(
      (record) => record.userId === user.id,
    );
    expect(stored).toHaveLength(1);
    expect(list.find((item) => item.method === 'session')!.id).toBe(stored[0].publicId);
    expect(stored[0].idHash).not.toContain(stored[0].publicId.replace(/-/g, ''));
  });

  it('DELETE /api/sessions/:id ends that sign-in only: a token login', async () => {
    const user = await signUp(ctx.http);
    const { cookie, token } = await twoSignIns(user);
    const jwtId = decodeJwtPart(token.accessToken, 1).sid as string;
    await ctx
      .http()
      .delete(`/api/sessions/${jwtId}`)
      .set('Cookie', cookie.cookie)
      .set('X-CSRF-Token', cookie.csrfToken)
      .expect(204);
    await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${token.accessToken}`).expect(401);
    await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: token.refreshToken }).expect(401);
    await ctx.http().get('/api/auth/me').set('Cookie', cookie.cookie).expect(200);
    expect(((await listBy(cookie)).body as SignIn[]).map((item) => item.method)).toEqual(['session']);
  });

  it('DELETE /api/sessions/:id ends that sign-in only: a cookie session, from a bearer caller', async () => {
    const user = await signUp(ctx.http);
    const { cookie, token } = await twoSignIns(user);
    const session = ((await listBy(token)).body as SignIn[]).find((item) => item.method === 'session')!;
    await ctx
      .http()
      .delete(`/api/sessions/${session.id}`)
      .set('Authorization', `Bearer ${token.accessToken}`)
      .expect(204);
    await ctx.http().get('/api/auth/me').set('Cookie', cookie.cookie).expect(401);
    await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${token.accessToken}`).expect(200);
  });

  it("answers another user's sign-in id with 404 and leaves it alone", async () => {
    const victim = await signUp(ctx.http);
    const attacker = await signUp(ctx.http);
    const victimLogin = await tokenLogin(ctx.http, victim);
    const victimSession = await sessionLogin(ctx.http, victim);
    const attackerLogin = await tokenLogin(ctx.http, attacker);
    const victimIds = ((await listBy(victimLogin)).body as SignIn[]).map((item) => item.id);
    expect(victimIds).toHaveLength(2);
    for (const id of victimIds) {
      const res = await ctx
        .http()
        .delete(`/api/sessions/${id}`)
        .set('Authorization', `Bearer ${attackerLogin.accessToken}`)
        .expect(404);
      expect(res.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'No such sign-in' });
    }
    await ctx
      .http()
      .get('/api/auth/me')
      .set('Authorization', `Bearer ${victimLogin.accessToken}`)
      .expect(200);
    await ctx.http().get('/api/auth/me').set('Cookie', victimSession.cookie).expect(200);
  });

  it('answers a malformed id with 400 and an unknown one with 404', async () => {
    const user = await signUp(ctx.http);
    const token = await tokenLogin(ctx.http, user);
    const bearer = `Bearer ${token.accessToken}`;
    await ctx.http().delete('/api/sessions/not-a-uuid').set('Authorization', bearer).expect(400);
    await ctx.http().delete("/api/sessions/1' OR '1'='1").set('Authorization', bearer).expect(400);
    await ctx
      .http()
      .delete('/api/sessions/4b9e2c55-8a5f-4d6f-9d5c-2a4e6f1a2b3c')
      .set('Authorization', bearer)
      .expect(404);
  });

  it('keeps lastUsedAt fresh with at most one write per sign-in per minute', async () => {
    const user = await signUp(ctx.http);
    const token = await tokenLogin(ctx.http, user);
    const db = ctx.app.get(DataSource);
    const loginId = decodeJwtPart(token.accessToken, 1).sid as string;
    await db.query(`UPDATE token_logins SET last_used_at = now() - interval '1 hour' WHERE id = $1`, [
      loginId,
    ]);
    const stale = await db.query<{ last_used_at: Date }[]>(
      'SELECT last_used_at FROM token_logins WHERE id = $1',
      [loginId],
    );

    await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${token.accessToken}`).expect(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const first = await db.query<{ last_used_at: Date }[]>(
      'SELECT last_used_at FROM token_logins WHERE id = $1',
      [loginId],
    );
    expect(first[0].last_used_at.getTime()).toBeGreaterThan(stale[0].last_used_at.getTime() + 3_500_000);

    for (let i = 0; i < 5; i++)
      await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${token.accessToken}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = await db.query<{ last_used_at: Date }[]>(
      'SELECT last_used_at FROM token_logins WHERE id = $1',
      [loginId],
    );
    expect(after[0].last_used_at.getTime()).toBe(first[0].last_used_at.getTime());
  });

  describe('ending them all', () => {
    it('a password change by a cookie caller: the caller gets a new session id (same CSRF token) and is the only sign-in left', async () => {
      const user = await signUp(ctx.http);
      const caller = await sessionLogin(ctx.http, user);
      const { cookie: otherSession, token } = await twoSignIns(user);
      const res = await ctx
        .http()
        .post('/api/auth/password')
        .set('Cookie', caller.cookie)
        .set('X-CSRF-Token', caller.csrfToken)
        .send({ currentPassword: PASSWORD, newPassword: 'a different passphrase' })
        .expect(204);
      const renewed: CookieLogin = {
        cookie: sessionCookie(res.headers['set-cookie']),
        csrfToken: caller.csrfToken,
      };
      expect(renewed.cookie).not.toBe(caller.cookie);

      for (const old of [caller, otherSession, token]) await meBy(old).expect(401);
      const list = (await listBy(renewed).expect(200)).body as SignIn[];
      expect(list.map(({ method, current }) => ({ method, current }))).toEqual([
        { method: 'session', current: true },
      ]);
      expect((await storedOf(user.id)).map((record) => record.publicId)).toEqual([list[0].id]);
      const csrf = await ctx.http().get('/api/auth/csrf').set('Cookie', renewed.cookie).expect(200);
      expect(csrf.body).toEqual({ csrfToken: caller.csrfToken });
    });

    it("logout-all by a cookie caller ends every sign-in, its own included, and leaves none of the user's sessions stored", async () => {
      const user = await signUp(ctx.http);
      const caller = await sessionLogin(ctx.http, user);
      const { cookie: otherSession, token } = await twoSignIns(user);
      expect(await storedOf(user.id)).toHaveLength(2);
      await ctx
        .http()
        .post('/api/auth/logout-all')
        .set('Cookie', caller.cookie)
        .set('X-CSRF-Token', caller.csrfToken)
        .expect(204);

      expect(await storedOf(user.id)).toEqual([]);
      for (const old of [caller, otherSession, token]) await meBy(old).expect(401);
      const later = await sessionLogin(ctx.http, user);
      expect(((await listBy(later).expect(200)).body as SignIn[]).map((item) => item.method)).toEqual([
        'session',
      ]);
    });

    it('disabling a user removes their sessions from the store; enabled again, old cookies stay dead', async () => {
      const user = await signUp(ctx.http);
      const { cookie, token } = await twoSignIns(user);
      const users = ctx.app.get(UsersService);
      await users.setDisabled(user.id, true);
      expect(await storedOf(user.id)).toEqual([]);
      await meBy(cookie).expect(401);
      await meBy(token).expect(401);
      await ctx.http().post('/api/auth/session').send({ email: user.email, password: PASSWORD }).expect(401);

      await users.setDisabled(user.id, false);
      await meBy(cookie).expect(401);
      const later = await sessionLogin(ctx.http, user);
      expect(((await listBy(later).expect(200)).body as SignIn[]).map((item) => item.method)).toEqual([
        'session',
      ]);
    });

    it('deleting a user removes their sessions from the store at once, and refuses their cookie', async () => {
      const user = await signUp(ctx.http);
      const { cookie } = await twoSignIns(user);
      await sessionLogin(ctx.http, user);
      expect(await storedOf(user.id)).toHaveLength(2);
      await ctx.app.get(UsersService).delete(user.id);
      // Checked before any request: a refused cookie is destroyed on use, which would hide what was kept.
      expect(await storedOf(user.id)).toEqual([]);
      await meBy(cookie).expect(401);
    });
  });
});

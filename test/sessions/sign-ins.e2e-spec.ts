import { DataSource } from 'typeorm';
import {
  decodeJwtPart,
  sessionLogin,
  signUp,
  tokenLogin,
  type CookieLogin,
  type SignedUp,
  type TokenLogin,
} from '../support/auth-helpers';
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

describe('/api/sessions', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase()));
  afterAll(() => ctx.close());

  async function twoSignIns(user: SignedUp): Promise<{ cookie: CookieLogin; token: TokenLogin }> {
    const cookie = await sessionLogin(ctx.http, user);
    const token = await tokenLogin(ctx.http, user);
    return { cookie, token };
  }

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
    const row = await ctx.app
      .get(DataSource)
      .query<{ public_id: string; id_hash: string }[]>(
        'SELECT public_id, id_hash FROM cookie_sessions WHERE user_id = $1',
        [user.id],
      );
    expect(list.find((item) => item.method === 'session')!.id).toBe(row[0].public_id);
    expect(row[0].id_hash).not.toContain(row[0].public_id.replace(/-/g, ''));
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
});

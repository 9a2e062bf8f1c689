import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  decodeJwtPart,
  PASSWORD,
  signUp,
  sleep,
  tokenLogin,
  type SignedUp,
  type TokenLogin,
} from '../support/auth-helpers';
import { startApp, startAppOnFreshDatabase, type TestContext } from '../support/test-app';

describe('token logins', () => {
  let ctx: TestContext;
  let user: SignedUp;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    user = await signUp(ctx.http);
  });
  afterAll(() => ctx.close());

  const me = (token: string) => ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${token}`);
  const refresh = (refreshToken: string) => ctx.http().post('/api/auth/token/refresh').send({ refreshToken });

  describe('POST /api/auth/token', () => {
    it('returns an access token, an opaque refresh token, the type and the lifetime', async () => {
      const res = await ctx
        .http()
        .post('/api/auth/token')
        .send({ email: user.email, password: PASSWORD })
        .expect(200);
      expect(res.body).toEqual({
        accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        refreshToken: expect.stringMatching(/^[\w-]{43}$/), // 32 bytes (256 bits), base64url
        tokenType: 'Bearer',
        expiresIn: 900,
      });
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    it('signs ES256 access tokens of type at+jwt, with the kid of a published key, sub, sid, jti, iat, exp (15 min), iss and aud', async () => {
      const { accessToken } = await tokenLogin(ctx.http, user);
      const header = decodeJwtPart(accessToken, 0);
      expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
      const jwks = await ctx.http().get('/.well-known/jwks.json').expect(200);
      expect(jwks.body.keys.map((key: { kid: string }) => key.kid)).toContain(header.kid);
      const claims = decodeJwtPart(accessToken, 1);
      expect(claims).toEqual({
        sub: user.id,
        sid: expect.stringMatching(/^[0-9a-f-]{36}$/),
        jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
        iat: expect.any(Number),
        exp: (claims.iat as number) + 900,
        iss: 'nest-auth-service',
        aud: 'nest-auth-service',
      });
    });

    it('gives each login its own sid and each token its own jti', async () => {
      const a = decodeJwtPart((await tokenLogin(ctx.http, user)).accessToken, 1);
      const b = decodeJwtPart((await tokenLogin(ctx.http, user)).accessToken, 1);
      expect(a.sid).not.toBe(b.sid);
      expect(a.jti).not.toBe(b.jti);
    });

    it('authenticates GET /api/auth/me as jwt', async () => {
      const { accessToken } = await tokenLogin(ctx.http, user);
      const res = await me(accessToken).expect(200);
      expect(res.body).toMatchObject({ id: user.id, email: user.email, roles: ['user'], authMethod: 'jwt' });
    });

    it('answers a wrong password and an unknown email with the same 401 body', async () => {
      const wrong = await ctx
        .http()
        .post('/api/auth/token')
        .send({ email: user.email, password: 'nope nope' });
      const unknown = await ctx
        .http()
        .post('/api/auth/token')
        .send({ email: 'ghost@example.com', password: 'nope nope' });
      expect([wrong.status, unknown.status]).toEqual([401, 401]);
      expect(wrong.text).toBe(unknown.text);
    });

    it('stores refresh tokens only as hashes', async () => {
      const { refreshToken } = await tokenLogin(ctx.http, user);
      const db = ctx.app.get(DataSource);
      const hashed = createHash('sha256').update(refreshToken).digest('hex');
      expect(await db.query('SELECT 1 FROM refresh_tokens WHERE token_hash = $1', [hashed])).toHaveLength(1);
      expect(
        await db.query('SELECT 1 FROM refresh_tokens WHERE token_hash = $1', [refreshToken]),
      ).toHaveLength(0);
    });
  });

  it('answers concurrent logins and bearer requests each with its own user', async () => {
    const users = await Promise.all(Array.from({ length: 12 }, () => signUp(ctx.http)));
    const logins = await Promise.all(users.map((u) => tokenLogin(ctx.http, u)));
    const answers = await Promise.all(logins.map((login) => me(login.accessToken).expect(200)));
    expect(answers.map((res) => res.body.id)).toEqual(users.map((u) => u.id));
  });

  describe('POST /api/auth/token/refresh', () => {
    it('rotates: a new pair of the same login, and the old refresh token is spent', async () => {
      const first = await tokenLogin(ctx.http, user);
      const res = await refresh(first.refreshToken).expect(200);
      const second = res.body as TokenLogin;
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(decodeJwtPart(second.accessToken, 1).sid).toBe(decodeJwtPart(first.accessToken, 1).sid);
      await me(second.accessToken).expect(200);
      await refresh(second.refreshToken).expect(200);
    });

    it('treats a spent token presented again as theft: 401, and the whole login is revoked', async () => {
      const first = await tokenLogin(ctx.http, user);
      const second = (await refresh(first.refreshToken).expect(200)).body as TokenLogin;
      const third = (await refresh(second.refreshToken).expect(200)).body as TokenLogin;

      const reuse = await refresh(first.refreshToken).expect(401);
      expect(reuse.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Invalid or expired refresh token',
      });
      await refresh(third.refreshToken).expect(401);
      await me(third.accessToken).expect(401);
      await me(first.accessToken).expect(401);
    });

    it('does not touch the other logins of the same user', async () => {
      const victim = await tokenLogin(ctx.http, user);
      const bystander = await tokenLogin(ctx.http, user);
      await refresh(victim.refreshToken).expect(200);
      await refresh(victim.refreshToken).expect(401);
      await me(bystander.accessToken).expect(200);
      await refresh(bystander.refreshToken).expect(200);
    });

    it('lets only one of two concurrent refreshes with the same token win, and then revokes the login', async () => {
      const login = await tokenLogin(ctx.http, user);
      const results = await Promise.all([refresh(login.refreshToken), refresh(login.refreshToken)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
      const winner = results.find((r) => r.status === 200)!.body as TokenLogin;
      await refresh(winner.refreshToken).expect(401);
    });

    it.each([
      ['an unknown token', 'x'.repeat(43)],
      ['an empty string', ''],
      ['a 10 kB string', 'a'.repeat(10_000)],
    ])('refuses %s', async (_case, token) => {
      const res = await refresh(token);
      expect([400, 401]).toContain(res.status);
    });

    it('refuses an access token where a refresh token belongs, and a refresh token as a bearer token', async () => {
      const login = await tokenLogin(ctx.http, user);
      await refresh(login.accessToken).expect(401);
      await me(login.refreshToken).expect(401);
    });
  });

  describe('POST /api/auth/token/revoke', () => {
    it('ends the login: its refresh token and its unexpired access token stop working at once', async () => {
      const login = await tokenLogin(ctx.http, user);
      await me(login.accessToken).expect(200);
      await ctx.http().post('/api/auth/token/revoke').send({ refreshToken: login.refreshToken }).expect(204);
      await me(login.accessToken).expect(401);
      await refresh(login.refreshToken).expect(401);
    });

    it('works with a spent refresh token of the login too, and ignores unknown tokens', async () => {
      const first = await tokenLogin(ctx.http, user);
      const second = (await refresh(first.refreshToken).expect(200)).body as TokenLogin;
      await ctx.http().post('/api/auth/token/revoke').send({ refreshToken: first.refreshToken }).expect(204);
      await me(second.accessToken).expect(401);
      await ctx.http().post('/api/auth/token/revoke').send({ refreshToken: 'unknown-token' }).expect(204);
    });
  });
});

describe('token lifetimes', () => {
  it('expires access tokens after ACCESS_TOKEN_TTL_SECONDS', async () => {
    // 2 s, not 1: `exp` is in whole seconds, so a 1 s token made late in a second can be
    // over before a loaded machine answers the first request.
    const ctx = await startAppOnFreshDatabase({ ACCESS_TOKEN_TTL_SECONDS: '2' });
    try {
      const user = await signUp(ctx.http);
      const { accessToken, refreshToken } = await tokenLogin(ctx.http, user);
      await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${accessToken}`).expect(200);
      await sleep(3100);
      await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${accessToken}`).expect(401);
      await ctx.http().post('/api/auth/token/refresh').send({ refreshToken }).expect(200);
    } finally {
      await ctx.close();
    }
  });

  it('ends the login at TOKEN_LOGIN_TTL_SECONDS, however often it is refreshed', async () => {
    const ctx = await startAppOnFreshDatabase({ TOKEN_LOGIN_TTL_SECONDS: '2' });
    try {
      const user = await signUp(ctx.http);
      let { refreshToken } = await tokenLogin(ctx.http, user);
      const pair = await ctx.http().post('/api/auth/token/refresh').send({ refreshToken }).expect(200);
      refreshToken = (pair.body as TokenLogin).refreshToken;
      // An access token never outlives its login.
      expect((pair.body as TokenLogin & { expiresIn: number }).expiresIn).toBeLessThanOrEqual(2);
      await sleep(2200);
      await ctx.http().post('/api/auth/token/refresh').send({ refreshToken }).expect(401);
    } finally {
      await ctx.close();
    }
  });
});

describe('token logins end when unused (TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS)', () => {
  const sid = (login: TokenLogin) => decodeJwtPart(login.accessToken, 1).sid as string;
  const refresh = (ctx: TestContext, refreshToken: string) =>
    ctx.http().post('/api/auth/token/refresh').send({ refreshToken });

  describe('the default of 7 days, and invalid values', () => {
    let ctx: TestContext;
    let user: SignedUp;
    beforeAll(async () => {
      ctx = await startAppOnFreshDatabase();
      user = await signUp(ctx.http);
    });
    afterAll(() => ctx.close());

    /** Backdates a login's last use. Its access token is never used, which would record a use. */
    const lastUsed = (login: TokenLogin, interval: string) =>
      ctx.app
        .get(DataSource)
        .query(`UPDATE token_logins SET last_used_at = now() - $2::interval WHERE id = $1`, [
          sid(login),
          interval,
        ]);
    const listedBy = async (viewer: TokenLogin) =>
      (
        (
          await ctx
            .http()
            .get('/api/sessions')
            .set('Authorization', `Bearer ${viewer.accessToken}`)
            .expect(200)
        ).body as { id: string }[]
      ).map((signIn) => signIn.id);

    it('a login unused for 8 days is over: its refresh is 401 and it is no longer listed', async () => {
      const idle = await tokenLogin(ctx.http, user);
      const viewer = await tokenLogin(ctx.http, user);
      expect(await listedBy(viewer)).toContain(sid(idle));
      await lastUsed(idle, '8 days');

      expect(await listedBy(viewer)).not.toContain(sid(idle));
      const res = await refresh(ctx, idle.refreshToken).expect(401);
      expect(res.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Invalid or expired refresh token',
      });
      expect(await listedBy(viewer)).not.toContain(sid(idle));
      expect(await listedBy(viewer)).toContain(sid(viewer));
    });

    it('a login last used 6 days ago still refreshes', async () => {
      const login = await tokenLogin(ctx.http, user);
      await lastUsed(login, '6 days');
      const next = (await refresh(ctx, login.refreshToken).expect(200)).body as TokenLogin;
      expect(sid(next)).toBe(sid(login));
      await refresh(ctx, next.refreshToken).expect(200);
    });

    it.each(['0', '-1', 'a week', '1.5', '31536001'])(
      'refuses TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS=%p as a configuration error naming it',
      async (value) => {
        const outcome = await startApp(ctx.database.url, {
          TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS: value,
        }).then(
          (app) => app,
          (error: Error) => error,
        );
        if (!(outcome instanceof Error)) await outcome.close();
        expect(outcome).toBeInstanceOf(Error);
        expect((outcome as Error).message).toMatch(/TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS/);
      },
    );
  });

  it('with TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS=2: a login not refreshed for 3 s is over, one refreshed every second lives on', async () => {
    const ctx = await startAppOnFreshDatabase({ TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS: '2' });
    try {
      const user = await signUp(ctx.http);
      const idle = await tokenLogin(ctx.http, user);
      let active = await tokenLogin(ctx.http, user);
      for (let i = 0; i < 4; i++) {
        await sleep(1000);
        active = (await refresh(ctx, active.refreshToken).expect(200)).body as TokenLogin;
      }
      // Over 4 s since sign-in: the active login outlived the idle timeout twice over.
      await refresh(ctx, idle.refreshToken).expect(401);
      await refresh(ctx, active.refreshToken).expect(200);
    } finally {
      await ctx.close();
    }
  });
});

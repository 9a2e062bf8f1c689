import type { Response } from 'supertest';
import {
  PASSWORD,
  type CookieLogin as SessionLogin,
  type TokenLogin as TokenPair,
} from '../support/auth-helpers';
import { UsersService } from '../../src/users/users.service';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/*
 * Who may do what, by both authentication methods (session cookie and bearer token):
 * 401 vs 403, admin-only routes, role and disabled-flag changes that apply to existing
 * sign-ins on their next request, session-only routes, "bearer wins", CSRF, logout-all.
 */

describe('authorization (session cookie and bearer token)', () => {
  let ctx: TestContext;
  let users: UsersService;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    users = ctx.app.get(UsersService);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  /** Status and body together, so that a failure shows both. */
  const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

  function expectError(res: Response, status: 401 | 403) {
    const error = status === 401 ? 'Unauthorized' : 'Forbidden';
    expect(outcome(res)).toEqual({ status, body: { statusCode: status, error, message: res.body?.message } });
    expect(typeof res.body.message).toBe('string');
  }

  async function signup(email: string): Promise<{ id: string; email: string }> {
    const res = await ctx.http().post('/api/auth/signup').send({ email, password: PASSWORD, name: 'Test' });
    expect(outcome(res)).toMatchObject({ status: 201, body: { email, roles: ['user'] } });
    return { id: res.body.id as string, email };
  }

  async function sessionLogin(email: string): Promise<SessionLogin> {
    const res = await ctx.http().post('/api/auth/session').send({ email, password: PASSWORD });
    expect(outcome(res)).toMatchObject({
      status: 200,
      body: { user: { email }, csrfToken: expect.any(String) },
    });
    const setCookie = res.headers['set-cookie'] as unknown as string[] | undefined;
    expect(setCookie?.[0]).toMatch(/^sid=/);
    return { cookie: setCookie![0].split(';')[0], csrfToken: res.body.csrfToken as string };
  }

  async function tokenLogin(email: string): Promise<TokenPair> {
    const res = await ctx.http().post('/api/auth/token').send({ email, password: PASSWORD });
    expect(outcome(res)).toMatchObject({
      status: 200,
      body: { accessToken: expect.any(String), refreshToken: expect.any(String), tokenType: 'Bearer' },
    });
    return res.body as TokenPair;
  }

  const byCookie = (path: string, cookie: string) => ctx.http().get(path).set('Cookie', cookie);
  const byBearer = (path: string, token: string) =>
    ctx.http().get(path).set('Authorization', `Bearer ${token}`);

  describe('no credentials', () => {
    it.each(['/api/auth/me', '/api/roles'])('GET %s → 401 with the JSON error body', async (path) => {
      expectError(await ctx.http().get(path), 401);
    });
  });

  describe('admin-only route GET /api/roles', () => {
    it('a plain user gets 403 by cookie and by bearer', async () => {
      const { email } = await signup('plain.roles@example.com');
      const session = await sessionLogin(email);
      const tokens = await tokenLogin(email);
      expectError(await byCookie('/api/roles', session.cookie), 403);
      expectError(await byBearer('/api/roles', tokens.accessToken), 403);
      // Authenticated all the same.
      expect((await byCookie('/api/auth/me', session.cookie)).status).toBe(200);
      expect((await byBearer('/api/auth/me', tokens.accessToken)).status).toBe(200);
    });

    it('an admin gets 200 by cookie and by bearer, with the admin and user roles listed', async () => {
      const { id, email } = await signup('admin.roles@example.com');
      await users.grantRole(id, 'admin');
      const session = await sessionLogin(email);
      const tokens = await tokenLogin(email);
      for (const res of [
        await byCookie('/api/roles', session.cookie),
        await byBearer('/api/roles', tokens.accessToken),
      ]) {
        expect(outcome(res)).toMatchObject({ status: 200 });
        expect(Array.isArray(res.body)).toBe(true);
        const names = (res.body as { name: string }[]).map((role) => role.name);
        expect(names).toEqual(expect.arrayContaining(['admin', 'user']));
      }
    });

    it('a role grant applies to the existing cookie and access token on their next request', async () => {
      const { id, email } = await signup('promoted.roles@example.com');
      const session = await sessionLogin(email);
      const tokens = await tokenLogin(email);
      // Used before the change, so that any cached user would show.
      expectError(await byCookie('/api/roles', session.cookie), 403);
      expectError(await byBearer('/api/roles', tokens.accessToken), 403);

      await users.grantRole(id, 'admin');

      expect(outcome(await byCookie('/api/roles', session.cookie))).toMatchObject({ status: 200 });
      expect(outcome(await byBearer('/api/roles', tokens.accessToken))).toMatchObject({ status: 200 });
      const me = await byBearer('/api/auth/me', tokens.accessToken);
      expect(outcome(me)).toMatchObject({ status: 200, body: { roles: expect.arrayContaining(['admin']) } });
    });
  });

  describe('disabled user', () => {
    it('is refused at once on the existing session and access token, and at login; re-enabled, can log in again', async () => {
      const { id, email } = await signup('disabled.user@example.com');
      const session = await sessionLogin(email);
      const tokens = await tokenLogin(email);
      expect((await byCookie('/api/auth/me', session.cookie)).status).toBe(200);
      expect((await byBearer('/api/auth/me', tokens.accessToken)).status).toBe(200);

      await users.setDisabled(id, true);

      expectError(await byCookie('/api/auth/me', session.cookie), 401);
      expectError(await byBearer('/api/auth/me', tokens.accessToken), 401);
      expectError(await ctx.http().post('/api/auth/session').send({ email, password: PASSWORD }), 401);
      expectError(await ctx.http().post('/api/auth/token').send({ email, password: PASSWORD }), 401);
      expectError(
        await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: tokens.refreshToken }),
        401,
      );

      await users.setDisabled(id, false);

      const again = await sessionLogin(email);
      expect(outcome(await byCookie('/api/auth/me', again.cookie))).toMatchObject({
        status: 200,
        body: { id, authMethod: 'session', disabled: false },
      });
      const fresh = await tokenLogin(email);
      expect(outcome(await byBearer('/api/auth/me', fresh.accessToken))).toMatchObject({
        status: 200,
        body: { id, authMethod: 'jwt', disabled: false },
      });
    });
  });

  describe("session-only route GET /api/auth/csrf (@Auth('session'))", () => {
    it('a bearer token alone → 401; the session cookie → 200 with a csrfToken', async () => {
      const { email } = await signup('csrf.route@example.com');
      const tokens = await tokenLogin(email);
      const session = await sessionLogin(email);
      expectError(await byBearer('/api/auth/csrf', tokens.accessToken), 401);
      const res = await byCookie('/api/auth/csrf', session.cookie);
      expect(outcome(res)).toEqual({ status: 200, body: { csrfToken: expect.any(String) } });
    });
  });

  describe('bearer wins over the cookie', () => {
    it("a cookie of user A and a valid bearer of user B → /me is B, authMethod 'jwt'", async () => {
      const a = await signup('bearer.wins.a@example.com');
      const b = await signup('bearer.wins.b@example.com');
      const session = await sessionLogin(a.email);
      const tokens = await tokenLogin(b.email);
      const res = await ctx
        .http()
        .get('/api/auth/me')
        .set('Cookie', session.cookie)
        .set('Authorization', `Bearer ${tokens.accessToken}`);
      expect(outcome(res)).toMatchObject({
        status: 200,
        body: { id: b.id, email: b.email, authMethod: 'jwt' },
      });
    });

    it('a valid cookie and an invalid bearer → 401, no fallback to the cookie', async () => {
      const a = await signup('bearer.invalid@example.com');
      const session = await sessionLogin(a.email);
      expect((await byCookie('/api/auth/me', session.cookie)).status).toBe(200);
      const res = await ctx
        .http()
        .get('/api/auth/me')
        .set('Cookie', session.cookie)
        .set('Authorization', 'Bearer not-a-valid-token');
      expectError(res, 401);
    });
  });

  describe('CSRF and POST /api/auth/logout-all', () => {
    it('a bearer request needs no CSRF token → 204', async () => {
      const { email } = await signup('logout.bearer@example.com');
      const session = await sessionLogin(email);
      const tokens = await tokenLogin(email);
      const res = await ctx
        .http()
        .post('/api/auth/logout-all')
        .set('Authorization', `Bearer ${tokens.accessToken}`);
      expect(outcome(res)).toEqual({ status: 204, body: {} });
      expectError(await byBearer('/api/auth/me', tokens.accessToken), 401);
      expectError(await byCookie('/api/auth/me', session.cookie), 401);
    });

    it("a cookie request needs the session's own CSRF token; then every sign-in of the user ends", async () => {
      const { email } = await signup('logout.cookie@example.com');
      const caller = await sessionLogin(email);
      const otherSession = await sessionLogin(email);
      const tokens = await tokenLogin(email);
      const otherTokens = await tokenLogin(email);
      const post = () => ctx.http().post('/api/auth/logout-all').set('Cookie', caller.cookie);

      expectError(await post(), 403);
      expectError(await post().set('X-CSRF-Token', 'wrong-token'), 403);
      expect(otherSession.csrfToken).not.toBe(caller.csrfToken);
      expectError(await post().set('X-CSRF-Token', otherSession.csrfToken), 403);
      // The refused attempts changed nothing.
      expect((await byCookie('/api/auth/me', caller.cookie)).status).toBe(200);
      expect((await byCookie('/api/auth/me', otherSession.cookie)).status).toBe(200);
      expect((await byBearer('/api/auth/me', tokens.accessToken)).status).toBe(200);

      const res = await post().set('X-CSRF-Token', caller.csrfToken);
      expect(outcome(res)).toEqual({ status: 204, body: {} });

      expectError(await byCookie('/api/auth/me', caller.cookie), 401);
      expectError(await byCookie('/api/auth/me', otherSession.cookie), 401);
      for (const pair of [tokens, otherTokens]) {
        expectError(await byBearer('/api/auth/me', pair.accessToken), 401);
        expectError(
          await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: pair.refreshToken }),
          401,
        );
      }
    });
  });
});

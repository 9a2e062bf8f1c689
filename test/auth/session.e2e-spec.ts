import { hashSessionId } from '../../src/sessions/session.store';
import { PASSWORD, sessionCookie, sessionLogin, signUp, sleep, type SignedUp } from '../support/auth-helpers';
import { describeEachSessionStore, SessionStorage } from '../support/session-stores';
import { PRODUCTION_ENV, startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/** The session id inside a "sid=s%3A<id>.<signature>" cookie. */
const sessionIdOf = (cookie: string) => decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];

describeEachSessionStore('cookie sessions', (store) => {
  let ctx: TestContext;
  let storage: SessionStorage;
  let user: SignedUp;
  let other: SignedUp;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase(store.env);
    storage = new SessionStorage(ctx.app, store.name);
    user = await signUp(ctx.http);
    other = await signUp(ctx.http);
  });
  afterAll(() => ctx?.close());

  describe('POST /api/auth/session', () => {
    it('signs in: the user, a CSRF token, and a fresh HttpOnly SameSite=Lax cookie', async () => {
      const res = await ctx
        .http()
        .post('/api/auth/session')
        .send({ email: user.email, password: PASSWORD })
        .expect(200);
      expect(res.body).toEqual({
        user: expect.objectContaining({ id: user.id, email: user.email, roles: ['user'] }),
        csrfToken: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      const setCookie = (res.headers['set-cookie'] as unknown as string[])[0];
      expect(setCookie).toMatch(/^sid=s%3A[\w-]+\.[\w%+/=-]+; /);
      expect(setCookie).toMatch(/; HttpOnly/);
      expect(setCookie).toMatch(/; SameSite=Lax/);
      expect(setCookie).toMatch(/; Path=\//);
      expect(setCookie).not.toMatch(/; Secure/); // development: plain HTTP on localhost
      expect(setCookie).not.toMatch(/Domain=/);
    });

    it('is then recognised by GET /api/auth/me as a session', async () => {
      const { cookie } = await sessionLogin(ctx.http, user);
      const res = await ctx.http().get('/api/auth/me').set('Cookie', cookie).expect(200);
      expect(res.body).toMatchObject({ id: user.id, email: user.email, authMethod: 'session' });
    });

    it('stores the session server-side, keyed by the SHA-256 of the id, with the user id; never the id itself', async () => {
      const { cookie } = await sessionLogin(ctx.http, user);
      const sid = sessionIdOf(cookie);
      expect(await storage.find(hashSessionId(sid))).toEqual({
        idHash: hashSessionId(sid),
        userId: user.id,
        publicId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        credentialVersion: 0,
      });
      // Nowhere in the store: not as a key (Redis), not in any column or value.
      const everything = await storage.dump();
      expect(everything).toContain(hashSessionId(sid));
      expect(everything).not.toContain(sid);
    });

    it('answers a wrong password and an unknown email with the same 401 body', async () => {
      const wrong = await ctx
        .http()
        .post('/api/auth/session')
        .send({ email: user.email, password: 'wrong password' });
      const unknown = await ctx
        .http()
        .post('/api/auth/session')
        .send({ email: 'nobody@example.com', password: 'wrong password' });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.text).toBe(unknown.text);
      expect(wrong.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Invalid email or password',
      });
      expect(wrong.headers['set-cookie']).toBeUndefined();
    });

    it('accepts the email in another case and with spaces', async () => {
      await ctx
        .http()
        .post('/api/auth/session')
        .send({ email: ` ${user.email.toUpperCase()} `, password: PASSWORD })
        .expect(200);
    });

    it('refuses form-encoded credentials with 415 (login CSRF from a cross-site form)', async () => {
      const res = await ctx
        .http()
        .post('/api/auth/session')
        .type('form')
        .send({ email: user.email, password: PASSWORD })
        .expect(415);
      expect(res.body.message).toBe('Send the credentials as application/json');
      expect(res.headers['set-cookie']).toBeUndefined();
      await ctx
        .http()
        .post('/api/auth/token')
        .set('Content-Type', 'text/plain')
        .send(`{"email":"${user.email}"}`)
        .expect(415);
    });

    it('never reads credentials from the query string', async () => {
      const query = `email=${encodeURIComponent(user.email)}&password=${encodeURIComponent(PASSWORD)}`;
      const res = await ctx.http().post(`/api/auth/session?${query}`).send({}).expect(400);
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    it('rejects unknown fields and non-string credentials with 400', async () => {
      await ctx
        .http()
        .post('/api/auth/session')
        .send({ email: user.email, password: PASSWORD, roles: ['admin'] })
        .expect(400);
      await ctx
        .http()
        .post('/api/auth/session')
        .send({ email: { $gt: '' }, password: PASSWORD })
        .expect(400);
    });
  });

  describe('API requests without a session cookie (express-session skipped)', () => {
    it('get no cookie and store no session, even on a route that reads the session', async () => {
      const sessions = async () => (await storage.all()).length;
      const before = await sessions();
      for (const path of ['/api', '/api/auth/me', '/api/auth/csrf', '/api/sessions']) {
        const res = await ctx.http().get(path);
        expect(res.headers['set-cookie']).toBeUndefined();
        expect(res.status).toBeLessThan(500);
      }
      await ctx.http().delete('/api/auth/session').expect(401);
      expect(await sessions()).toEqual(before);
    });

    it('still sign in on the login route however its path is spelled (Express matches it case-insensitively)', async () => {
      for (const path of ['/API/Auth/Session', '/api/auth/session/']) {
        const res = await ctx.http().post(path).send({ email: user.email, password: PASSWORD }).expect(200);
        const cookie = sessionCookie(res.headers['set-cookie']);
        const me = await ctx.http().get('/api/auth/me').set('Cookie', cookie).expect(200);
        expect(me.body).toMatchObject({ id: user.id, authMethod: 'session' });
      }
    });

    it('run it when the cookie is one of several', async () => {
      const { cookie } = await sessionLogin(ctx.http, user);
      await ctx.http().get('/api/auth/me').set('Cookie', `theme=dark; ${cookie}; lang=en`).expect(200);
    });
  });

  describe('session fixation', () => {
    it('never adopts a session id the client brings: a forged or unknown cookie is replaced', async () => {
      const planted = 'sid=s%3Aattacker-chosen-id.c2lnbmF0dXJl';
      await ctx.http().get('/api/auth/me').set('Cookie', planted).expect(401);
      const res = await ctx
        .http()
        .post('/api/auth/session')
        .set('Cookie', planted)
        .send({ email: user.email, password: PASSWORD })
        .expect(200);
      const issued = sessionCookie(res.headers['set-cookie']);
      expect(issued).not.toBe(planted);
      expect(issued).not.toContain('attacker-chosen-id');
      await ctx.http().get('/api/auth/me').set('Cookie', planted).expect(401);
    });

    it('gives a new id on every sign-in and ends the session the browser had before', async () => {
      const first = await sessionLogin(ctx.http, user);
      const res = await ctx
        .http()
        .post('/api/auth/session')
        .set('Cookie', first.cookie)
        .send({ email: other.email, password: PASSWORD })
        .expect(200);
      const second = sessionCookie(res.headers['set-cookie']);
      expect(second).not.toBe(first.cookie);
      await ctx.http().get('/api/auth/me').set('Cookie', first.cookie).expect(401);
      const me = await ctx.http().get('/api/auth/me').set('Cookie', second).expect(200);
      expect(me.body.id).toBe(other.id);
    });
  });

  describe('CSRF', () => {
    it('GET /api/auth/csrf returns the token issued at sign-in', async () => {
      const login = await sessionLogin(ctx.http, user);
      const res = await ctx.http().get('/api/auth/csrf').set('Cookie', login.cookie).expect(200);
      expect(res.body).toEqual({ csrfToken: login.csrfToken });
    });

    it.each([
      ['no token', undefined],
      ['an empty token', ''],
      ['a wrong token', 'f'.repeat(64)],
    ])('refuses an unsafe cookie request with %s: 403, and the session survives', async (_case, token) => {
      const login = await sessionLogin(ctx.http, user);
      const req = ctx.http().delete('/api/auth/session').set('Cookie', login.cookie);
      if (token !== undefined) req.set('X-CSRF-Token', token);
      const res = await req.expect(403);
      expect(res.body).toEqual({
        statusCode: 403,
        error: 'Forbidden',
        message: 'Missing or invalid CSRF token',
      });
      await ctx.http().get('/api/auth/me').set('Cookie', login.cookie).expect(200);
    });

    it("refuses another session's token", async () => {
      const mine = await sessionLogin(ctx.http, user);
      const theirs = await sessionLogin(ctx.http, other);
      await ctx
        .http()
        .delete('/api/auth/session')
        .set('Cookie', mine.cookie)
        .set('X-CSRF-Token', theirs.csrfToken)
        .expect(403);
    });

    it('accepts the token as a _csrf form field too', async () => {
      const login = await sessionLogin(ctx.http, user);
      await ctx
        .http()
        .delete('/api/auth/session')
        .set('Cookie', login.cookie)
        .type('form')
        .send({ _csrf: login.csrfToken })
        .expect(204);
    });
  });

  describe('DELETE /api/auth/session', () => {
    it('destroys the session server-side and clears the cookie; the old cookie is refused afterwards', async () => {
      const login = await sessionLogin(ctx.http, user);
      const res = await ctx
        .http()
        .delete('/api/auth/session')
        .set('Cookie', login.cookie)
        .set('X-CSRF-Token', login.csrfToken)
        .expect(204);
      expect((res.headers['set-cookie'] as unknown as string[])[0]).toMatch(
        /^sid=; .*Expires=Thu, 01 Jan 1970/,
      );
      await ctx.http().get('/api/auth/me').set('Cookie', login.cookie).expect(401);
      await ctx
        .http()
        .delete('/api/auth/session')
        .set('Cookie', login.cookie)
        .set('X-CSRF-Token', login.csrfToken)
        .expect(401);
    });

    it('is for cookie sessions only: 401 without one', async () => {
      await ctx.http().delete('/api/auth/session').expect(401);
    });
  });
});

describeEachSessionStore('session lifetime', (store) => {
  it('ends a session left unused for longer than the idle timeout', async () => {
    const ctx = await startAppOnFreshDatabase({ ...store.env, SESSION_IDLE_TIMEOUT_SECONDS: '2' });
    try {
      const user = await signUp(ctx.http);
      const { cookie } = await sessionLogin(ctx.http, user);
      await sleep(1200);
      await ctx.http().get('/api/auth/me').set('Cookie', cookie).expect(200);
      await sleep(1200); // 2.4 s since sign-in, 1.2 s since last use: still alive
      await ctx.http().get('/api/auth/me').set('Cookie', cookie).expect(200);
      // Past the idle end, and the touch interval (0.5 s) by which a Redis key outlives it.
      await sleep(2800);
      const hash = hashSessionId(sessionIdOf(cookie));
      // Redis drops the session by itself (PostgreSQL at the next read or clean-up).
      if (store.name === 'redis')
        expect(await new SessionStorage(ctx.app, 'redis').find(hash)).toBeUndefined();
      await ctx.http().get('/api/auth/me').set('Cookie', cookie).expect(401);
      expect(await new SessionStorage(ctx.app, store.name).find(hash)).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });

  it('ends a session at its absolute lifetime however active it is', async () => {
    const ctx = await startAppOnFreshDatabase({
      ...store.env,
      SESSION_IDLE_TIMEOUT_SECONDS: '2',
      SESSION_ABSOLUTE_TIMEOUT_SECONDS: '3',
    });
    try {
      const user = await signUp(ctx.http);
      const { cookie } = await sessionLogin(ctx.http, user);
      const started = Date.now();
      while (Date.now() - started < 2700) {
        await ctx.http().get('/api/auth/me').set('Cookie', cookie).expect(200);
        await sleep(300);
      }
      await sleep(Math.max(0, 3200 - (Date.now() - started)));
      const hash = hashSessionId(sessionIdOf(cookie));
      // Redis drops the session by itself at its absolute end, however recently it was used.
      if (store.name === 'redis')
        expect(await new SessionStorage(ctx.app, 'redis').find(hash)).toBeUndefined();
      await ctx.http().get('/api/auth/me').set('Cookie', cookie).expect(401);
      expect(await new SessionStorage(ctx.app, store.name).find(hash)).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });
});

describe('session cookie settings', () => {
  it('uses SESSION_COOKIE_NAME', async () => {
    const ctx = await startAppOnFreshDatabase({ SESSION_COOKIE_NAME: 'myapp.sid' });
    try {
      const user = await signUp(ctx.http);
      const res = await ctx
        .http()
        .post('/api/auth/session')
        .send({ email: user.email, password: PASSWORD })
        .expect(200);
      expect(sessionCookie(res.headers['set-cookie'])).toMatch(/^myapp\.sid=/);
    } finally {
      await ctx.close();
    }
  });

  it('in production: __Host- prefix and Secure (behind a trusted TLS proxy)', async () => {
    const ctx = await startAppOnFreshDatabase({ ...PRODUCTION_ENV, TRUST_PROXY: 'loopback' });
    try {
      const user = await signUp(ctx.http);
      const res = await ctx
        .http()
        .post('/api/auth/session')
        .set('X-Forwarded-Proto', 'https')
        .send({ email: user.email, password: PASSWORD })
        .expect(200);
      const setCookie = (res.headers['set-cookie'] as unknown as string[])[0];
      expect(setCookie).toMatch(/^__Host-sid=/);
      expect(setCookie).toMatch(/; Secure/);
      expect(setCookie).toMatch(/; Path=\//);
      expect(setCookie).not.toMatch(/Domain=/);
    } finally {
      await ctx.close();
    }
  });
});

import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { SessionStore } from '../../src/sessions/session.store';
import { TokenLoginCache } from '../../src/sessions/token-login-cache';
import { UserCache } from '../../src/users/user-cache';
import { PASSWORD, sessionCookie, signUp, uniqueEmail } from '../support/auth-helpers';
import { PRODUCTION_ENV, startAppOnFreshDatabase, type TestContext } from '../support/test-app';

const csrfOf = (html: string) => /name=['"]_csrf['"] value=['"]([0-9a-f.]+)['"]/.exec(html)?.[1] ?? '';

function setCookies(res: { headers: Record<string, unknown> }): string[] {
  const header = res.headers['set-cookie'];
  return Array.isArray(header) ? (header as string[]) : typeof header === 'string' ? [header] : [];
}

describe('pages seen without a sign-in', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    // One listening server for every request, instead of one per supertest call.
    await ctx.app.listen(0, '127.0.0.1');
  });
  afterAll(() => ctx.close());

  /** Rows of every table, and entries of every in-memory cache: everything a request could write. */
  async function storedState(): Promise<Record<string, number>> {
    const dataSource = ctx.app.get(DataSource);
    const tables = await dataSource.query<{ name: string }[]>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    );
    const state: Record<string, number> = {};
    for (const { name } of tables) {
      const [{ rows }] = await dataSource.query<{ rows: number }[]>(
        `SELECT count(*)::int AS rows FROM "${name}"`,
      );
      state[`table ${name}`] = rows;
    }
    state['cache sessions'] = ctx.app.get(SessionStore).size;
    state['cache users'] = ctx.app.get(UserCache).size;
    state['cache token logins'] = ctx.app.get(TokenLoginCache).size;
    return state;
  }

  /** The anonymous form of /login or /signup: its `_csrf` token and the cookie that goes with it. */
  async function formOf(path: '/login' | '/signup'): Promise<{ token: string; cookie: string }> {
    const res = await ctx.http().get(path).expect(200);
    const cookie = setCookies(res).find((line) => line.startsWith('csrf='));
    if (!cookie) throw new Error(`${path} set no csrf cookie`);
    return { token: csrfOf(res.text), cookie: cookie.split(';')[0] };
  }

  it('1,000 page views without a cookie write no row to any table and no cache entry', async () => {
    const before = await storedState();
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['table cookie_sessions', 'table users']));
    for (const size of [before['cache sessions'], before['cache users'], before['cache token logins']])
      expect(size).toEqual(expect.any(Number));

    const paths = ['/login', '/signup', '/login?next=%2Fsessions', '/'];
    for (let batch = 0; batch < 50; batch++) {
      const views = await Promise.all(
        Array.from({ length: 20 }, (_, i) => ctx.http().get(paths[(batch * 20 + i) % paths.length])),
      );
      for (const view of views) {
        expect(view.status === 200 || view.status === 303).toBe(true);
        // A form token, but no session cookie: the only cookie is the form's.
        if (view.status === 200) expect(csrfOf(view.text)).toMatch(/^[0-9a-f]{64}\.[0-9a-f]{64}$/);
        for (const line of setCookies(view)) expect(line).toMatch(/^csrf=/);
      }
    }

    expect(await storedState()).toEqual(before);
  });

  it('gives the form cookie HttpOnly, SameSite=Strict, Path=/ and a one-hour lifetime', async () => {
    const res = await ctx.http().get('/login').expect(200);
    const [cookie] = setCookies(res);
    expect(cookie).toMatch(/^csrf=[0-9a-f]{64}\.[0-9a-f]{64};/);
    expect(cookie).toMatch(/; HttpOnly/i);
    expect(cookie).toMatch(/; SameSite=Strict/i);
    expect(cookie).toMatch(/; Path=\/(;|$)/);
    expect(cookie).toMatch(/; Max-Age=3600(;|$)/);
    expect(cookie).not.toMatch(/; Secure/i); // development: plain HTTP on localhost
    expect(cookie).not.toMatch(/; Domain=/i);
    // The token in the form is the one in the cookie (double submit).
    expect(cookie.split(';')[0]).toBe(`csrf=${csrfOf(res.text)}`);
  });

  it('in production the form cookie is Secure and __Host- prefixed', async () => {
    const prod = await startAppOnFreshDatabase(PRODUCTION_ENV);
    try {
      const res = await prod.http().get('/signup').expect(200);
      const [cookie] = setCookies(res);
      expect(cookie).toMatch(/^__Host-csrf=[0-9a-f.]+;/);
      expect(cookie).toMatch(/; Secure/i);
      expect(cookie).toMatch(/; Path=\/(;|$)/);
      expect(cookie).not.toMatch(/; Domain=/i);
    } finally {
      await prod.close();
    }
  });

  it('keeps one token while the cookie is good, so forms in two tabs both work', async () => {
    const agent = request.agent(ctx.app.getHttpServer());
    const login = await agent.get('/login').expect(200);
    const signup = await agent.get('/signup').expect(200);
    expect(csrfOf(signup.text)).toBe(csrfOf(login.text));
  });

  describe('refuses the sign-in and sign-up forms with a bad token (403), writing nothing', () => {
    let user: { email: string; password: string };
    beforeAll(async () => (user = await signUp(ctx.http)));

    const flip = (text: string) => (text[0] === 'a' ? 'b' : 'a') + text.slice(1);

    /** Each way a token can be wrong: the cookie header and the `_csrf` field sent. */
    const cases: [string, () => Promise<{ cookie?: string; token?: string }>][] = [
      ['no token in the form', async () => ({ cookie: (await formOf('/login')).cookie })],
      ['no cookie', async () => ({ token: (await formOf('/login')).token })],
      ['neither', () => Promise.resolve({})],
      [
        'an altered token in the form',
        async () => {
          const { cookie, token } = await formOf('/login');
          return { cookie, token: flip(token) };
        },
      ],
      [
        'a made-up token, the same in form and cookie (not signed by the service)',
        () => {
          const made = `${'0'.repeat(64)}.${'1'.repeat(64)}`;
          return Promise.resolve({ cookie: `csrf=${made}`, token: made });
        },
      ],
      [
        'an altered signature, the same in form and cookie',
        async () => {
          const { token } = await formOf('/login');
          return { cookie: `csrf=${flip(token)}`, token: flip(token) };
        },
      ],
      [
        "another visitor's token with this visitor's cookie",
        async () => {
          const [visitorA, visitorB] = [await formOf('/login'), await formOf('/login')];
          expect(visitorA.token).not.toBe(visitorB.token);
          return { cookie: visitorB.cookie, token: visitorA.token };
        },
      ],
      [
        "a signed-in session's own CSRF token instead of the form's",
        async () => {
          const login = await ctx
            .http()
            .post('/api/auth/session')
            .send({ email: user.email, password: user.password })
            .expect(200);
          const { cookie } = await formOf('/login');
          return { cookie, token: (login.body as { csrfToken: string }).csrfToken };
        },
      ],
    ];

    it.each(cases)('sign-in with %s', async (_name, make) => {
      const { cookie, token } = await make();
      const before = await storedState();
      let post = ctx.http().post('/login').type('form');
      if (cookie) post = post.set('Cookie', cookie);
      const res = await post.send({
        ...(token === undefined ? {} : { _csrf: token }),
        email: user.email,
        password: PASSWORD,
        next: '/profile',
      });
      expect(res.status).toBe(403);
      expect(res.text).toContain('<h1>Forbidden</h1>');
      expect(setCookies(res).filter((line) => line.startsWith('sid='))).toEqual([]);
      expect(await storedState()).toEqual(before);
    });

    it.each(cases)('sign-up with %s', async (_name, make) => {
      const { cookie, token } = await make();
      const before = await storedState();
      let post = ctx.http().post('/signup').type('form');
      if (cookie) post = post.set('Cookie', cookie);
      const res = await post.send({
        ...(token === undefined ? {} : { _csrf: token }),
        email: uniqueEmail('forged-signup'),
        password: PASSWORD,
      });
      expect(res.status).toBe(403);
      expect(setCookies(res).filter((line) => line.startsWith('sid='))).toEqual([]);
      expect(await storedState()).toEqual(before);
    });
  });

  it('signs in with a good form token: a new session, back to `next`, then signed-in pages', async () => {
    const user = await signUp(ctx.http);
    const agent: TestAgent = request.agent(ctx.app.getHttpServer());
    const form = await agent.get('/login?next=%2Fsessions').expect(200);
    const res = await agent
      .post('/login')
      .type('form')
      .send({ _csrf: csrfOf(form.text), email: user.email, password: PASSWORD, next: '/sessions' })
      .expect(303);
    expect(res.headers.location).toBe('/sessions');
    const sid = setCookies(res).find((line) => line.startsWith('sid='));
    expect(sid).toMatch(/; HttpOnly/i);
    await agent.get('/sessions').expect(200);
    const profile = await agent.get('/profile').expect(200);
    expect(profile.text).toContain(user.email);
    // Signed in, the forms carry the session's token, not the anonymous one.
    expect(csrfOf(profile.text)).toMatch(/^[0-9a-f]{64}$/);
    // The same cookie pair, without the agent: the session alone authenticates.
    await ctx.http().get('/profile').set('Cookie', sessionCookie(sid)).expect(200);
  });

  it('signs up with a good form token and lands signed in on /profile', async () => {
    const agent = request.agent(ctx.app.getHttpServer());
    const form = await agent.get('/signup').expect(200);
    const email = uniqueEmail('form-signup');
    const res = await agent
      .post('/signup')
      .type('form')
      .send({ _csrf: csrfOf(form.text), email, password: PASSWORD })
      .expect(303);
    expect(res.headers.location).toBe('/profile');
    expect((await agent.get('/profile').expect(200)).text).toContain(email);
  });
});

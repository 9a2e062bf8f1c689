import { generate } from 'otplib/functional';
import { DataSource } from 'typeorm';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { UsersService } from '../../src/users/users.service';
import { PASSWORD, signUp, uniqueEmail } from '../support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

const csrfOf = (html: string) => /name=['"]_csrf['"] value=['"]([0-9a-f.]+)['"]/.exec(html)?.[1] ?? '';

describe('server-rendered pages', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase()));
  afterAll(() => ctx.close());

  const browser = (): TestAgent => request.agent(ctx.app.getHttpServer());

  /** Signs in through the form, as a browser does: GET the form for its CSRF token, then POST it. */
  async function signIn(
    agent: TestAgent,
    email: string,
    { password = PASSWORD, next = '', status = 303 } = {},
  ) {
    const form = await agent.get(`/login${next ? `?next=${encodeURIComponent(next)}` : ''}`).expect(200);
    return agent
      .post('/login')
      .type('form')
      .send({ _csrf: csrfOf(form.text), email, password, next })
      .expect(status);
  }

  it('sends a signed-out visitor to the sign-in form and back to the page afterwards', async () => {
    const user = await signUp(ctx.http);
    const agent = browser();
    const redirect = await agent.get('/sessions').expect(303);
    expect(redirect.headers.location).toBe('/login?next=%2Fsessions');
    const form = await agent.get(redirect.headers.location).expect(200);
    expect(form.text).toMatch(/name=['"]next['"] value=['"]\/sessions['"]/);
    const signedIn = await signIn(agent, user.email, { next: '/sessions' });
    expect(signedIn.headers.location).toBe('/sessions');
    await agent.get('/sessions').expect(200);
  });

  it.each([['//evil.example'], ['https://evil.example'], ['/\\evil.example'], ['/\\/evil.example']])(
    'never redirects off-site: next=%s lands on /profile',
    async (next) => {
      const user = await signUp(ctx.http);
      const res = await signIn(browser(), user.email, { next });
      expect(res.headers.location).toBe('/profile');
    },
  );

  it('refuses a form post without the CSRF token (403 page), for the sign-in form too', async () => {
    const user = await signUp(ctx.http);
    const agent = browser();
    await agent.get('/login').expect(200);
    const res = await agent
      .post('/login')
      .type('form')
      .send({ email: user.email, password: PASSWORD })
      .expect(403);
    expect(res.text).toContain('<h1>Forbidden</h1>');
    await signIn(agent, user.email);
    await agent.post('/profile').type('form').send({ name: 'No token' }).expect(403);
    await agent
      .post('/profile')
      .type('form')
      .send({ name: 'No token', _csrf: 'f'.repeat(64) })
      .expect(403);
  });

  it('shows a wrong password inline, keeps the email, never the password', async () => {
    const user = await signUp(ctx.http);
    const res = await signIn(browser(), user.email, { password: 'not the password', status: 401 });
    expect(res.text).toMatch(/role=['"]alert['"]/);
    expect(res.text).toContain('Invalid email or password.');
    expect(res.text).toContain(user.email);
    expect(res.text).not.toContain('not the password');
  });

  it('signs up through the form, with errors next to each field and the input kept', async () => {
    const agent = browser();
    const form = await agent.get('/signup').expect(200);
    const email = uniqueEmail();
    const bad = await agent
      .post('/signup')
      .type('form')
      .send({ _csrf: csrfOf(form.text), email, name: 'Ada', password: 'short' })
      .expect(400);
    expect(bad.text).toMatch(
      /class=['"]field-error['"] id=['"]password-error['"]>password must be at least 8 characters long/,
    );
    expect(bad.text).toContain(`value="${email}"`);
    expect(bad.text).not.toContain('short');
    const good = await agent
      .post('/signup')
      .type('form')
      .send({ _csrf: csrfOf(bad.text), email, name: 'Ada', password: PASSWORD })
      .expect(303);
    expect(good.headers.location).toBe('/profile');
    const profile = await agent.get('/profile').expect(200);
    expect(profile.text).toContain(email);
  });

  it('says next to the current password field when wrong current passwords have locked the account (429)', async () => {
    const user = await signUp(ctx.http);
    const agent = browser();
    await signIn(agent, user.email);
    const page = await agent.get('/profile').expect(200);
    let res;
    // Wrong current passwords count against the account lock, as wrong sign-in passwords do.
    for (let attempt = 0; attempt < 30; attempt++) {
      res = await agent
        .post('/profile/password')
        .type('form')
        .send({
          _csrf: csrfOf(page.text),
          currentPassword: 'not the password',
          newPassword: 'purple elephant 42',
        });
      if (res.status !== 403) break;
    }
    expect(res?.status).toBe(429);
    expect(res?.headers['retry-after']).toMatch(/^\d+$/);
    expect(res?.text).toMatch(
      /id=['"]currentPassword-error['"]>Too many failed attempts for this account: try again later\./,
    );
    expect(res?.text).not.toContain('not the password');
  });

  it('says on the sign-in form when the account is locked (429 with Retry-After, like the API)', async () => {
    const user = await signUp(ctx.http);
    const agent = browser();
    for (let i = 0; i < 10; i++)
      await signIn(agent, user.email, { password: 'not the password', status: 401 });
    const locked = await signIn(agent, user.email, { status: 429 });
    expect(locked.headers['retry-after']).toMatch(/^\d+$/);
    expect(locked.text).toContain('Too many failed attempts for this account');
  });

  it('shows a notice only for the statuses it knows: ?status=constructor shows nothing', async () => {
    const user = await signUp(ctx.http);
    const agent = browser();
    await signIn(agent, user.email);
    const saved = await agent.get('/profile?status=name-saved').expect(200);
    expect(saved.text).toContain('Name saved.');
    for (const status of ['constructor', 'toString', '__proto__']) {
      const page = await agent.get(`/profile?status=${status}`).expect(200);
      expect(page.text).not.toMatch(/function|\[native code\]|\[object Object\]/);
    }
  });

  it('escapes what users type: a name with markup is shown as text', async () => {
    const user = await signUp(ctx.http);
    const agent = browser();
    await signIn(agent, user.email);
    const page = await agent.get('/profile').expect(200);
    await agent
      .post('/profile')
      .type('form')
      .send({ _csrf: csrfOf(page.text), name: '<script>alert(1)</script>' })
      .expect(303);
    const after = await agent.get('/profile').expect(200);
    expect(after.text).not.toContain('<script>alert(1)</script>');
    expect(after.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('keeps /admin/users for admins: a plain user gets a 403 page', async () => {
    const user = await signUp(ctx.http);
    const agent = browser();
    await signIn(agent, user.email);
    const res = await agent.get('/admin/users').expect(403);
    expect(res.text).toContain('<h1>Forbidden</h1>');

    await ctx.app.get(UsersService).grantRole(user.id, 'admin');
    const admin = await agent.get('/admin/users').expect(200);
    expect(admin.text).toContain('<h1>Users</h1>');
  });

  it('an admin disabling a user sends that user’s open session back to the sign-in form', async () => {
    const admin = await signUp(ctx.http);
    await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
    const victim = await signUp(ctx.http);
    const adminAgent = browser();
    const victimAgent = browser();
    await signIn(adminAgent, admin.email);
    await signIn(victimAgent, victim.email);
    await victimAgent.get('/profile').expect(200);

    const list = await adminAgent.get(`/admin/users?q=${encodeURIComponent(victim.email)}`).expect(200);
    await adminAgent
      .post(`/admin/users/${victim.id}/disable`)
      .type('form')
      .send({ _csrf: csrfOf(list.text) })
      .expect(303);
    const after = await victimAgent.get('/profile').expect(303);
    expect(after.headers.location).toBe('/login?next=%2Fprofile');
  });

  it('shows an admin whether each address is verified, and resends a verification link once a minute', async () => {
    const admin = await signUp(ctx.http);
    await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
    const user = await signUp(ctx.http);
    const adminAgent = browser();
    await signIn(adminAgent, admin.email);
    const db = ctx.app.get(DataSource);
    const mailsTo = async (email: string) =>
      (
        await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM outbox WHERE recipient = $1`, [email])
      )[0].n;

    const list = await adminAgent.get(`/admin/users?q=${encodeURIComponent(user.email)}`).expect(200);
    expect(list.text).toContain('(not verified)');
    // The sign-up's own link was mailed moments ago: the resend waits for the minute to pass.
    const early = await adminAgent
      .post(`/admin/users/${user.id}/verification`)
      .type('form')
      .send({ _csrf: csrfOf(list.text), q: user.email })
      .expect(303);
    expect(early.headers.location).toBe(`/admin/users?q=${encodeURIComponent(user.email)}&error=mail-recent`);
    await db.query(
      `UPDATE account_tokens SET created_at = created_at - interval '61 seconds' WHERE user_id = $1`,
      [user.id],
    );
    const before = await mailsTo(user.email);
    const sent = await adminAgent
      .post(`/admin/users/${user.id}/verification`)
      .type('form')
      .send({ _csrf: csrfOf(list.text), q: user.email })
      .expect(303);
    expect(sent.headers.location).toBe(
      `/admin/users?q=${encodeURIComponent(user.email)}&status=verification-sent`,
    );
    expect(await mailsTo(user.email)).toBe(before + 1);
    const notice = await adminAgent.get(sent.headers.location).expect(200);
    expect(notice.text).toContain('A verification link was mailed to the user.');

    await db.query(`UPDATE users SET email_verified = true WHERE id = $1`, [user.id]);
    await ctx.app.get(UsersService).markEmailVerified(user.id);
    const verified = await adminAgent.get(`/admin/users?q=${encodeURIComponent(user.email)}`).expect(200);
    expect(verified.text).toContain('(verified)');
    expect(verified.text).not.toContain(`/admin/users/${user.id}/verification`);
  });

  it("shows an admin each user's second factors and resets them after a recent sign-in", async () => {
    const admin = await signUp(ctx.http);
    await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
    const user = await signUp(ctx.http);
    const bearer = `Bearer ${(await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD }).expect(200)).body.accessToken as string}`;
    const setup = await ctx.http().post('/api/auth/mfa/totp').set('Authorization', bearer).expect(200);
    await ctx
      .http()
      .post('/api/auth/mfa/totp/confirm')
      .set('Authorization', bearer)
      .send({ code: await generate({ secret: setup.body.secret as string }) })
      .expect(200);

    const adminAgent = browser();
    await signIn(adminAgent, admin.email);
    const list = await adminAgent.get(`/admin/users?q=${encodeURIComponent(user.email)}`).expect(200);
    expect(list.text).toContain('Authenticator app');
    const reset = await adminAgent
      .post(`/admin/users/${user.id}/mfa/reset`)
      .type('form')
      .send({ _csrf: csrfOf(list.text), q: user.email })
      .expect(303);
    expect(reset.headers.location).toContain('status=second-factors-reset');
    // The user's password login is direct again.
    const login = await ctx
      .http()
      .post('/api/auth/token')
      .send({ email: user.email, password: PASSWORD })
      .expect(200);
    expect(login.body.accessToken).toEqual(expect.any(String));
  });

  it('sends an admin whose sign-in is not recent to confirm it before changing roles', async () => {
    const quick = await startAppOnFreshDatabase({ REAUTH_MAX_AGE_SECONDS: '1' });
    try {
      const admin = await signUp(quick.http);
      await quick.app.get(UsersService).grantRole(admin.id, 'admin');
      const user = await signUp(quick.http);
      const agent = request.agent(quick.app.getHttpServer());
      const form = await agent.get('/login').expect(200);
      await agent
        .post('/login')
        .type('form')
        .send({ _csrf: csrfOf(form.text), email: admin.email, password: PASSWORD })
        .expect(303);
      const list = await agent.get(`/admin/users?q=${encodeURIComponent(user.email)}`).expect(200);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const stale = await agent
        .post(`/admin/users/${user.id}/roles`)
        .type('form')
        .send({ _csrf: csrfOf(list.text), roles: ['user', 'admin'] })
        .expect(403);
      expect(stale.text).toContain('Confirm it is you');
      expect(stale.text).toContain("href='/security'");
      const after = await quick
        .http()
        .get(`/api/users/${user.id}`)
        .set(
          'Authorization',
          `Bearer ${(await quick.http().post('/api/auth/token').send({ email: admin.email, password: PASSWORD })).body.accessToken as string}`,
        )
        .expect(200);
      expect(after.body.roles).toEqual(['user']);
    } finally {
      await quick.close();
    }
  });
});

import { PASSWORD, sessionCookie, sessionLogin, signUp, tokenLogin } from '../support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

const NEW_PASSWORD = 'a brand new passphrase';

describe('POST /api/auth/password', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase()));
  afterAll(() => ctx.close());

  it('by cookie: changes the password, revokes every other sign-in, and moves the session to a new id', async () => {
    const user = await signUp(ctx.http);
    const current = await sessionLogin(ctx.http, user);
    const otherSession = await sessionLogin(ctx.http, user);
    const otherToken = await tokenLogin(ctx.http, user);

    const res = await ctx
      .http()
      .post('/api/auth/password')
      .set('Cookie', current.cookie)
      .set('X-CSRF-Token', current.csrfToken)
      .send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD })
      .expect(204);
    const renewed = sessionCookie(res.headers['set-cookie']);
    expect(renewed).not.toBe(current.cookie);

    await ctx.http().get('/api/auth/me').set('Cookie', current.cookie).expect(401);
    await ctx.http().get('/api/auth/me').set('Cookie', renewed).expect(200);
    // The CSRF token carries over to the new id.
    await ctx
      .http()
      .patch('/api/users/me')
      .set('Cookie', renewed)
      .set('X-CSRF-Token', current.csrfToken)
      .send({ name: 'Still me' })
      .expect(200);
    await ctx.http().get('/api/auth/me').set('Cookie', otherSession.cookie).expect(401);
    await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${otherToken.accessToken}`).expect(401);
    await ctx
      .http()
      .post('/api/auth/token/refresh')
      .send({ refreshToken: otherToken.refreshToken })
      .expect(401);

    await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD }).expect(401);
    await ctx.http().post('/api/auth/token').send({ email: user.email, password: NEW_PASSWORD }).expect(200);
  });

  it('by bearer: keeps the caller’s own login and ends the others', async () => {
    const user = await signUp(ctx.http);
    const current = await tokenLogin(ctx.http, user);
    const other = await tokenLogin(ctx.http, user);
    const session = await sessionLogin(ctx.http, user);
    await ctx
      .http()
      .post('/api/auth/password')
      .set('Authorization', `Bearer ${current.accessToken}`)
      .send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD })
      .expect(204);
    await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${current.accessToken}`).expect(200);
    await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: current.refreshToken }).expect(200);
    await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${other.accessToken}`).expect(401);
    await ctx.http().get('/api/auth/me').set('Cookie', session.cookie).expect(401);
  });

  it('refuses a wrong current password with 403 and changes nothing', async () => {
    const user = await signUp(ctx.http);
    const token = await tokenLogin(ctx.http, user);
    const other = await tokenLogin(ctx.http, user);
    const res = await ctx
      .http()
      .post('/api/auth/password')
      .set('Authorization', `Bearer ${token.accessToken}`)
      .send({ currentPassword: 'not my password', newPassword: NEW_PASSWORD })
      .expect(403);
    expect(res.body).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: 'Current password is incorrect',
    });
    await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${other.accessToken}`).expect(200);
    await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD }).expect(200);
  });

  it('applies the password rules to the new password (400) and requires the current one', async () => {
    const user = await signUp(ctx.http);
    const token = await tokenLogin(ctx.http, user);
    const bearer = `Bearer ${token.accessToken}`;
    const short = await ctx
      .http()
      .post('/api/auth/password')
      .set('Authorization', bearer)
      .send({ currentPassword: PASSWORD, newPassword: 'short' })
      .expect(400);
    expect(short.body.message).toEqual(['newPassword must be at least 8 characters long']);
    await ctx
      .http()
      .post('/api/auth/password')
      .set('Authorization', bearer)
      .send({ newPassword: NEW_PASSWORD })
      .expect(400);
  });

  it('needs authentication, and CSRF for cookie callers', async () => {
    await ctx
      .http()
      .post('/api/auth/password')
      .send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD })
      .expect(401);
    const user = await signUp(ctx.http);
    const { cookie } = await sessionLogin(ctx.http, user);
    await ctx
      .http()
      .post('/api/auth/password')
      .set('Cookie', cookie)
      .send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD })
      .expect(403);
  });
});

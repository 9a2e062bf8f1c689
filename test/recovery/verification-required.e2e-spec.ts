import { Client } from 'pg';
import type { Response } from 'supertest';
import {
  PASSWORD,
  sessionLogin,
  signUp,
  tokenLogin,
  uniqueEmail,
  type CookieLogin,
  type SignedUp,
} from '../support/auth-helpers';
import { linkToken, SmtpSink } from '../support/smtp-sink';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/*
 * EMAIL_VERIFICATION=required: an unverified user can sign in, see who they are,
 * sign out and ask for a link, and nothing else, until the link is followed. With
 * the default (optional) nothing is refused.
 */

const NOT_VERIFIED = /^Email address not verified/;
const NEW_PASSWORD = 'a different long passphrase';

type Caller = { bearer: string } | CookieLogin;

/** Status and body together, so that a failure shows both. */
const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

/** A request as `caller`: a bearer token, or the session cookie with its CSRF token. */
function as(ctx: TestContext, caller: Caller, method: 'get' | 'post' | 'patch' | 'delete', path: string) {
  const req = ctx.http()[method](path);
  return 'bearer' in caller
    ? req.set('Authorization', `Bearer ${caller.bearer}`)
    : req.set('Cookie', caller.cookie).set('X-CSRF-Token', caller.csrfToken);
}

/** The routes an unverified user is kept from, each as one call. */
const guarded = (ctx: TestContext, caller: Caller) => ({
  'GET /api/sessions': () => as(ctx, caller, 'get', '/api/sessions'),
  'PATCH /api/users/me': () => as(ctx, caller, 'patch', '/api/users/me').send({ name: 'Someone' }),
  'POST /api/auth/password': () =>
    as(ctx, caller, 'post', '/api/auth/password').send({
      currentPassword: PASSWORD,
      newPassword: NEW_PASSWORD,
    }),
});

async function withBothSignIns(ctx: TestContext, user: SignedUp) {
  const cookie = await sessionLogin(ctx.http, user);
  const token = await tokenLogin(ctx.http, user);
  return { cookie, bearer: { bearer: token.accessToken } };
}

describe('EMAIL_VERIFICATION=required', () => {
  let sink: SmtpSink;
  let ctx: TestContext;
  let db: Client;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({
      SMTP_URL: sink.url,
      MAIL_RETRY_BASE_SECONDS: '1',
      EMAIL_VERIFICATION: 'required',
    });
    db = new Client({ connectionString: ctx.database.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await ctx?.close();
    await sink?.stop();
  });

  const follow = async (email: string, count = 1) =>
    ctx
      .http()
      .post('/api/auth/email/verify')
      .send({ token: linkToken(await sink.waitFor(email, { count }), '/verify-email') })
      .expect(200);

  it('an unverified user signs in by session and by token, and GET /api/auth/me answers 200 with emailVerified false', async () => {
    const user = await signUp(ctx.http, uniqueEmail('required-signin'));
    const { cookie, bearer } = await withBothSignIns(ctx, user);
    for (const caller of [cookie, bearer]) {
      const res = await as(ctx, caller, 'get', '/api/auth/me');
      expect(outcome(res)).toMatchObject({
        status: 200,
        body: { id: user.id, email: user.email, emailVerified: false },
      });
    }
    await ctx.http().get('/api/auth/csrf').set('Cookie', cookie.cookie).expect(200);
  });

  it.each(['cookie', 'bearer'] as const)(
    'by %s, every other authenticated route answers 403 "Email address not verified ..."',
    async (kind) => {
      const user = await signUp(ctx.http, uniqueEmail(`required-403-${kind}`));
      const caller = (await withBothSignIns(ctx, user))[kind];
      for (const [route, send] of Object.entries(guarded(ctx, caller))) {
        const res = await send();
        expect({ route, status: res.status, error: res.body.error, message: res.body.message }).toEqual({
          route,
          status: 403,
          error: 'Forbidden',
          message: expect.stringMatching(NOT_VERIFIED),
        });
      }
      // Nothing happened: the password is unchanged and the name unset.
      await tokenLogin(ctx.http, user);
      expect((await as(ctx, caller, 'get', '/api/auth/me').expect(200)).body.name).toBeNull();
    },
  );

  it('an unverified user can sign out: DELETE /api/auth/session and POST /api/auth/logout-all', async () => {
    const user = await signUp(ctx.http, uniqueEmail('required-signout'));
    const first = await withBothSignIns(ctx, user);
    await as(ctx, first.cookie, 'delete', '/api/auth/session').expect(204);
    await as(ctx, first.cookie, 'get', '/api/auth/me').expect(401);
    await as(ctx, first.bearer, 'get', '/api/auth/me').expect(200);

    await as(ctx, first.bearer, 'post', '/api/auth/logout-all').expect(204);
    await as(ctx, first.bearer, 'get', '/api/auth/me').expect(401);

    const second = await withBothSignIns(ctx, user);
    await as(ctx, second.cookie, 'post', '/api/auth/logout-all').expect(204);
    await as(ctx, second.cookie, 'get', '/api/auth/me').expect(401);
    await as(ctx, second.bearer, 'get', '/api/auth/me').expect(401);
  });

  it('an unverified user can ask for a new verification link (202 and a mail)', async () => {
    const user = await signUp(ctx.http, uniqueEmail('required-resend'));
    await sink.waitFor(user.email);
    // Out of the one-a-minute window of the sign-up mail.
    await db.query(
      `UPDATE account_tokens SET created_at = created_at - interval '61 seconds' WHERE user_id = $1`,
      [user.id],
    );
    const { cookie } = await withBothSignIns(ctx, user);
    await as(ctx, cookie, 'post', '/api/auth/email/verification').expect(202);
    await follow(user.email, 2);
  });

  it('after the link is followed, the same session and token reach everything on their next request', async () => {
    const user = await signUp(ctx.http, uniqueEmail('required-then-verified'));
    const { cookie, bearer } = await withBothSignIns(ctx, user);
    await as(ctx, cookie, 'get', '/api/sessions').expect(403);
    await as(ctx, bearer, 'get', '/api/sessions').expect(403);

    await follow(user.email);

    for (const caller of [cookie, bearer]) {
      const sessions = await as(ctx, caller, 'get', '/api/sessions');
      expect(outcome(sessions)).toMatchObject({ status: 200, body: expect.any(Array) });
      const renamed = await as(ctx, caller, 'patch', '/api/users/me').send({ name: 'Verified Person' });
      expect(outcome(renamed)).toMatchObject({
        status: 200,
        body: { name: 'Verified Person', emailVerified: true },
      });
    }
    const changed = await guarded(ctx, bearer)['POST /api/auth/password']();
    expect(outcome(changed)).toEqual({ status: 204, body: {} });
  });

  it('a verified user is unaffected', async () => {
    const user = await signUp(ctx.http, uniqueEmail('required-verified'));
    await follow(user.email);
    const { cookie, bearer } = await withBothSignIns(ctx, user);
    for (const caller of [cookie, bearer]) {
      await as(ctx, caller, 'get', '/api/sessions').expect(200);
      await as(ctx, caller, 'patch', '/api/users/me').send({ name: 'Fine' }).expect(200);
      await as(ctx, caller, 'get', `/api/users/${user.id}`).expect(200);
    }
    await guarded(ctx, cookie)['POST /api/auth/password']().expect(204);
  });

  it('public routes are unaffected, with or without an unverified sign-in', async () => {
    const user = await signUp(ctx.http, uniqueEmail('required-public'));
    const { cookie, bearer } = await withBothSignIns(ctx, user);
    for (const caller of [undefined, cookie, bearer]) {
      const get = (path: string) => (caller ? as(ctx, caller, 'get', path) : ctx.http().get(path));
      const post = (path: string) => (caller ? as(ctx, caller, 'post', path) : ctx.http().post(path));
      await get('/api').expect(200);
      await get('/api/health').expect(200);
      await post('/api/auth/password/forgot').send({ email: user.email }).expect(202);
      await post('/api/auth/token').send({ email: user.email, password: PASSWORD }).expect(200);
      await post('/api/auth/signup')
        .send({ email: uniqueEmail('required-public-new'), password: PASSWORD })
        .expect(201);
    }
  });
});

describe('EMAIL_VERIFICATION unset (optional)', () => {
  let sink: SmtpSink;
  let ctx: TestContext;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({ SMTP_URL: sink.url, MAIL_RETRY_BASE_SECONDS: '1' });
  });
  afterAll(async () => {
    await ctx?.close();
    await sink?.stop();
  });

  it('an unverified user is refused nothing, by cookie or by bearer', async () => {
    const user = await signUp(ctx.http, uniqueEmail('optional-unverified'));
    const { cookie, bearer } = await withBothSignIns(ctx, user);
    expect((await as(ctx, bearer, 'get', '/api/auth/me').expect(200)).body.emailVerified).toBe(false);
    for (const caller of [cookie, bearer]) {
      await as(ctx, caller, 'get', '/api/sessions').expect(200);
      await as(ctx, caller, 'patch', '/api/users/me').send({ name: 'Unverified' }).expect(200);
    }
    await guarded(ctx, cookie)['POST /api/auth/password']().expect(204);
  });
});

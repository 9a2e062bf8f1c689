import type { Response } from 'supertest';
import {
  PASSWORD,
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  uniqueEmail,
  type CookieLogin,
} from '../support/auth-helpers';
import { SmtpSink } from '../support/smtp-sink';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/*
 * Recent authentication: a sensitive action (here the email change) needs a factor
 * proved within REAUTH_MAX_AGE_SECONDS, at sign-in or through POST /api/auth/reauth.
 * A 1-second window keeps the waits short.
 */

const REAUTH_REQUIRED = { statusCode: 403, error: 'Forbidden', message: 'reauthentication required' };
const WRONG_PASSWORD = { statusCode: 403, error: 'Forbidden', message: 'Current password is incorrect' };
const LOCKED = 'Too many failed sign-in attempts for this account; try again later';
const WRONG = 'not my password at all';
/** Past the 1-second window, with room for a slow machine's clock reads. */
const PAST_WINDOW_MS = 1500;

type Caller = { bearer: string } | CookieLogin;

/** Status and body together, so that a failure shows both. */
const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

function as(ctx: TestContext, caller: Caller, path: string) {
  const req = ctx.http().post(path);
  return 'bearer' in caller
    ? req.set('Authorization', `Bearer ${caller.bearer}`)
    : req.set('Cookie', caller.cookie).set('X-CSRF-Token', caller.csrfToken);
}

const changeEmail = (ctx: TestContext, caller: Caller) =>
  as(ctx, caller, '/api/auth/email/change').send({ newEmail: uniqueEmail('reauth-new'), password: PASSWORD });

const reauth = (ctx: TestContext, caller: Caller, password = PASSWORD) =>
  as(ctx, caller, '/api/auth/reauth').send({ password });

describe('recent authentication with REAUTH_MAX_AGE_SECONDS=1', () => {
  let sink: SmtpSink;
  let ctx: TestContext;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({
      SMTP_URL: sink.url,
      MAIL_RETRY_BASE_SECONDS: '1',
      REAUTH_MAX_AGE_SECONDS: '1',
      LOGIN_MAX_FAILURES: '3',
    });
  });
  afterAll(async () => {
    await ctx?.close();
    await sink?.stop();
  });

  const callers: Record<
    'cookie session' | 'bearer token',
    (user: { email: string; password: string }) => Promise<Caller>
  > = {
    'cookie session': (user) => sessionLogin(ctx.http, user),
    'bearer token': async (user) => ({ bearer: (await tokenLogin(ctx.http, user)).accessToken }),
  };

  it.each(Object.keys(callers) as (keyof typeof callers)[])(
    '%s: recent right after login (202), 403 "reauthentication required" once the window passed, recent again after POST /api/auth/reauth (204)',
    async (kind) => {
      const user = await signUp(ctx.http, uniqueEmail('reauth-window'));
      const caller = await callers[kind](user);
      expect((await changeEmail(ctx, caller)).status).toBe(202);

      await sleep(PAST_WINDOW_MS);
      expect(outcome(await changeEmail(ctx, caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });

      // A wrong password proves nothing.
      expect(outcome(await reauth(ctx, caller, WRONG))).toEqual({ status: 403, body: WRONG_PASSWORD });
      expect(outcome(await changeEmail(ctx, caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });

      expect(outcome(await reauth(ctx, caller))).toEqual({ status: 204, body: {} });
      expect((await changeEmail(ctx, caller)).status).toBe(202);

      // The reauthentication is itself recent for one window only.
      await sleep(PAST_WINDOW_MS);
      expect(outcome(await changeEmail(ctx, caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });
    },
  );

  it('a cookie session needs the CSRF token for POST /api/auth/reauth', async () => {
    const user = await signUp(ctx.http, uniqueEmail('reauth-csrf'));
    const { cookie } = await sessionLogin(ctx.http, user);
    const res = await ctx.http().post('/api/auth/reauth').set('Cookie', cookie).send({ password: PASSWORD });
    expect(res.status).toBe(403);
    expect(res.body.message).not.toBe(WRONG_PASSWORD.message);
  });

  it('reauthenticating one sign-in leaves the others of the same user stale', async () => {
    const user = await signUp(ctx.http, uniqueEmail('reauth-per-signin'));
    const cookie = await callers['cookie session'](user);
    const bearer = await callers['bearer token'](user);
    await sleep(PAST_WINDOW_MS);
    await reauth(ctx, cookie).expect(204);
    expect((await changeEmail(ctx, cookie)).status).toBe(202);
    expect(outcome(await changeEmail(ctx, bearer))).toEqual({ status: 403, body: REAUTH_REQUIRED });
  });

  it.each(Object.keys(callers) as (keyof typeof callers)[])(
    '%s: a wrong password on reauth is 403 "Current password is incorrect" and counts against the account lock',
    async (kind) => {
      const user = await signUp(ctx.http, uniqueEmail('reauth-wrong'));
      const caller = await callers[kind](user);
      for (let attempt = 1; attempt <= 3; attempt++)
        expect({ attempt, ...outcome(await reauth(ctx, caller, WRONG)) }).toEqual({
          attempt,
          status: 403,
          body: WRONG_PASSWORD,
        });

      const locked = await reauth(ctx, caller);
      expect(outcome(locked)).toEqual({
        status: 429,
        body: { statusCode: 429, error: 'Too Many Requests', message: LOCKED },
      });
      expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const login = await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD });
      expect(login.status).toBe(429);
    },
  );

  it('reauth without a sign-in is 401', async () => {
    const res = await ctx.http().post('/api/auth/reauth').send({ password: PASSWORD });
    expect(outcome(res)).toMatchObject({ status: 401, body: { statusCode: 401 } });
  });

  it('a refresh of the token pair is no proof of a factor: the refreshed login is still stale', async () => {
    const user = await signUp(ctx.http, uniqueEmail('reauth-refresh'));
    const login = await tokenLogin(ctx.http, user);
    await sleep(PAST_WINDOW_MS);

    const refreshed = await ctx
      .http()
      .post('/api/auth/token/refresh')
      .send({ refreshToken: login.refreshToken });
    expect(refreshed.status).toBe(200);
    const caller = { bearer: refreshed.body.accessToken as string };
    expect(outcome(await changeEmail(ctx, caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });

    await reauth(ctx, caller).expect(204);
    expect((await changeEmail(ctx, caller)).status).toBe(202);
  });
});

describe('recent authentication with the default REAUTH_MAX_AGE_SECONDS (300)', () => {
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

  it('a fresh login is recent, by cookie and by bearer, and still is a few seconds later', async () => {
    const user = await signUp(ctx.http, uniqueEmail('reauth-default'));
    const cookie = await sessionLogin(ctx.http, user);
    const bearer = { bearer: (await tokenLogin(ctx.http, user)).accessToken };
    expect((await changeEmail(ctx, cookie)).status).toBe(202);
    expect((await changeEmail(ctx, bearer)).status).toBe(202);
    await sleep(PAST_WINDOW_MS);
    expect((await changeEmail(ctx, cookie)).status).toBe(202);
    expect((await changeEmail(ctx, bearer)).status).toBe(202);
  });
});

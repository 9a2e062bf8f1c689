import type { Response } from 'supertest';
import {
  PASSWORD,
  sessionCookie,
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  uniqueEmail,
  type CookieLogin,
  type SignedUp,
} from '../support/auth-helpers';
import { linkIn, linkToken, SmtpSink } from '../support/smtp-sink';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/*
 * Moving an account to a new address: a link goes to the new address, nothing
 * changes until it is followed; then the old address is told, and every sign-in of
 * the account ends but the browser session that followed the link.
 */

const PUBLIC_URL = 'https://accounts.example.test';
const INVALID_LINK = 'This link is invalid or has expired; ask for a new one';
const LOCKED = 'Too many failed sign-in attempts for this account; try again later';
const ADMIN = { email: 'root-change@example.com', password: 'bootstrap admin passphrase' };
const WRONG = 'not my password at all';

type Caller = { bearer: string } | CookieLogin;

interface AuditItem {
  type: string;
  userId: string | null;
  details: Record<string, unknown> | null;
}

/** Status and body together, so that a failure shows both. */
const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

/** A differently written form of a fresh address: upper case, with spaces around it. */
const messy = (email: string) => `  ${email.toUpperCase()} `;

describe('email change', () => {
  let sink: SmtpSink;
  let ctx: TestContext;
  let adminBearer: string;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({
      PUBLIC_URL,
      SMTP_URL: sink.url,
      MAIL_RETRY_BASE_SECONDS: '1',
      LOGIN_MAX_FAILURES: '3',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    });
    adminBearer = `Bearer ${(await tokenLogin(ctx.http, ADMIN)).accessToken}`;
  });
  afterAll(async () => {
    await ctx?.close();
    await sink?.stop();
  });

  function as(caller: Caller, method: 'get' | 'post' | 'patch', path: string) {
    const req = ctx.http()[method](path);
    return 'bearer' in caller
      ? req.set('Authorization', `Bearer ${caller.bearer}`)
      : req.set('Cookie', caller.cookie).set('X-CSRF-Token', caller.csrfToken);
  }

  const requestChange = (caller: Caller, newEmail: string, password = PASSWORD) =>
    as(caller, 'post', '/api/auth/email/change').send({ newEmail, password });

  const me = (caller: Caller) => as(caller, 'get', '/api/auth/me');

  const login = (email: string, password = PASSWORD) =>
    ctx.http().post('/api/auth/token').send({ email, password });

  /** The token of the `count`-th confirmation mail to `email`. */
  const confirmationToken = async (email: string, count = 1) =>
    linkToken(await sink.waitFor(email, { count }), '/confirm-email');

  const follow = (token: string, cookie?: string) => {
    const req = ctx.http().post('/api/auth/email/verify');
    return (cookie ? req.set('Cookie', cookie) : req).send({ token });
  };

  const auditOf = async (userId: string, type: string): Promise<AuditItem[]> =>
    (
      await ctx
        .http()
        .get(`/api/audit?userId=${userId}&type=${type}&limit=100`)
        .set('Authorization', adminBearer)
        .expect(200)
    ).body.items as AuditItem[];

  /** A user whose sign-up mail has arrived (so that mail counts below are the change's own). */
  async function freshUser(prefix: string): Promise<SignedUp> {
    const user = await signUp(ctx.http, uniqueEmail(prefix));
    await sink.waitFor(user.email);
    return user;
  }

  it('right after login a request answers 202 and mails a PUBLIC_URL /confirm-email link to the new address; nothing changes yet', async () => {
    const user = await freshUser('change-request');
    const newEmail = uniqueEmail('change-request-new');
    const cookie = await sessionLogin(ctx.http, user);

    const res = await requestChange(cookie, messy(newEmail));
    expect(outcome(res)).toMatchObject({ status: 202, body: { message: expect.any(String) } });
    const mail = await sink.waitFor(newEmail);
    expect(mail.subject).toMatch(/^Confirm your new email address/);
    expect(linkIn(mail, '/confirm-email').startsWith(`${PUBLIC_URL}/confirm-email?token=`)).toBe(true);

    expect((await me(cookie).expect(200)).body).toMatchObject({ email: user.email });
    await login(user.email).expect(200);
    await login(newEmail).expect(401);
    expect(sink.to(user.email)).toHaveLength(1); // the sign-up mail only
  });

  it('following the link moves the account (normalised, verified), tells the old address, and only the new address signs in', async () => {
    const user = await freshUser('change-follow');
    const newEmail = uniqueEmail('change-follow-new');
    const { accessToken } = await tokenLogin(ctx.http, user);
    await requestChange({ bearer: accessToken }, messy(newEmail)).expect(202);

    const res = await follow(await confirmationToken(newEmail));
    expect(outcome(res)).toMatchObject({
      status: 200,
      body: { id: user.id, email: newEmail, emailVerified: true },
    });

    const told = await sink.waitFor(user.email, { count: 2 });
    expect(told.subject).toMatch(/^Your sign-in address was changed/);
    expect(told.text).toContain(user.email);
    expect(told.text).toContain(newEmail);
    expect(told.to).toEqual([user.email]);

    await login(user.email).expect(401);
    expect((await login(newEmail).expect(200)).body).toHaveProperty('accessToken');
    await login(messy(newEmail)).expect(200);
  });

  it('every sign-in of the account ends, but the cookie session that follows the link stays signed in with the new email', async () => {
    const user = await freshUser('change-signins');
    const newEmail = uniqueEmail('change-signins-new');
    const browser = await sessionLogin(ctx.http, user);
    const otherBrowser = await sessionLogin(ctx.http, user);
    const app = await tokenLogin(ctx.http, user);
    await requestChange(browser, newEmail).expect(202);
    const token = await confirmationToken(newEmail);
    await me(otherBrowser).expect(200);
    await me({ bearer: app.accessToken }).expect(200);

    const res = await follow(token, browser.cookie);
    expect(outcome(res)).toMatchObject({ status: 200, body: { email: newEmail } });
    // The surviving session gets a new id (the old one is dead, like every other sign-in).
    const renewed = { cookie: sessionCookie(res.headers['set-cookie']), csrfToken: browser.csrfToken };
    expect(renewed.cookie).not.toBe(browser.cookie);

    expect((await me(renewed).expect(200)).body).toMatchObject({ id: user.id, email: newEmail });
    await as(renewed, 'patch', '/api/users/me').send({ name: 'Still here' }).expect(200);
    await me(browser).expect(401);
    await me(otherBrowser).expect(401);
    await me({ bearer: app.accessToken }).expect(401);
    await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: app.refreshToken }).expect(401);
  });

  it('followed without a session (e.g. on another device), the link ends every sign-in of the account', async () => {
    const user = await freshUser('change-all-end');
    const newEmail = uniqueEmail('change-all-end-new');
    const browser = await sessionLogin(ctx.http, user);
    const app = await tokenLogin(ctx.http, user);
    await requestChange({ bearer: app.accessToken }, newEmail).expect(202);

    await follow(await confirmationToken(newEmail)).expect(200);
    await me(browser).expect(401);
    await me({ bearer: app.accessToken }).expect(401);
    await ctx.http().post('/api/auth/token/refresh').send({ refreshToken: app.refreshToken }).expect(401);
  });

  it('a wrong password is 403 and counts against the account lock (LOGIN_MAX_FAILURES=3)', async () => {
    const user = await freshUser('change-wrong');
    const newEmail = uniqueEmail('change-wrong-new');
    const caller = { bearer: (await tokenLogin(ctx.http, user)).accessToken };
    for (let attempt = 1; attempt <= 3; attempt++) {
      const res = await requestChange(caller, newEmail, WRONG);
      expect({ attempt, ...outcome(res) }).toEqual({
        attempt,
        status: 403,
        body: { statusCode: 403, error: 'Forbidden', message: 'Current password is incorrect' },
      });
    }
    const locked = await login(user.email);
    expect(outcome(locked)).toEqual({
      status: 429,
      body: { statusCode: 429, error: 'Too Many Requests', message: LOCKED },
    });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await requestChange(caller, newEmail).expect(429);
    expect(sink.to(newEmail)).toHaveLength(0);
  });

  it('the current address (in any case, with spaces) is 400', async () => {
    const user = await freshUser('change-same');
    const caller = { bearer: (await tokenLogin(ctx.http, user)).accessToken };
    const res = await requestChange(caller, messy(user.email));
    expect(outcome(res)).toMatchObject({ status: 400, body: { statusCode: 400, error: 'Bad Request' } });
  });

  it("another account's address is 409", async () => {
    const user = await freshUser('change-taken');
    const owner = await freshUser('change-taken-owner');
    const caller = { bearer: (await tokenLogin(ctx.http, user)).accessToken };
    const res = await requestChange(caller, messy(owner.email));
    expect(outcome(res)).toMatchObject({ status: 409, body: { statusCode: 409, error: 'Conflict' } });
    await sleep(1500);
    expect(sink.to(owner.email)).toHaveLength(1); // its own sign-up mail only
  });

  it('an address taken between request and confirmation is 409 at confirmation, and nothing changes', async () => {
    const user = await freshUser('change-race');
    const newEmail = uniqueEmail('change-race-new');
    const app = await tokenLogin(ctx.http, user);
    await requestChange({ bearer: app.accessToken }, newEmail).expect(202);
    const token = await confirmationToken(newEmail);
    const squatter = await signUp(ctx.http, newEmail);

    const res = await follow(token);
    expect(outcome(res)).toMatchObject({ status: 409, body: { statusCode: 409, error: 'Conflict' } });

    expect((await me({ bearer: app.accessToken }).expect(200)).body).toMatchObject({
      id: user.id,
      email: user.email,
    });
    await login(user.email).expect(200);
    const squatterLogin = await login(newEmail).expect(200);
    expect((await me({ bearer: squatterLogin.body.accessToken }).expect(200)).body.id).toBe(squatter.id);
    // No "changed" mail to the old address (given the worker time to send one).
    await sleep(1500);
    expect(sink.to(user.email)).toHaveLength(1);
  });

  it('a second change request voids the first link', async () => {
    const user = await freshUser('change-twice');
    const firstEmail = uniqueEmail('change-twice-first');
    const secondEmail = uniqueEmail('change-twice-second');
    const caller = { bearer: (await tokenLogin(ctx.http, user)).accessToken };
    await requestChange(caller, firstEmail).expect(202);
    const first = await confirmationToken(firstEmail);
    await requestChange(caller, secondEmail).expect(202);
    const second = await confirmationToken(secondEmail);

    expect(outcome(await follow(first))).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: INVALID_LINK },
    });
    await login(user.email).expect(200);
    expect((await follow(second).expect(200)).body).toMatchObject({ email: secondEmail });
    await login(firstEmail).expect(401);
  });

  it('a confirmation link works once', async () => {
    const user = await freshUser('change-once');
    const newEmail = uniqueEmail('change-once-new');
    await requestChange({ bearer: (await tokenLogin(ctx.http, user)).accessToken }, newEmail).expect(202);
    const token = await confirmationToken(newEmail);
    await follow(token).expect(200);
    expect((await follow(token)).body).toMatchObject({ statusCode: 400, message: INVALID_LINK });
  });

  it('the request and the change are audited: email.change_requested and email.changed (from, to)', async () => {
    const user = await freshUser('change-audit');
    const newEmail = uniqueEmail('change-audit-new');
    await requestChange({ bearer: (await tokenLogin(ctx.http, user)).accessToken }, newEmail).expect(202);
    expect(await auditOf(user.id, 'email.change_requested')).toHaveLength(1);
    expect(await auditOf(user.id, 'email.changed')).toHaveLength(0);

    await follow(await confirmationToken(newEmail)).expect(200);
    const changed = await auditOf(user.id, 'email.changed');
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({
      type: 'email.changed',
      userId: user.id,
      details: { from: user.email, to: newEmail },
    });
  });
});

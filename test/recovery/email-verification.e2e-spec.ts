import { Client } from 'pg';
import type { Response } from 'supertest';
import {
  PASSWORD,
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  uniqueEmail,
  type SignedUp,
} from '../support/auth-helpers';
import { linkIn, linkToken, SmtpSink } from '../support/smtp-sink';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/*
 * Email verification over HTTP, with mail delivered over real SMTP to an in-process
 * server: the link at sign-up, following it, asking for a new one (by the user and
 * by an admin), its limits, EMAIL_VERIFICATION=off, and the audit trail.
 */

const PUBLIC_URL = 'https://accounts.example.test';
const INVALID_LINK = 'This link is invalid or has expired; ask for a new one';
const ADMIN = { email: 'root-verify@example.com', password: 'bootstrap admin passphrase' };
const MAIL_ENV = { PUBLIC_URL, MAIL_RETRY_BASE_SECONDS: '1' };

interface AuditItem {
  type: string;
  userId: string | null;
  actorId: string | null;
}

/** Status and body together, so that a failure shows both. */
const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

describe('email verification', () => {
  let sink: SmtpSink;
  let ctx: TestContext;
  let db: Client;
  let adminBearer: string;
  let adminId: string;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({
      ...MAIL_ENV,
      SMTP_URL: sink.url,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    });
    db = new Client({ connectionString: ctx.database.url });
    await db.connect();
    const login = await tokenLogin(ctx.http, ADMIN);
    adminBearer = `Bearer ${login.accessToken}`;
    adminId = (await ctx.http().get('/api/auth/me').set('Authorization', adminBearer).expect(200)).body.id;
  });
  afterAll(async () => {
    await db?.end();
    await ctx?.close();
    await sink?.stop();
  });

  /** The token of the `count`-th verification mail to `email`. */
  const verificationToken = async (email: string, count = 1) =>
    linkToken(await sink.waitFor(email, { count }), '/verify-email');

  const verify = (token: string) => ctx.http().post('/api/auth/email/verify').send({ token });

  const me = (auth: { bearer: string } | { cookie: string }) => {
    const req = ctx.http().get('/api/auth/me');
    return 'bearer' in auth
      ? req.set('Authorization', `Bearer ${auth.bearer}`)
      : req.set('Cookie', auth.cookie);
  };

  /** Moves the user's last verification mail out of the one-a-minute window (no test waits a minute). */
  const ageLastMail = (userId: string) =>
    db.query(`UPDATE account_tokens SET created_at = created_at - interval '61 seconds' WHERE user_id = $1`, [
      userId,
    ]);

  const expectInvalidLink = (res: Response) =>
    expect(outcome(res)).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: INVALID_LINK },
    });

  const auditOf = async (userId: string, type: string): Promise<AuditItem[]> =>
    (
      await ctx
        .http()
        .get(`/api/audit?userId=${userId}&type=${type}&limit=100`)
        .set('Authorization', adminBearer)
        .expect(200)
    ).body.items as AuditItem[];

  it('signup answers emailVerified false (in the 201 and in /me) and mails a PUBLIC_URL /verify-email link', async () => {
    const email = uniqueEmail('verify-signup');
    const res = await ctx.http().post('/api/auth/signup').send({ email, password: PASSWORD });
    expect(outcome(res)).toMatchObject({ status: 201, body: { email, emailVerified: false } });
    const login = await tokenLogin(ctx.http, { email, password: PASSWORD });
    expect((await me({ bearer: login.accessToken }).expect(200)).body).toMatchObject({
      emailVerified: false,
    });

    const mail = await sink.waitFor(email);
    expect(mail.subject).toMatch(/^Confirm your email address/);
    const link = linkIn(mail, '/verify-email');
    expect(link.startsWith(`${PUBLIC_URL}/verify-email?token=`)).toBe(true);
    // 256 random bits, base64url: at least 43 characters.
    expect(linkToken(mail, '/verify-email').length).toBeGreaterThanOrEqual(43);
    // The HTML part links to the same place (Handlebars writes "=" as "&#x3D;" in attributes).
    expect(mail.html.replace(/&#x3D;/g, '=')).toContain(`href='${link}'`);
  });

  it('following the link answers 200 with emailVerified true, and existing sessions and tokens see it on their next request', async () => {
    const user = await signUp(ctx.http, uniqueEmail('verify-follow'));
    const cookie = await sessionLogin(ctx.http, user);
    const bearer = (await tokenLogin(ctx.http, user)).accessToken;
    expect((await me(cookie).expect(200)).body.emailVerified).toBe(false);
    expect((await me({ bearer }).expect(200)).body.emailVerified).toBe(false);

    const res = await verify(await verificationToken(user.email));
    expect(outcome(res)).toMatchObject({
      status: 200,
      body: { id: user.id, email: user.email, emailVerified: true },
    });
    expect(res.body).not.toHaveProperty('passwordHash');

    expect((await me(cookie).expect(200)).body.emailVerified).toBe(true);
    expect((await me({ bearer }).expect(200)).body.emailVerified).toBe(true);
  });

  it('a link works once: the second use is 400 with the fixed message', async () => {
    const user = await signUp(ctx.http, uniqueEmail('verify-once'));
    const token = await verificationToken(user.email);
    await verify(token).expect(200);
    expectInvalidLink(await verify(token));
  });

  it('an unknown or altered token is 400 with the same message, and verifies nothing', async () => {
    const user = await signUp(ctx.http, uniqueEmail('verify-altered'));
    const token = await verificationToken(user.email);
    const altered = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    expectInvalidLink(await verify(altered));
    expectInvalidLink(await verify('x'.repeat(43)));
    const bearer = (await tokenLogin(ctx.http, user)).accessToken;
    expect((await me({ bearer }).expect(200)).body.emailVerified).toBe(false);
  });

  it('an expired link is 400 with the same message, and verifies nothing', async () => {
    const user = await signUp(ctx.http, uniqueEmail('verify-expired'));
    const token = await verificationToken(user.email);
    await db.query(`UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [
      user.id,
    ]);
    expectInvalidLink(await verify(token));
    const bearer = (await tokenLogin(ctx.http, user)).accessToken;
    expect((await me({ bearer }).expect(200)).body.emailVerified).toBe(false);
  });

  it('a cookie session (with X-CSRF-Token) asks for a new link: 202, a new mail, and the previous link is void', async () => {
    const user = await signUp(ctx.http, uniqueEmail('verify-resend-cookie'));
    const first = await verificationToken(user.email);
    const cookie = await sessionLogin(ctx.http, user);
    await ageLastMail(user.id);

    // Without the CSRF token a cookie request is refused, and sends nothing.
    await ctx.http().post('/api/auth/email/verification').set('Cookie', cookie.cookie).expect(403);
    const res = await ctx
      .http()
      .post('/api/auth/email/verification')
      .set('Cookie', cookie.cookie)
      .set('X-CSRF-Token', cookie.csrfToken);
    expect(outcome(res)).toMatchObject({ status: 202, body: { message: expect.any(String) } });

    const second = await verificationToken(user.email, 2);
    expect(second).not.toBe(first);
    expectInvalidLink(await verify(first));
    expect((await verify(second)).body).toMatchObject({ id: user.id, emailVerified: true });
    expect(sink.to(user.email)).toHaveLength(2);
  });

  it('a bearer token asks for a new link: 202 and a mail; a second request within 60 s is 429 with Retry-After', async () => {
    const user = await signUp(ctx.http, uniqueEmail('verify-resend-bearer'));
    await sink.waitFor(user.email);
    const bearer = `Bearer ${(await tokenLogin(ctx.http, user)).accessToken}`;
    const resend = () => ctx.http().post('/api/auth/email/verification').set('Authorization', bearer);

    // The sign-up mail itself counts: a minute has not passed.
    const tooSoon = await resend();
    expect(tooSoon.status).toBe(429);

    await ageLastMail(user.id);
    expect((await resend()).status).toBe(202);
    await sink.waitFor(user.email, { count: 2 });

    const again = await resend();
    expect(outcome(again)).toMatchObject({
      status: 429,
      body: { statusCode: 429, error: 'Too Many Requests', message: expect.any(String) },
    });
    const retryAfter = Number(again.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Refused requests mail nothing.
    await sleep(1500);
    expect(sink.to(user.email)).toHaveLength(2);
  });

  it('once the address is verified, asking for a link is 409 and mails nothing', async () => {
    const user = await signUp(ctx.http, uniqueEmail('verify-done'));
    await verify(await verificationToken(user.email)).expect(200);
    await ageLastMail(user.id);
    const bearer = (await tokenLogin(ctx.http, user)).accessToken;
    const res = await ctx
      .http()
      .post('/api/auth/email/verification')
      .set('Authorization', `Bearer ${bearer}`);
    expect(outcome(res)).toMatchObject({ status: 409, body: { statusCode: 409, error: 'Conflict' } });
    await sleep(1500);
    expect(sink.to(user.email)).toHaveLength(1);
  });

  it('an admin sees emailVerified in GET /api/users and GET /api/users/:id', async () => {
    const user = await signUp(ctx.http, uniqueEmail('verify-admin-view'));
    const listed = async () => {
      const res = await ctx
        .http()
        .get(`/api/users?q=${encodeURIComponent(user.email)}`)
        .set('Authorization', adminBearer)
        .expect(200);
      return (res.body.items as { id: string; emailVerified: boolean }[]).find((item) => item.id === user.id);
    };
    const byId = async () =>
      (await ctx.http().get(`/api/users/${user.id}`).set('Authorization', adminBearer).expect(200)).body;

    expect(await listed()).toMatchObject({ emailVerified: false });
    expect(await byId()).toMatchObject({ id: user.id, emailVerified: false });
    await verify(await verificationToken(user.email)).expect(200);
    expect(await listed()).toMatchObject({ emailVerified: true });
    expect(await byId()).toMatchObject({ id: user.id, emailVerified: true });
  });

  it("an admin resends a user's verification mail (202 + a mail to that user); a plain user gets 403", async () => {
    const user = await signUp(ctx.http, uniqueEmail('verify-admin-resend'));
    const other: SignedUp = await signUp(ctx.http, uniqueEmail('verify-plain'));
    await sink.waitFor(user.email);
    await ageLastMail(user.id);

    const plainBearer = (await tokenLogin(ctx.http, other)).accessToken;
    const refused = await ctx
      .http()
      .post(`/api/users/${user.id}/email/verification`)
      .set('Authorization', `Bearer ${plainBearer}`);
    expect(refused.status).toBe(403);

    const res = await ctx
      .http()
      .post(`/api/users/${user.id}/email/verification`)
      .set('Authorization', adminBearer);
    expect(outcome(res)).toMatchObject({ status: 202, body: { message: expect.any(String) } });
    const mail = await sink.waitFor(user.email, { count: 2 });
    expect(mail.to).toEqual([user.email]);
    await verify(linkToken(mail, '/verify-email')).expect(200);

    // Once verified, the admin gets the same 409 as the user.
    await ageLastMail(user.id);
    await ctx
      .http()
      .post(`/api/users/${user.id}/email/verification`)
      .set('Authorization', adminBearer)
      .expect(409);
  });

  it('the bootstrap admin (ADMIN_EMAIL/ADMIN_PASSWORD) is verified, and is sent no verification mail', async () => {
    expect(
      (await ctx.http().get('/api/auth/me').set('Authorization', adminBearer).expect(200)).body,
    ).toMatchObject({ email: ADMIN.email, emailVerified: true });
    await sleep(1500);
    expect(sink.to(ADMIN.email)).toHaveLength(0);
  });

  it('sent and followed links are audited: email.verification_sent (with the admin as actor) and email.verified', async () => {
    const user = await signUp(ctx.http, uniqueEmail('verify-audit'));
    await sink.waitFor(user.email);
    await ageLastMail(user.id);
    const bearer = (await tokenLogin(ctx.http, user)).accessToken;
    await ctx
      .http()
      .post('/api/auth/email/verification')
      .set('Authorization', `Bearer ${bearer}`)
      .expect(202);
    await ageLastMail(user.id);
    await ctx
      .http()
      .post(`/api/users/${user.id}/email/verification`)
      .set('Authorization', adminBearer)
      .expect(202);
    await verify(await verificationToken(user.email, 3)).expect(200);

    const sent = await auditOf(user.id, 'email.verification_sent');
    // The user's own request has no separate actor; the admin's names the admin.
    expect(sent.map((event) => event.actorId ?? 'self').sort()).toEqual([adminId, 'self'].sort());
    expect(sent.every((event) => event.userId === user.id)).toBe(true);
    const verified = await auditOf(user.id, 'email.verified');
    expect(verified).toHaveLength(1);
    expect(verified[0]).toMatchObject({ type: 'email.verified', userId: user.id });
  });
});

describe('EMAIL_VERIFICATION=off', () => {
  let sink: SmtpSink;
  let ctx: TestContext;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({ ...MAIL_ENV, SMTP_URL: sink.url, EMAIL_VERIFICATION: 'off' });
  });
  afterAll(async () => {
    await ctx?.close();
    await sink?.stop();
  });

  it('signup sends no verification mail, and the account is emailVerified false', async () => {
    const email = uniqueEmail('verify-off');
    const res = await ctx.http().post('/api/auth/signup').send({ email, password: PASSWORD });
    expect(outcome(res)).toMatchObject({ status: 201, body: { email, emailVerified: false } });

    // A mail queued after the sign-up arrives: had sign-up queued one, it would be here by then.
    await ctx.http().post('/api/auth/password/forgot').send({ email }).expect(202);
    const reset = await sink.waitFor(email);
    expect(reset.subject).toMatch(/^Reset your password/);
    await sleep(1500);
    expect(sink.to(email).map((mail) => mail.subject.split(' · ')[0])).toEqual(['Reset your password']);

    const bearer = (await tokenLogin(ctx.http, { email, password: PASSWORD })).accessToken;
    expect(
      (await ctx.http().get('/api/auth/me').set('Authorization', `Bearer ${bearer}`).expect(200)).body,
    ).toMatchObject({ emailVerified: false });
  });
});

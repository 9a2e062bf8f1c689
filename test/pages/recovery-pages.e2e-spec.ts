import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request, { type Response } from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { UsersService } from '../../src/users/users.service';
import { PASSWORD, signUp, sleep, uniqueEmail, type SignedUp } from '../support/auth-helpers';
import { linkToken, type ReceivedMail, SmtpSink } from '../support/smtp-sink';
import { startApp, startAppOnFreshDatabase, type TestApp, type TestContext } from '../support/test-app';

/*
 * The pages of the recovery flows, through their forms as a browser without
 * JavaScript uses them, with mail delivered over real SMTP to an in-process server:
 * /forgot-password, /reset-password, /verify-email, /confirm-email, the email part of
 * /profile, EMAIL_VERIFICATION=required, and the captcha on the sign-up and
 * forgot-password forms (against a fake siteverify API on loopback).
 */

const csrfOf = (html: string) => /name=['"]_csrf['"] value=['"]([0-9a-f.]*)['"]/.exec(html)?.[1] ?? '';
const ANONYMOUS_TOKEN = /^[0-9a-f]{64}\.[0-9a-f]{64}$/;
const SESSION_TOKEN = /^[0-9a-f]{64}$/;
const INVALID_LINK = 'This link is invalid or has expired; ask for a new one.';
const RESET_REQUESTED = 'If an account uses this address, a link to reset its password is on its way.';
const NEW_PASSWORD = 'purple elephant marmalade 42';
const ENV = { PUBLIC_URL: 'https://accounts.example.test', MAIL_RETRY_BASE_SECONDS: '1' };

function setCookies(res: Response): string[] {
  const header = res.headers['set-cookie'] as unknown;
  return Array.isArray(header) ? (header as string[]) : typeof header === 'string' ? [header] : [];
}

/** A form page as the contract wants it: 200, not cacheable, its POST form with a CSRF token of the right kind. */
function expectFormPage(res: Response, kind: 'anonymous' | 'session', action: string): void {
  expect({ status: res.status, cacheControl: res.headers['cache-control'] }).toEqual({
    status: 200,
    cacheControl: 'no-store',
  });
  expect(res.text).toContain(`<form method="post" action="${action}"`);
  expect(csrfOf(res.text.slice(res.text.indexOf(`action="${action}"`)))).toMatch(
    kind === 'anonymous' ? ANONYMOUS_TOKEN : SESSION_TOKEN,
  );
  // A page seen without a sign-in creates no session.
  if (kind === 'anonymous') expect(setCookies(res).filter((line) => line.startsWith('sid='))).toEqual([]);
}

/**
 * A fake captcha siteverify API on 127.0.0.1 (never a real provider): records each
 * request's form fields, answers `{ success: true }` only for `goodAnswer`, and 500
 * while `down`.
 */
class FakeSiteverify {
  readonly requests: Record<string, string>[] = [];
  down = false;
  private constructor(private readonly server: Server) {}

  static async start(goodAnswer: string): Promise<FakeSiteverify> {
    const fake: FakeSiteverify = new FakeSiteverify(
      createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => {
          const fields = Object.fromEntries(new URLSearchParams(body));
          fake.requests.push(fields);
          if (fake.down) return void res.writeHead(500).end();
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ success: fields.response === goodAnswer }));
        });
      }),
    );
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/siteverify`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The hidden field `name`'s value in the form. */
const hiddenValue = (html: string, name: string) =>
  new RegExp(`type="hidden" name="${name}" value="([^"]*)"`).exec(html)?.[1];

describe('recovery pages', () => {
  let sink: SmtpSink;
  let ctx: TestContext;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({ ...ENV, SMTP_URL: sink.url });
    await ctx.app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await ctx?.close();
    await sink?.stop();
  });

  const browser = (app: TestApp = ctx): TestAgent => request.agent(app.app.getHttpServer());

  /** Signs in through the /login form. */
  async function signIn(agent: TestAgent, email: string, password = PASSWORD): Promise<void> {
    const form = await agent.get('/login').expect(200);
    await agent
      .post('/login')
      .type('form')
      .send({ _csrf: csrfOf(form.text), email, password, next: '/profile' })
      .expect(303);
  }

  /** The `count`-th mail to `address` with a link to `path`. */
  async function mailWithLink(address: string, path: string, count = 1): Promise<ReceivedMail> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const mails = sink.to(address).filter((mail) => mail.text.includes(`${path}?token=`));
      if (mails.length >= count) return mails[count - 1];
      if (Date.now() > deadline) throw new Error(`no ${path} mail #${count} to ${address}`);
      await sleep(20);
    }
  }

  const tokenOf = async (address: string, path: string, count = 1) =>
    linkToken(await mailWithLink(address, path, count), path);

  const query = <T>(sql: string, params: unknown[] = []) => ctx.app.get(DataSource).query<T>(sql, params);
  const outboxRows = async () => (await query<{ n: number }[]>('SELECT count(*)::int AS n FROM outbox'))[0].n;
  /** Until the outbox has nothing left to do (every job and mail handled). */
  async function outboxSettled(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const [{ n }] = await query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM outbox WHERE done_at IS NULL AND failed_at IS NULL',
      );
      if (n === 0) return;
      await sleep(20);
    }
    throw new Error('the outbox did not settle');
  }

  const me = async (agent: TestAgent) =>
    (await agent.get('/api/auth/me').expect(200)).body as { email: string; emailVerified: boolean };

  describe('/forgot-password', () => {
    it('shows an email form with an anonymous CSRF token, not cached, creating no session', async () => {
      const res = await ctx.http().get('/forgot-password');
      expectFormPage(res, 'anonymous', '/forgot-password');
      expect(res.text).toMatch(/<label for="email">Email<\/label>/);
      expect(res.text).not.toContain('cf-turnstile');
      expect(res.text).not.toContain('<script');
    });

    it('is linked from /login as "Forgot your password?"', async () => {
      const login = await ctx.http().get('/login').expect(200);
      expect(login.text).toContain(`<a href='/forgot-password'>Forgot your password?</a>`);
    });

    it('refuses the form without its CSRF token, or with a wrong one (403), queueing nothing', async () => {
      const user = await signUp(ctx.http);
      await outboxSettled();
      const before = await outboxRows();
      const agent = browser();
      const form = await agent.get('/forgot-password').expect(200);
      const token = csrfOf(form.text);
      const flipped = (token[0] === 'a' ? 'b' : 'a') + token.slice(1);
      for (const fields of [{}, { _csrf: flipped }, { _csrf: '' }]) {
        const res = await agent
          .post('/forgot-password')
          .type('form')
          .send({ ...fields, email: user.email });
        expect(res.status).toBe(403);
        expect(res.text).toContain('<h1>Forbidden</h1>');
      }
      // The right token from another visitor's form does not pass with this visitor's cookie either.
      const other = await ctx.http().get('/forgot-password').expect(200);
      await agent
        .post('/forgot-password')
        .type('form')
        .send({ _csrf: csrfOf(other.text), email: user.email })
        .expect(403);
      expect(await outboxRows()).toBe(before);
    });

    it('answers a known and an unknown address with the same page, and mails only the known one', async () => {
      const known = await signUp(ctx.http);
      const unknown = uniqueEmail('nobody');
      const agent = browser();
      const form = await agent.get('/forgot-password').expect(200);
      const ask = (email: string) =>
        agent
          .post('/forgot-password')
          .type('form')
          .send({ _csrf: csrfOf(form.text), email });
      const [forKnown, forUnknown] = [await ask(known.email), await ask(unknown)];
      expect(forKnown.status).toBe(200);
      expect(forKnown.headers['cache-control']).toBe('no-store');
      expect(forKnown.text).toContain(RESET_REQUESTED);
      expect(forUnknown.status).toBe(200);
      expect(forUnknown.text).toBe(forKnown.text);

      await mailWithLink(known.email, '/reset-password');
      await outboxSettled();
      expect(sink.to(unknown)).toEqual([]);
    });

    it('shows a malformed address next to the field (400), keeping it', async () => {
      const agent = browser();
      const form = await agent.get('/forgot-password').expect(200);
      const res = await agent
        .post('/forgot-password')
        .type('form')
        .send({ _csrf: csrfOf(form.text), email: 'not-an-address' })
        .expect(400);
      expect(res.text).toMatch(/id="email-error">email must be an email address/);
      expect(res.text).toContain('value="not-an-address"');
      expect(res.text).not.toContain(RESET_REQUESTED);
    });
  });

  describe('/reset-password', () => {
    it.each([
      ['no token', ''],
      ['an empty token', '?token='],
      ['a made-up token', '?token=made-up-token'],
      ['two tokens', '?token=a&token=b'],
      ['a huge token', `?token=${'a'.repeat(600)}`],
    ])('with %s shows the error and a link to /forgot-password (400), no form', async (_name, search) => {
      const res = await ctx.http().get(`/reset-password${search}`);
      expect(res.status).toBe(400);
      expect(res.text).toContain(INVALID_LINK);
      expect(res.text).toContain('<a href="/forgot-password">Ask for a new link</a>');
      expect(res.text).not.toContain('name="newPassword"');
    });

    it('resets the password through the forms: every old sign-in ends, the old password stops working', async () => {
      const user = await signUp(ctx.http);
      const oldDevice = browser();
      await signIn(oldDevice, user.email);
      await oldDevice.get('/profile').expect(200);

      const agent = browser();
      const forgot = await agent.get('/forgot-password').expect(200);
      await agent
        .post('/forgot-password')
        .type('form')
        .send({ _csrf: csrfOf(forgot.text), email: user.email })
        .expect(200);
      const token = await tokenOf(user.email, '/reset-password');

      // An altered token is refused; opening the real link (twice: a mail scanner, then the person) spends nothing.
      const altered = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
      expect((await agent.get(`/reset-password?token=${encodeURIComponent(altered)}`)).status).toBe(400);
      await ctx
        .http()
        .get(`/reset-password?token=${encodeURIComponent(token)}`)
        .expect(200);
      const page = await agent.get(`/reset-password?token=${encodeURIComponent(token)}`);
      expectFormPage(page, 'anonymous', '/reset-password');
      expect(hiddenValue(page.text, 'token')).toBe(token);
      expect(page.text).toMatch(/<label for="newPassword">New password<\/label>/);

      // A password the rules refuse: inline, and the link still works.
      const short = await agent
        .post('/reset-password')
        .type('form')
        .send({ _csrf: csrfOf(page.text), token, newPassword: 'short' })
        .expect(400);
      expect(short.text).toMatch(/id="newPassword-error">newPassword must be at least 8 characters/);
      expect(hiddenValue(short.text, 'token')).toBe(token);
      expect(short.text).not.toContain('value="short"');

      const done = await agent
        .post('/reset-password')
        .type('form')
        .send({ _csrf: csrfOf(short.text), token, newPassword: NEW_PASSWORD })
        .expect(200);
      expect(done.text).toContain('<h1>Password changed</h1>');
      expect(done.text).toContain('<a href="/login">Sign in</a>');
      expect(setCookies(done).filter((line) => line.startsWith('sid='))).toEqual([]);

      // The old device is signed out; the old password is refused, the new one works.
      const after = await oldDevice.get('/profile').expect(303);
      expect(after.headers.location).toBe('/login?next=%2Fprofile');
      await ctx.http().post('/api/auth/session').send({ email: user.email, password: PASSWORD }).expect(401);
      const fresh = browser();
      await signIn(fresh, user.email, NEW_PASSWORD);
      expect((await fresh.get('/profile').expect(200)).text).toContain(user.email);

      // The link is spent.
      const again = await agent
        .post('/reset-password')
        .type('form')
        .send({ _csrf: csrfOf(short.text), token, newPassword: 'another fine passphrase' })
        .expect(400);
      expect(again.text).toContain(INVALID_LINK);
      expect((await agent.get(`/reset-password?token=${encodeURIComponent(token)}`)).status).toBe(400);
      await ctx
        .http()
        .post('/api/auth/session')
        .send({ email: user.email, password: NEW_PASSWORD })
        .expect(200);
    });

    it('refuses the reset form without its CSRF token (403), changing nothing', async () => {
      const user = await signUp(ctx.http);
      const agent = browser();
      const forgot = await agent.get('/forgot-password').expect(200);
      await agent
        .post('/forgot-password')
        .type('form')
        .send({ _csrf: csrfOf(forgot.text), email: user.email })
        .expect(200);
      const token = await tokenOf(user.email, '/reset-password');
      await agent.get(`/reset-password?token=${encodeURIComponent(token)}`).expect(200);
      await agent.post('/reset-password').type('form').send({ token, newPassword: NEW_PASSWORD }).expect(403);
      await ctx.http().post('/api/auth/session').send({ email: user.email, password: PASSWORD }).expect(200);
      await agent.get(`/reset-password?token=${encodeURIComponent(token)}`).expect(200);
    });
  });

  describe('/verify-email', () => {
    it('opening the link (GET) does not verify; pressing "Confirm this address" does', async () => {
      const email = uniqueEmail('verify-page');
      const agent = browser();
      const signup = await agent.get('/signup').expect(200);
      await agent
        .post('/signup')
        .type('form')
        .send({ _csrf: csrfOf(signup.text), email, password: PASSWORD })
        .expect(303);
      const profile = await agent.get('/profile').expect(200);
      expect(profile.text).toContain('(not verified: <a href="/verify-email">verify it</a>)');

      const token = await tokenOf(email, '/verify-email');
      const link = `/verify-email?token=${encodeURIComponent(token)}`;
      // A mail scanner opening the link first, without cookies, changes nothing.
      await ctx.http().get(link).expect(200);
      const page = await agent.get(link);
      expectFormPage(page, 'anonymous', '/verify-email');
      expect(page.text).toContain('<button type="submit">Confirm this address</button>');
      expect(hiddenValue(page.text, 'token')).toBe(token);
      expect(await me(agent)).toMatchObject({ email, emailVerified: false });

      await agent.post('/verify-email').type('form').send({ token }).expect(403);
      expect(await me(agent)).toMatchObject({ emailVerified: false });

      const done = await agent
        .post('/verify-email')
        .type('form')
        .send({ _csrf: csrfOf(page.text), token })
        .expect(200);
      expect(done.text).toContain('<h1>Address verified</h1>');
      expect(done.text).toContain(email);
      expect(await me(agent)).toMatchObject({ emailVerified: true });
      expect((await agent.get('/profile').expect(200)).text).toContain('(verified)');

      // Spent: the button and the link both say so.
      const again = await agent
        .post('/verify-email')
        .type('form')
        .send({ _csrf: csrfOf(page.text), token })
        .expect(400);
      expect(again.text).toContain(INVALID_LINK);
      expect((await agent.get(link)).status).toBe(400);
    });

    it('signed in, without a token: shows the state and sends a new link (429 within a minute, 409 once verified)', async () => {
      const signedOut = await ctx.http().get('/verify-email').expect(303);
      expect(signedOut.headers.location).toBe('/login?next=%2Fverify-email');

      const user = await signUp(ctx.http);
      await mailWithLink(user.email, '/verify-email');
      const agent = browser();
      await signIn(agent, user.email);
      const page = await agent.get('/verify-email');
      expectFormPage(page, 'session', '/verify-email/resend');
      expect(page.text).toContain(`Your email address ${user.email} is <strong>not verified</strong>`);

      // The sign-up mail went out moments ago.
      const tooSoon = await agent
        .post('/verify-email/resend')
        .type('form')
        .send({ _csrf: csrfOf(page.text) })
        .expect(429);
      expect(tooSoon.headers['retry-after']).toMatch(/^\d+$/);
      expect(tooSoon.text).toMatch(/role="alert" class="form-error">A link was mailed moments ago/);

      await agent.post('/verify-email/resend').type('form').send({}).expect(403);

      await query(
        `UPDATE account_tokens SET created_at = created_at - interval '61 seconds' WHERE user_id = $1`,
        [user.id],
      );
      const sent = await agent
        .post('/verify-email/resend')
        .type('form')
        .send({ _csrf: csrfOf(page.text) })
        .expect(200);
      expect(sent.text).toContain(`A new link is on its way to ${user.email}.`);
      const first = await tokenOf(user.email, '/verify-email', 1);
      const second = await tokenOf(user.email, '/verify-email', 2);
      // The new link replaced the first.
      expect((await ctx.http().get(`/verify-email?token=${encodeURIComponent(first)}`)).status).toBe(400);

      // Confirmed in another browser (the mail app's), not signed in.
      const other = browser();
      const confirm = await other.get(`/verify-email?token=${encodeURIComponent(second)}`).expect(200);
      await other
        .post('/verify-email')
        .type('form')
        .send({ _csrf: csrfOf(confirm.text), token: second })
        .expect(200);

      const verified = await agent.get('/verify-email').expect(200);
      expect(verified.text).toContain(`Your email address ${user.email} is <strong>verified</strong>`);
      expect(verified.text).not.toContain('action="/verify-email/resend"');
      const already = await agent
        .post('/verify-email/resend')
        .type('form')
        .send({ _csrf: csrfOf(page.text) })
        .expect(409);
      expect(already.text).toContain('This address is verified already.');
    });

    it.each([
      ['an empty token', '?token='],
      ['a made-up token', '?token=made-up'],
    ])('with %s shows the error (400), no button', async (_name, search) => {
      const res = await ctx.http().get(`/verify-email${search}`);
      expect(res.status).toBe(400);
      expect(res.text).toContain(INVALID_LINK);
      expect(res.text).not.toContain('<form method="post" action="/verify-email"');
    });
  });

  describe('email change: /profile and /confirm-email', () => {
    /** Asks for the change through the /profile form. */
    async function askForChange(agent: TestAgent, fields: Record<string, string>): Promise<Response> {
      const page = await agent.get('/profile').expect(200);
      return agent
        .post('/profile/email')
        .type('form')
        .send({ _csrf: csrfOf(page.text), ...fields });
    }

    it('shows the change form on /profile with the session CSRF token', async () => {
      const user = await signUp(ctx.http);
      const agent = browser();
      await signIn(agent, user.email);
      const page = await agent.get('/profile');
      expectFormPage(page, 'session', '/profile/email');
      expect(page.text).toMatch(/<label for="newEmail">New email<\/label>/);
      expect(page.text).toMatch(/<label for="emailPassword">Password<\/label>/);
    });

    it('confirms through /confirm-email: the link alone changes nothing, the button moves the account and keeps this browser signed in', async () => {
      const user = await signUp(ctx.http);
      const newEmail = uniqueEmail('moved');
      const agent = browser();
      const otherDevice = browser();
      await signIn(agent, user.email);
      await signIn(otherDevice, user.email);

      const asked = await askForChange(agent, { newEmail, password: PASSWORD });
      expect(asked.status).toBe(200);
      expect(asked.text).toContain(`A link to confirm the change is on its way to ${newEmail}.`);
      expect(asked.text).not.toContain(`value="${newEmail}"`);

      const token = await tokenOf(newEmail, '/confirm-email');
      const link = `/confirm-email?token=${encodeURIComponent(token)}`;
      await ctx.http().get(link).expect(200);
      const page = await agent.get(link);
      expectFormPage(page, 'anonymous', '/confirm-email');
      expect(page.text).toContain('<button type="submit">Confirm the new address</button>');
      expect(await me(agent)).toMatchObject({ email: user.email });

      const done = await agent
        .post('/confirm-email')
        .type('form')
        .send({ _csrf: csrfOf(page.text), token })
        .expect(200);
      expect(done.text).toContain('<h1>Email address changed</h1>');
      expect(done.text).toContain(`<strong>${newEmail}</strong>`);
      expect(done.text).toContain('this browser stays signed in');

      // This browser: still signed in, on the new address (verified); the other device: signed out.
      const profile = await agent.get('/profile').expect(200);
      expect(profile.text).toContain(newEmail);
      expect(profile.text).toContain('(verified)');
      expect(await me(agent)).toMatchObject({ email: newEmail, emailVerified: true });
      expect((await otherDevice.get('/profile').expect(303)).headers.location).toBe('/login?next=%2Fprofile');

      // The old address is told.
      const told = await sink.waitFor(user.email, { count: 2 });
      expect(told.text).toContain(newEmail);

      const again = await agent
        .post('/confirm-email')
        .type('form')
        .send({ _csrf: csrfOf(page.text), token })
        .expect(400);
      expect(again.text).toContain(INVALID_LINK);
    });

    it('confirmed in a browser that is not signed in: every sign-in ends, that page says to sign in', async () => {
      const user = await signUp(ctx.http);
      const newEmail = uniqueEmail('moved-elsewhere');
      const agent = browser();
      await signIn(agent, user.email);
      expect((await askForChange(agent, { newEmail, password: PASSWORD })).status).toBe(200);

      const token = await tokenOf(newEmail, '/confirm-email');
      const mailApp = browser();
      const page = await mailApp.get(`/confirm-email?token=${encodeURIComponent(token)}`).expect(200);
      const done = await mailApp
        .post('/confirm-email')
        .type('form')
        .send({ _csrf: csrfOf(page.text), token })
        .expect(200);
      expect(done.text).toContain(`<strong>${newEmail}</strong>`);
      expect(done.text).toContain('sign in with the new address');
      expect(setCookies(done).filter((line) => line.startsWith('sid='))).toEqual([]);
      expect((await agent.get('/profile').expect(303)).headers.location).toBe('/login?next=%2Fprofile');
      await ctx.http().post('/api/auth/session').send({ email: newEmail, password: PASSWORD }).expect(200);
    });

    it('shows what is wrong next to the field: wrong password 403, own address 400, taken 409, not an address 400', async () => {
      const user = await signUp(ctx.http);
      const taken = await signUp(ctx.http);
      const agent = browser();
      await signIn(agent, user.email);
      await outboxSettled(); // their sign-up mails
      const mailsBefore = sink.mails.length;

      const wrong = await askForChange(agent, { newEmail: uniqueEmail('x'), password: 'not the password' });
      expect(wrong.status).toBe(403);
      expect(wrong.text).toMatch(/id="emailPassword-error">Password is incorrect\./);
      expect(wrong.text).not.toContain('not the password');

      const own = await askForChange(agent, { newEmail: user.email.toUpperCase(), password: PASSWORD });
      expect(own.status).toBe(400);
      expect(own.text).toMatch(/id="newEmail-error">This is your email address already\./);

      const clash = await askForChange(agent, { newEmail: taken.email, password: PASSWORD });
      expect(clash.status).toBe(409);
      expect(clash.text).toMatch(/id="newEmail-error">An account with this email already exists\./);
      expect(clash.text).toContain(`value="${taken.email}"`);

      const malformed = await askForChange(agent, { newEmail: 'nowhere', password: PASSWORD });
      expect(malformed.status).toBe(400);
      expect(malformed.text).toMatch(/id="newEmail-error">newEmail must be an email address/);

      await outboxSettled();
      expect(sink.mails.length).toBe(mailsBefore);
      expect(await me(agent)).toMatchObject({ email: user.email });
    });

    it('says next to the password field when wrong passwords have locked the account (429, Retry-After)', async () => {
      const user = await signUp(ctx.http);
      const agent = browser();
      await signIn(agent, user.email);
      let res: Response | undefined;
      for (let attempt = 0; attempt < 30; attempt++) {
        res = await askForChange(agent, { newEmail: uniqueEmail('locked'), password: 'not the password' });
        if (res.status !== 403) break;
      }
      expect(res?.status).toBe(429);
      expect(res?.headers['retry-after']).toMatch(/^\d+$/);
      expect(res?.text).toMatch(
        /id="emailPassword-error">Too many failed attempts for this account: try again later\./,
      );
    });

    it('refuses the change form without the session CSRF token (403)', async () => {
      const user = await signUp(ctx.http);
      const agent = browser();
      await signIn(agent, user.email);
      const res = await agent
        .post('/profile/email')
        .type('form')
        .send({ newEmail: uniqueEmail('forged'), password: PASSWORD });
      expect(res.status).toBe(403);
      expect(res.text).toContain('<h1>Forbidden</h1>');
    });
  });

  describe('with EMAIL_VERIFICATION=required', () => {
    let strict: TestApp;
    beforeAll(async () => {
      // A second instance on the same database, configured strictly.
      strict = await startApp(ctx.database.url, {
        ...ENV,
        SMTP_URL: sink.url,
        EMAIL_VERIFICATION: 'required',
      });
    });
    afterAll(() => strict?.close());

    it('an unverified user gets a page saying why on /profile and /sessions (403), with a way to verify', async () => {
      const user: SignedUp = await signUp(strict.http);
      const agent = browser(strict);
      await signIn(agent, user.email);
      for (const path of ['/profile', '/sessions']) {
        const res = await agent.get(path);
        expect(res.status).toBe(403);
        expect(res.text).toContain('<h1>Verify your email address first</h1>');
        expect(res.text).toContain(user.email);
        expect(res.text).toContain('<a href="/verify-email">Verify your email address</a>');
      }

      const status = await agent.get('/verify-email');
      expectFormPage(status, 'session', '/verify-email/resend');
      const token = await tokenOf(user.email, '/verify-email');
      const page = await agent.get(`/verify-email?token=${encodeURIComponent(token)}`).expect(200);
      await agent
        .post('/verify-email')
        .type('form')
        .send({ _csrf: csrfOf(page.text), token })
        .expect(200);
      expect((await agent.get('/profile').expect(200)).text).toContain('(verified)');
      await agent.get('/sessions').expect(200);
    });

    it('an unverified user can still sign out', async () => {
      const user = await signUp(strict.http);
      const agent = browser(strict);
      await signIn(agent, user.email);
      const page = await agent.get('/profile').expect(403);
      const out = await agent
        .post('/logout')
        .type('form')
        .send({ _csrf: csrfOf(page.text) })
        .expect(303);
      expect(out.headers.location).toBe('/login');
      expect((await agent.get('/verify-email').expect(303)).headers.location).toBe(
        '/login?next=%2Fverify-email',
      );
    });
  });

  describe('with a captcha (CAPTCHA_PROVIDER=turnstile, a fake siteverify API)', () => {
    let fake: FakeSiteverify;
    let guarded: TestApp;
    beforeAll(async () => {
      fake = await FakeSiteverify.start('the-right-answer');
      guarded = await startApp(ctx.database.url, {
        ...ENV,
        SMTP_URL: sink.url,
        CAPTCHA_PROVIDER: 'turnstile',
        CAPTCHA_SECRET: 'captcha-secret',
        CAPTCHA_SITE_KEY: 'site-key-123',
        CAPTCHA_VERIFY_URL: fake.url,
      });
    });
    afterAll(async () => {
      await guarded?.close();
      await fake?.close();
    });
    beforeEach(() => {
      fake.requests.length = 0;
      fake.down = false;
    });

    const WIDGET = '<div class="cf-turnstile" data-sitekey="site-key-123"></div>';
    const SCRIPT =
      '<script src="https://challenges.cloudflare.com/turnstile/v0/api.js" async defer></script>';

    it('shows the widget inside the sign-up and forgot-password forms', async () => {
      for (const path of ['/signup', '/forgot-password']) {
        const res = await guarded.http().get(path).expect(200);
        const form = res.text.slice(res.text.indexOf(`action="${path}"`), res.text.indexOf('</form>'));
        expect(form).toContain(WIDGET);
        expect(res.text).toContain(SCRIPT);
      }
      // Off by default: no widget, no script.
      for (const path of ['/signup', '/forgot-password']) {
        const res = await ctx.http().get(path).expect(200);
        expect(res.text).not.toContain('cf-turnstile');
        expect(res.text).not.toContain('<script');
      }
    });

    async function postSignup(answer?: string): Promise<{ res: Response; email: string }> {
      const agent = browser(guarded);
      const form = await agent.get('/signup').expect(200);
      const email = uniqueEmail('captcha-signup');
      const res = await agent
        .post('/signup')
        .type('form')
        .send({
          _csrf: csrfOf(form.text),
          email,
          password: PASSWORD,
          ...(answer === undefined ? {} : { 'cf-turnstile-response': answer }),
        });
      return { res, email };
    }

    it('sign-up without the widget answer, or a wrong one: 400 inline, no account', async () => {
      const users = guarded.app.get(UsersService);
      const missing = await postSignup();
      expect(missing.res.status).toBe(400);
      expect(missing.res.text).toMatch(/role="alert" class="form-error">Captcha verification failed/);
      expect(missing.res.text).toContain(`value="${missing.email}"`);
      expect(missing.res.text).toContain(WIDGET);
      expect(fake.requests).toEqual([]);
      expect(await users.findByEmail(missing.email)).toBeNull();

      const wrong = await postSignup('a-wrong-answer');
      expect(wrong.res.status).toBe(400);
      expect(wrong.res.text).toContain('Captcha verification failed');
      expect(fake.requests).toEqual([
        expect.objectContaining({ secret: 'captcha-secret', response: 'a-wrong-answer' }),
      ]);
      expect(await users.findByEmail(wrong.email)).toBeNull();
    });

    it('sign-up with the right answer creates the account; with the provider down, a 503 page and no account', async () => {
      const users = guarded.app.get(UsersService);
      const right = await postSignup('the-right-answer');
      expect(right.res.status).toBe(303);
      expect(right.res.headers.location).toBe('/profile');
      expect(await users.findByEmail(right.email)).not.toBeNull();

      fake.down = true;
      const down = await postSignup('the-right-answer');
      expect(down.res.status).toBe(503);
      expect(await users.findByEmail(down.email)).toBeNull();
    });

    it('forgot-password without the answer: 400 inline, nothing queued; with it: the usual page', async () => {
      const user = await signUp(ctx.http);
      await outboxSettled();
      const before = await outboxRows();
      const agent = browser(guarded);
      const form = await agent.get('/forgot-password').expect(200);
      const refused = await agent
        .post('/forgot-password')
        .type('form')
        .send({ _csrf: csrfOf(form.text), email: user.email })
        .expect(400);
      expect(refused.text).toMatch(/role="alert" class="form-error">Captcha verification failed/);
      expect(refused.text).toContain(`value="${user.email}"`);
      expect(await outboxRows()).toBe(before);

      const sent = await agent
        .post('/forgot-password')
        .type('form')
        .send({ _csrf: csrfOf(refused.text), email: user.email, 'cf-turnstile-response': 'the-right-answer' })
        .expect(200);
      expect(sent.text).toContain(RESET_REQUESTED);
      await mailWithLink(user.email, '/reset-password');
    });
  });
});

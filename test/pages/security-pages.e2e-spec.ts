import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import request, { type Response } from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { PASSWORD, signUp, sleep, tokenLogin, uniqueEmail, type SignedUp } from '../support/auth-helpers';
import { UsersService } from '../../src/users/users.service';
import { SoftAuthenticator } from '../support/soft-authenticator';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';
import { enableTotp, totpCode, wrongCode, type TotpOn } from '../support/totp';

/*
 * The second-factor pages through their forms, as a browser without JavaScript uses
 * them: the second step of /login (a TOTP code or a recovery code), and /security
 * (TOTP set-up with its QR code, the recovery codes shown once, turning TOTP off, new
 * codes, passkeys listed and removed, "confirm it is you" when the sign-in is not
 * recent). Passkeys are registered through the JSON API with a software authenticator.
 */

const PUBLIC_URL = 'https://accounts.example.test';
const ANONYMOUS_TOKEN = /^[0-9a-f]{64}\.[0-9a-f]{64}$/;
const RECOVERY_CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/;
const SIGN_IN_AGAIN = 'This sign-in step has expired or was used: sign in again.';
const LOCKED = 'Too many failed attempts for this account: try again later.';

const csrfOf = (html: string) => /name=['"]_csrf['"] value=['"]([0-9a-f.]*)['"]/.exec(html)?.[1] ?? '';
/** The hidden field `name`'s value in the (first) form that has one. */
const hiddenValue = (html: string, name: string) =>
  new RegExp(`type="hidden" name="${name}" value="([^"]*)"`).exec(html)?.[1];
const recoveryCodesIn = (html: string) =>
  [...html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]);
/** The API key a /security answer shows once ('' when it shows none). */
const newKeyIn = (html: string) => /id="new-api-key" class="secret">([^<]+)</.exec(html)?.[1] ?? '';
const sessionCookies = (res: Response) => {
  const header = res.headers['set-cookie'] as unknown;
  const lines = Array.isArray(header) ? (header as string[]) : typeof header === 'string' ? [header] : [];
  return lines.filter((line) => line.startsWith('sid='));
};

describe('second-factor pages: /login second step and /security', () => {
  let ctx: TestContext;
  beforeAll(async () => (ctx = await startAppOnFreshDatabase({ PUBLIC_URL, EMAIL_VERIFICATION: 'off' })));
  afterAll(() => ctx?.close());

  const browser = (app: TestContext = ctx): TestAgent => request.agent(app.app.getHttpServer());

  /** A user with TOTP on (through the API), its seed and recovery codes. */
  async function userWithTotp(app: TestContext = ctx): Promise<SignedUp & TotpOn> {
    const user = await signUp(app.http, uniqueEmail('totp-page'));
    const caller = { bearer: (await tokenLogin(app.http, user)).accessToken };
    return { ...user, ...(await enableTotp(app.http, caller)) };
  }

  /** The password step of the /login form (GET for its CSRF token, then POST). */
  async function passwordStep(agent: TestAgent, user: SignedUp, next = ''): Promise<Response> {
    const form = await agent.get(`/login${next ? `?next=${encodeURIComponent(next)}` : ''}`).expect(200);
    return agent
      .post('/login')
      .type('form')
      .send({ _csrf: csrfOf(form.text), email: user.email, password: user.password, next });
  }

  /** Posts the second-step form shown in `page` with `fields` (code or recoveryCode). */
  function secondStep(agent: TestAgent, page: Response, fields: Record<string, string>): Promise<Response> {
    return agent
      .post('/login/mfa')
      .type('form')
      .send({
        _csrf: csrfOf(page.text),
        next: hiddenValue(page.text, 'next'),
        mfaToken: hiddenValue(page.text, 'mfaToken'),
        ...fields,
      });
  }

  /** Signs a user without a second factor in through /login; returns the /security page. */
  async function signedInAtSecurity(agent: TestAgent, user: SignedUp): Promise<Response> {
    expect((await passwordStep(agent, user, '/security')).status).toBe(303);
    return agent.get('/security').expect(200);
  }

  describe('/login, second step', () => {
    it('after the right password, a TOTP user gets the code form with the mfaToken and no session cookie', async () => {
      const user = await userWithTotp();
      const agent = browser();
      const page = await passwordStep(agent, user, '/sessions');
      expect({ status: page.status, cacheControl: page.headers['cache-control'] }).toEqual({
        status: 200,
        cacheControl: 'no-store',
      });
      expect(sessionCookies(page)).toEqual([]);
      expect(page.text).toContain('<h1>Two-step sign-in</h1>');
      expect(page.text).toContain('<form method="post" action="/login/mfa"');
      expect(csrfOf(page.text)).toMatch(ANONYMOUS_TOKEN);
      expect(hiddenValue(page.text, 'mfaToken')).toMatch(/^[\w-]{43,}$/);
      expect(hiddenValue(page.text, 'next')).toBe('/sessions');
      expect(page.text).toContain('<label for="code">Authentication code</label>');
      expect(page.text).toContain('<label for="recoveryCode">Recovery code</label>');
      expect(page.text).not.toContain(user.password);
      // Half-way is not signed in.
      const profile = await agent.get('/profile').expect(303);
      expect(profile.headers.location).toBe('/login?next=%2Fprofile');
    });

    it('a wrong code is shown next to the field (401), with the same mfaToken; the right code signs in and opens next', async () => {
      const user = await userWithTotp();
      const agent = browser();
      const page = await passwordStep(agent, user, '/sessions');
      const mfaToken = hiddenValue(page.text, 'mfaToken');

      const wrong = await secondStep(agent, page, { code: await wrongCode(user.secret) });
      expect(wrong.status).toBe(401);
      expect(sessionCookies(wrong)).toEqual([]);
      expect(wrong.text).toContain('aria-describedby="code-hint code-error" aria-invalid="true"');
      expect(wrong.text).toContain(
        '<p class="field-error" id="code-error">This code is not valid: enter the current one from your authenticator app.</p>',
      );
      expect(hiddenValue(wrong.text, 'mfaToken')).toBe(mfaToken);

      const right = await secondStep(agent, wrong, { code: await totpCode(user.secret) });
      expect({ status: right.status, location: right.headers.location }).toEqual({
        status: 303,
        location: '/sessions',
      });
      expect(sessionCookies(right)).toHaveLength(1);
      const sessions = await agent.get('/sessions').expect(200);
      expect(sessions.text).toContain('Browser session');

      // The step is spent: the same form again goes back to the password.
      const again = await secondStep(browser(), wrong, { code: await totpCode(user.secret, 1) });
      expect(again.status).toBe(403); // another browser: its form cookie is missing
      const replay = await secondStep(agent, wrong, { code: await totpCode(user.secret, 1) });
      expect(replay.status).toBe(401);
      expect(replay.text).toContain(SIGN_IN_AGAIN);
      expect(replay.text).toContain("<form method='post' action='/login'");
    });

    it('a recovery code signs in instead of a code, once', async () => {
      const user = await userWithTotp();
      const agent = browser();
      const page = await passwordStep(agent, user);
      const [code] = user.recoveryCodes;
      const used = await secondStep(agent, page, { recoveryCode: code.toLowerCase() });
      expect({ status: used.status, location: used.headers.location }).toEqual({
        status: 303,
        location: '/profile',
      });
      await agent.get('/profile').expect(200);

      const other = browser();
      const second = await passwordStep(other, user);
      const reused = await secondStep(other, second, { recoveryCode: code });
      expect(reused.status).toBe(401);
      expect(reused.text).toContain(
        '<p class="field-error" id="recoveryCode-error">This recovery code is not valid, or was used already.</p>',
      );
      // The recovery form stays open after its error.
      expect(reused.text).toContain('<details class="recovery" open>');
      expect(sessionCookies(reused)).toEqual([]);
    });

    it('refuses the second step without the form’s CSRF token (403 page)', async () => {
      const user = await userWithTotp();
      const agent = browser();
      const page = await passwordStep(agent, user);
      const res = await agent
        .post('/login/mfa')
        .type('form')
        .send({ mfaToken: hiddenValue(page.text, 'mfaToken'), code: await totpCode(user.secret) })
        .expect(403);
      expect(res.text).toContain('<h1>Forbidden</h1>');
      expect(sessionCookies(res)).toEqual([]);
      // The step was not spent by the refused post.
      const ok = await secondStep(agent, page, { code: await totpCode(user.secret) });
      expect(ok.status).toBe(303);
    });

    it('the mfaToken of a token login (POST /api/auth/token) never becomes a browser session', async () => {
      const user = await userWithTotp();
      const agent = browser();
      const form = await agent.get('/login').expect(200);
      const tokenStep = await ctx
        .http()
        .post('/api/auth/token')
        .send({ email: user.email, password: PASSWORD })
        .expect(200);
      const res = await agent
        .post('/login/mfa')
        .type('form')
        .send({
          _csrf: csrfOf(form.text),
          mfaToken: tokenStep.body.mfaToken,
          code: await totpCode(user.secret),
        });
      expect(res.status).toBe(401);
      expect(res.text).toContain(SIGN_IN_AGAIN);
      expect(sessionCookies(res)).toEqual([]);
    });

    it('wrong codes lock the account: 429 with Retry-After and the lock message on the form', async () => {
      const user = await userWithTotp();
      const agent = browser();
      let page = await passwordStep(agent, user);
      const bad = await wrongCode(user.secret);
      for (let attempt = 0; attempt < 30 && page.status !== 429; attempt++)
        page = await secondStep(agent, page, { code: bad });
      expect(page.status).toBe(429);
      expect(page.headers['retry-after']).toMatch(/^\d+$/);
      expect(page.text).toContain(`<p role="alert" class="form-error">${LOCKED}</p>`);
      // Even the right code waits for the lock.
      const right = await secondStep(agent, page, { code: await totpCode(user.secret) });
      expect(right.status).toBe(429);
      expect(sessionCookies(right)).toEqual([]);
    });

    it('serves the passkey button hidden, with its scripts from /assets only (no inline script)', async () => {
      const page = await browser().get('/login').expect(200);
      expect(page.text).toMatch(/<section id='passkey-sign-in-section'[^>]* hidden>/);
      expect(page.text).toContain('Sign in with a passkey');
      const scripts = [...page.text.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
      expect(scripts).toEqual([
        "<script src='/assets/vendor/simplewebauthn/index.umd.min.js' defer>",
        "<script src='/assets/passkeys.js' defer>",
      ]);
      expect(page.text).not.toMatch(/<script[^>]*>[^<]+<\/script>/);
      expect(page.text).not.toMatch(/\son[a-z]+=/i);
      const js = await browser().get('/assets/passkeys.js').expect(200);
      expect(js.headers['content-type']).toMatch(/javascript/);
      const vendor = await browser().get('/assets/vendor/simplewebauthn/index.umd.min.js').expect(200);
      expect(vendor.text).toContain('SimpleWebAuthnBrowser');
    });
  });

  describe('/security', () => {
    it('sends a visitor without a session to /login and back', async () => {
      const res = await browser().get('/security').expect(303);
      expect(res.headers.location).toBe('/login?next=%2Fsecurity');
    });

    it('sets up TOTP: the QR code (SVG) and the secret, a wrong then a right code, the 10 recovery codes shown once', async () => {
      const user = await signUp(ctx.http, uniqueEmail('setup-page'));
      const agent = browser();
      const before = await signedInAtSecurity(agent, user);
      expect(before.text).toContain('<h1>Security</h1>');
      expect(before.text).toContain('<form method="post" action="/security/totp"');
      expect(before.text).toContain("<a href='/security'>Security</a>");

      const setup = await agent
        .post('/security/totp')
        .type('form')
        .send({ _csrf: csrfOf(before.text) });
      expect(setup.status).toBe(200);
      const svg = /<div role="img" aria-label="[^"]*">(<svg[\s\S]*?<\/svg>)/.exec(setup.text)?.[1] ?? '';
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>(<path [^>]*\/>)+<\/svg>$/);
      const secret = /<code id="totp-secret" class="secret">([A-Z2-7]+)<\/code>/.exec(setup.text)?.[1] ?? '';
      expect(secret).toMatch(/^[A-Z2-7]{32,}$/); // ≥ 160 bits, base32
      expect(setup.text).toContain('otpauth://totp/');
      expect(setup.text).toContain('<form method="post" action="/security/totp/confirm"');

      const wrong = await agent
        .post('/security/totp/confirm')
        .type('form')
        .send({ _csrf: csrfOf(setup.text), code: await wrongCode(secret) });
      expect(wrong.status).toBe(400);
      expect(wrong.text).toMatch(/<p class="field-error" id="totpCode-error">The code is not valid/);
      expect(wrong.text).not.toContain('is <strong>on</strong>');

      const confirmed = await agent
        .post('/security/totp/confirm')
        .type('form')
        .send({ _csrf: csrfOf(setup.text), code: await totpCode(secret) });
      expect(confirmed.status).toBe(200);
      const codes = recoveryCodesIn(confirmed.text);
      expect(codes).toHaveLength(10);
      for (const code of codes) expect(code).toMatch(RECOVERY_CODE);
      expect(confirmed.text).toContain('this page never shows them again');
      expect(confirmed.text).toContain('is <strong>on</strong>');

      const later = await agent.get('/security').expect(200);
      expect(recoveryCodesIn(later.text)).toEqual([]);
      expect(later.text).not.toContain(secret);
      expect(later.text).not.toContain('<svg');
      expect(later.text).toContain('is <strong>on</strong>');
      // TOTP is really on: the next password sign-in asks for a code.
      const next = await passwordStep(browser(), user);
      expect({ status: next.status, step: next.text.includes('action="/login/mfa"') }).toEqual({
        status: 200,
        step: true,
      });
    });

    it('makes new recovery codes (the old ones stop working) and turns TOTP off', async () => {
      const user = await userWithTotp();
      const agent = browser();
      const step = await passwordStep(agent, user, '/security');
      expect((await secondStep(agent, step, { code: await totpCode(user.secret) })).status).toBe(303);
      const page = await agent.get('/security').expect(200);
      expect(page.text).toContain('<form method="post" action="/security/recovery-codes"');

      const fresh = await agent
        .post('/security/recovery-codes')
        .type('form')
        .send({ _csrf: csrfOf(page.text) });
      expect(fresh.status).toBe(200);
      const codes = recoveryCodesIn(fresh.text);
      expect(codes).toHaveLength(10);
      expect(codes.filter((code) => user.recoveryCodes.includes(code))).toEqual([]);
      const other = browser();
      const oldCode = await secondStep(other, await passwordStep(other, user), {
        recoveryCode: user.recoveryCodes[1],
      });
      expect(oldCode.status).toBe(401);
      const newCode = await secondStep(other, oldCode, { recoveryCode: codes[0] });
      expect(newCode.status).toBe(303);

      const off = await agent
        .post('/security/totp/remove')
        .type('form')
        .send({ _csrf: csrfOf(page.text) });
      expect({ status: off.status, location: off.headers.location }).toEqual({
        status: 303,
        location: '/security?status=totp-off',
      });
      const after = await agent.get(off.headers.location).expect(200);
      expect(after.text).toContain('Two-step sign-in with an authenticator app is off.');
      expect(after.text).toContain('is <strong>off</strong>');
      // The password alone signs in again.
      const direct = await passwordStep(browser(), user);
      expect(direct.status).toBe(303);
    });

    it('lists passkeys (name, added, last used) with markup in a name shown as text, and removes one', async () => {
      const user = await signUp(ctx.http, uniqueEmail('passkey-page'));
      const agent = browser();
      const page = await signedInAtSecurity(agent, user);
      expect(page.text).toContain('No passkeys yet.');
      expect(page.text).toMatch(/<form id="passkey-add"[^>]* hidden novalidate>/);
      const csrfToken = /data-csrf-token="([0-9a-f]{64})"/.exec(page.text)?.[1] ?? '';
      expect(csrfToken).toBe(csrfOf(page.text));

      // What passkeys.js does, with a software authenticator for the browser's.
      const authenticator = new SoftAuthenticator(PUBLIC_URL);
      const options = await agent
        .post('/api/auth/passkeys/registration/options')
        .set('X-CSRF-Token', csrfToken)
        .send({})
        .expect(200);
      const { response, credential } = authenticator.createCredential(
        options.body as PublicKeyCredentialCreationOptionsJSON,
      );
      const registered = await agent
        .post('/api/auth/passkeys/registration')
        .set('X-CSRF-Token', csrfToken)
        .send({ response, name: '<b>Laptop</b>' })
        .expect(201);

      const listed = await agent.get('/security').expect(200);
      expect(listed.text).toContain(`data-passkey-id="${registered.body.id}"`);
      expect(listed.text).toContain('&lt;b&gt;Laptop&lt;/b&gt;');
      expect(listed.text).not.toContain('<b>Laptop</b>');
      expect(listed.text).toMatch(/<td data-label="Added">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td>/);
      expect(listed.text).toContain('<td data-label="Last used">Never</td>');

      // A passkey sign-in (the JSON API, as the login page's button uses it) is its last use.
      const requestOptions = await ctx.http().post('/api/auth/passkeys/authentication/options').send({});
      await ctx
        .http()
        .post('/api/auth/passkeys/session')
        .send({ response: authenticator.getAssertion(requestOptions.body, { credential }) })
        .expect(200);
      const used = await agent.get('/security').expect(200);
      expect(used.text).toMatch(/<td data-label="Last used">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td>/);

      const removed = await agent
        .post(`/security/passkeys/${registered.body.id}/remove`)
        .type('form')
        .send({ _csrf: csrfOf(used.text) });
      expect({ status: removed.status, location: removed.headers.location }).toEqual({
        status: 303,
        location: '/security?status=passkey-removed',
      });
      const after = await agent.get(removed.headers.location).expect(200);
      expect(after.text).toContain('Passkey removed');
      expect(after.text).toContain('No passkeys yet.');
      // It no longer signs in.
      const retry = await ctx.http().post('/api/auth/passkeys/authentication/options').send({});
      await ctx
        .http()
        .post('/api/auth/passkeys/session')
        .send({ response: authenticator.getAssertion(retry.body, { credential }) })
        .expect(401);
    });

    it('creates an API key: shown once, listed by its prefix (markup in its name as text), it works as X-API-Key', async () => {
      const user = await signUp(ctx.http, uniqueEmail('key-page'));
      const agent = browser();
      const page = await signedInAtSecurity(agent, user);
      expect(page.text).toContain('No API keys yet.');
      // The form starts with every role of the user ticked and no expiry.
      expect(page.text).toContain('<input type="checkbox" name="roles" value="user" checked>');
      expect(page.text).toMatch(/<option value="" selected>Never<\/option>/);

      const created = await agent
        .post('/security/keys')
        .type('form')
        .send({ _csrf: csrfOf(page.text), name: '<b>export</b>', roles: 'user', expiresInDays: '30' });
      expect(created.status).toBe(200);
      const key = /<code id="new-api-key" class="secret">(nak_[A-Za-z0-9_-]{43})<\/code>/.exec(
        created.text,
      )?.[1];
      expect(key).toBeDefined();
      expect(created.text).toContain('Copy it now');
      expect(created.text).toContain('&lt;b&gt;export&lt;/b&gt;');
      expect(created.text).not.toContain('<b>export</b>');
      expect(created.text).toContain(`<td data-label="Key"><code>${key!.slice(0, 12)}…</code></td>`);
      expect(created.text).toContain('<td data-label="Roles">user</td>');
      // 30 days from now, to the minute the page shows.
      const expires = /<td data-label="Expires">(\d{4}-\d\d-\d\d \d\d:\d\d) UTC<\/td>/.exec(
        created.text,
      )?.[1];
      expect(
        Math.abs(Date.parse(`${expires!.replace(' ', 'T')}Z`) - (Date.now() + 30 * 86_400_000)),
      ).toBeLessThan(120_000);

      const me = await ctx.http().get('/api/auth/me').set('X-API-Key', key!).expect(200);
      expect(me.body).toMatchObject({ id: user.id, authMethod: 'apikey', roles: ['user'] });
      // Never again: the list shows the prefix only. The use is recorded off the request's
      // path (a write after the answer), so the page may need a moment to show it.
      const lastUsed = /<td data-label="Last used">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td>/;
      let later = await agent.get('/security').expect(200);
      for (let tries = 0; !lastUsed.test(later.text) && tries < 50; tries++) {
        await sleep(40);
        later = await agent.get('/security').expect(200);
      }
      expect(later.text).not.toContain(key!);
      expect(later.text).toContain(`${key!.slice(0, 12)}…`);
      expect(later.text).toMatch(lastUsed);
    });

    it('refuses a key form without a name, with a role the user lacks, or with an expiry not on the list, and makes nothing', async () => {
      const user = await signUp(ctx.http, uniqueEmail('key-page-bad'));
      const agent = browser();
      const page = await signedInAtSecurity(agent, user);
      const _csrf = csrfOf(page.text);
      const cases = [
        [{ name: '', roles: 'user' }, 'keyName-error', 'Give the key a name'],
        [{ name: 'x', roles: ['user', 'admin'] }, 'keyRoles-error', 'roles not held by the owner: admin.'],
        [{ name: 'x', expiresInDays: '36500' }, 'keyExpiry-error', 'Choose an expiry from the list.'],
      ] as const;
      for (const [fields, id, message] of cases) {
        const res = await agent
          .post('/security/keys')
          .type('form')
          .send({ _csrf, ...fields });
        expect({ status: res.status, error: new RegExp(`id="${id}">([^<]*)<`).exec(res.text)?.[1] }).toEqual({
          status: 400,
          error: expect.stringContaining(message),
        });
        expect(res.text).not.toContain('new-api-key');
      }
      const listed = await ctx
        .http()
        .get('/api/keys')
        .set('Authorization', `Bearer ${(await tokenLogin(ctx.http, user)).accessToken}`)
        .expect(200);
      expect(listed.body).toEqual([]);
    });

    it('a key with every role unticked has no roles: it reaches /me but no route that needs a role', async () => {
      const admin = await signUp(ctx.http, uniqueEmail('key-page-roles'));
      await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
      const agent = browser();
      const page = await signedInAtSecurity(agent, admin);
      expect(page.text).toContain('<input type="checkbox" name="roles" value="admin" checked>');
      const created = await agent
        .post('/security/keys')
        .type('form')
        .send({ _csrf: csrfOf(page.text), name: 'no roles' });
      const key = newKeyIn(created.text);
      expect(created.text).toContain('<td data-label="Roles">none</td>');
      const me = await ctx.http().get('/api/auth/me').set('X-API-Key', key).expect(200);
      expect(me.body.roles).toEqual([]);
      await ctx.http().get('/api/users').set('X-API-Key', key).expect(403);
    });

    it('revokes a key: it is gone from the list and refused on its next use', async () => {
      const user = await signUp(ctx.http, uniqueEmail('key-page-revoke'));
      const agent = browser();
      const page = await signedInAtSecurity(agent, user);
      const created = await agent
        .post('/security/keys')
        .type('form')
        .send({ _csrf: csrfOf(page.text), name: 'cron', roles: 'user' });
      const key = newKeyIn(created.text);
      const id = /data-api-key-id="([0-9a-f-]{36})"/.exec(created.text)?.[1];
      await ctx.http().get('/api/auth/me').set('X-API-Key', key).expect(200);

      const revoked = await agent
        .post(`/security/keys/${id}/revoke`)
        .type('form')
        .send({ _csrf: csrfOf(created.text) });
      expect({ status: revoked.status, location: revoked.headers.location }).toEqual({
        status: 303,
        location: '/security?status=key-revoked',
      });
      const after = await agent.get(revoked.headers.location).expect(200);
      expect(after.text).toContain('API key revoked');
      expect(after.text).toContain('No API keys yet.');
      await ctx.http().get('/api/auth/me').set('X-API-Key', key).expect(401);
      // One already revoked is the 404 page; so is someone else's live key, which keeps working.
      const again = await agent
        .post(`/security/keys/${id}/revoke`)
        .type('form')
        .send({ _csrf: csrfOf(after.text) });
      expect(again.status).toBe(404);
      const other = await signUp(ctx.http, uniqueEmail('key-page-other'));
      const theirs = await ctx
        .http()
        .post('/api/keys')
        .set('Authorization', `Bearer ${(await tokenLogin(ctx.http, other)).accessToken}`)
        .send({ name: 'theirs' })
        .expect(201);
      const foreign = await agent
        .post(`/security/keys/${theirs.body.id}/revoke`)
        .type('form')
        .send({ _csrf: csrfOf(after.text) });
      expect(foreign.status).toBe(404);
      await ctx.http().get('/api/auth/me').set('X-API-Key', theirs.body.key).expect(200);
    });

    it('refuses every form without the session’s CSRF token', async () => {
      const user = await signUp(ctx.http, uniqueEmail('security-csrf'));
      const agent = browser();
      await signedInAtSecurity(agent, user);
      for (const action of [
        '/security/totp',
        '/security/recovery-codes',
        '/security/totp/remove',
        '/security/totp/confirm',
        '/security/passkeys/00000000-0000-4000-8000-000000000000/remove',
        '/security/keys',
        '/security/keys/00000000-0000-4000-8000-000000000000/revoke',
        '/security/reauth',
      ])
        expect({
          action,
          status: (await agent.post(action).type('form').send({ password: PASSWORD })).status,
        }).toEqual({
          action,
          status: 403,
        });
    });
  });

  describe('recent authentication (REAUTH_MAX_AGE_SECONDS=1)', () => {
    let quick: TestContext;
    beforeAll(
      async () => (quick = await startAppOnFreshDatabase({ PUBLIC_URL, REAUTH_MAX_AGE_SECONDS: '1' })),
    );
    afterAll(() => quick?.close());

    it('a change after the window shows the "confirm it is you" form (403) and does nothing; the password makes it recent', async () => {
      const user = await signUp(quick.http, uniqueEmail('reauth-page'));
      const agent = browser(quick);
      const page = await signedInAtSecurity(agent, user);
      await sleep(1500);

      const stale = await agent
        .post('/security/totp')
        .type('form')
        .send({ _csrf: csrfOf(page.text) });
      expect(stale.status).toBe(403);
      expect(stale.text).toContain('<h2 id="reauth-heading">Confirm it is you</h2>');
      expect(stale.text).toContain('This change needs a recent sign-in');
      expect(stale.text).toContain('<form method="post" action="/security/reauth"');
      expect(stale.text).not.toContain('<svg');
      // Without TOTP, the password is the only way.
      expect(stale.text).not.toContain('name="code"');

      const wrong = await agent
        .post('/security/reauth')
        .type('form')
        .send({ _csrf: csrfOf(stale.text), password: 'not the password' });
      expect(wrong.status).toBe(403);
      expect(wrong.text).toContain(
        '<p class="field-error" id="reauthPassword-error">Password is incorrect.</p>',
      );
      expect(wrong.text).not.toContain('not the password');

      const confirmed = await agent
        .post('/security/reauth')
        .type('form')
        .send({ _csrf: csrfOf(stale.text), password: PASSWORD });
      expect({ status: confirmed.status, location: confirmed.headers.location }).toEqual({
        status: 303,
        location: '/security?status=reauthenticated',
      });
      const setup = await agent
        .post('/security/totp')
        .type('form')
        .send({ _csrf: csrfOf(stale.text) });
      expect(setup.status).toBe(200);
      expect(setup.text).toContain('<svg');
      expect(setup.text).not.toContain('reauth-heading');
    });

    it('an API key needs a recent sign-in too: after the window the form makes no key (403)', async () => {
      const user = await signUp(quick.http, uniqueEmail('key-page-stale'));
      const agent = browser(quick);
      const page = await signedInAtSecurity(agent, user);
      await sleep(1500);
      const stale = await agent
        .post('/security/keys')
        .type('form')
        .send({ _csrf: csrfOf(page.text), name: 'late', roles: 'user' });
      expect(stale.status).toBe(403);
      expect(stale.text).toContain('This change needs a recent sign-in');
      expect(stale.text).not.toContain('new-api-key');
      expect(stale.text).toContain('No API keys yet.');
    });

    it('with TOTP on, a code from the app confirms it too; the page offers the form on its own once the window has passed', async () => {
      const user = await userWithTotp(quick);
      const agent = browser(quick);
      const step = await passwordStep(agent, user, '/security');
      expect((await secondStep(agent, step, { code: await totpCode(user.secret) })).status).toBe(303);
      await sleep(1500);

      const page = await agent.get('/security').expect(200);
      expect(page.text).toContain('Changes on this page need a recent sign-in');
      expect(page.text).toContain('<label for="reauthCode">');
      const refused = await agent
        .post('/security/totp/remove')
        .type('form')
        .send({ _csrf: csrfOf(page.text) });
      expect(refused.status).toBe(403);
      expect((await agent.get('/security').expect(200)).text).toContain('is <strong>on</strong>');

      const wrong = await agent
        .post('/security/reauth')
        .type('form')
        .send({ _csrf: csrfOf(page.text), code: await wrongCode(user.secret) });
      expect(wrong.status).toBe(403);
      expect(wrong.text).toContain(
        '<p class="field-error" id="reauthCode-error">This code is not valid.</p>',
      );

      const confirmed = await agent
        .post('/security/reauth')
        .type('form')
        .send({ _csrf: csrfOf(page.text), code: await totpCode(user.secret, 1) });
      expect(confirmed.status).toBe(303);
      const off = await agent
        .post('/security/totp/remove')
        .type('form')
        .send({ _csrf: csrfOf(page.text) });
      expect(off.status).toBe(303);
      expect((await agent.get('/security').expect(200)).text).toContain('is <strong>off</strong>');
    });
  });
});

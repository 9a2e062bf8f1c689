import { randomBytes } from 'node:crypto';
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { generate } from 'otplib/functional';
import type { Response } from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
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
import { type ReceivedMail, SmtpSink } from '../support/smtp-sink';
import {
  type AssertionOptions,
  newKeyPair,
  type RegistrationOptions,
  SoftAuthenticator,
  type SoftCredential,
} from '../support/soft-authenticator';
import { startApp, startAppOnFreshDatabase, type TestApp, type TestContext } from '../support/test-app';

/*
 * Passkeys over HTTP against a real PostgreSQL, with a software authenticator that
 * makes the same JSON a browser would (test/support/soft-authenticator.ts). PUBLIC_URL
 * is set, so the relying party is "localhost" and the only accepted origin is that URL.
 */

const PUBLIC_URL = 'http://localhost:3999';
const ADMIN = { email: 'root@example.com', password: 'bootstrap password for passkeys' };
const REFUSED = 'This passkey could not be verified: try again';
const REAUTH_REQUIRED = { statusCode: 403, error: 'Forbidden', message: 'reauthentication required' };
const PAST_WINDOW_MS = 1500;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

type Caller = { bearer: string } | CookieLogin;
type Http = () => TestAgent;

interface Account extends SignedUp {
  caller: Caller;
  authenticator: SoftAuthenticator;
}

interface PasskeyJson {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** Status and body together, so that a failure shows both. */
const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

function call(http: Http, method: 'get' | 'post' | 'delete', path: string, caller?: Caller) {
  const req = http()[method](path);
  if (!caller) return req;
  return 'bearer' in caller
    ? req.set('Authorization', `Bearer ${caller.bearer}`)
    : req.set('Cookie', caller.cookie).set('X-CSRF-Token', caller.csrfToken);
}

describe('passkeys (WebAuthn) over HTTP', () => {
  let sink: SmtpSink;
  let ctx: TestContext;
  /** A second instance on the same database with REAUTH_MAX_AGE_SECONDS=1. */
  let shortWindow: TestApp;
  let db: DataSource;
  let adminBearer: string;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    const env = { PUBLIC_URL, SMTP_URL: sink.url, MAIL_RETRY_BASE_SECONDS: '1' };
    ctx = await startAppOnFreshDatabase({
      ...env,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    });
    shortWindow = await startApp(ctx.database.url, { ...env, REAUTH_MAX_AGE_SECONDS: '1' });
    db = ctx.app.get(DataSource);
    adminBearer = `Bearer ${(await tokenLogin(ctx.http, ADMIN)).accessToken}`;
  });
  afterAll(async () => {
    await shortWindow?.close();
    await ctx?.close();
    await sink?.stop();
  });

  // ---- helpers -----------------------------------------------------------------

  async function newAccount(kind: 'bearer' | 'cookie' = 'bearer', http: Http = ctx.http): Promise<Account> {
    const user = await signUp(http, uniqueEmail('passkey'));
    const caller: Caller =
      kind === 'bearer'
        ? { bearer: (await tokenLogin(http, user)).accessToken }
        : await sessionLogin(http, user);
    return { ...user, caller, authenticator: new SoftAuthenticator(PUBLIC_URL) };
  }

  async function creationOptions(
    account: Account,
    http: Http = ctx.http,
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const res = await call(http, 'post', '/api/auth/passkeys/registration/options', account.caller);
    expect(outcome(res)).toMatchObject({ status: 200 });
    return res.body as PublicKeyCredentialCreationOptionsJSON;
  }

  const postRegistration = (account: Account, response: unknown, name?: string, http: Http = ctx.http) =>
    call(http, 'post', '/api/auth/passkeys/registration', account.caller).send(
      name === undefined ? { response } : { response, name },
    );

  /** Options, the authenticator's answer, 201. */
  async function registerPasskey(
    account: Account,
    opts: RegistrationOptions & { name?: string } = {},
  ): Promise<{ passkey: PasskeyJson; credential: SoftCredential }> {
    const { response, credential } = account.authenticator.createCredential(
      await creationOptions(account),
      opts,
    );
    const res = await postRegistration(account, response, opts.name ?? 'Laptop');
    expect(outcome(res)).toMatchObject({ status: 201 });
    return { passkey: res.body as PasskeyJson, credential };
  }

  async function requestOptions(email?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const res = await ctx
      .http()
      .post('/api/auth/passkeys/authentication/options')
      .send(email === undefined ? {} : { email });
    expect(outcome(res)).toMatchObject({ status: 200 });
    return res.body as PublicKeyCredentialRequestOptionsJSON;
  }

  /** A passkey sign-in of either kind; `email` for email-first, else discoverable. */
  async function passkeySignIn(
    kind: 'session' | 'token',
    authenticator: SoftAuthenticator,
    opts: AssertionOptions & { email?: string } = {},
  ): Promise<Response> {
    const response = authenticator.getAssertion(await requestOptions(opts.email), opts);
    return ctx.http().post(`/api/auth/passkeys/${kind}`).send({ response });
  }

  const me = (caller: Caller) => call(ctx.http, 'get', '/api/auth/me', caller);
  const listPasskeys = async (caller: Caller) => {
    const res = await call(ctx.http, 'get', '/api/auth/passkeys', caller).expect(200);
    return res.body as PasskeyJson[];
  };

  async function auditOf(type: string, userId?: string) {
    const rows = await db.query<{ user_id: string | null; details: Record<string, unknown> | null }[]>(
      `SELECT user_id, details FROM audit_events WHERE type = $1 ${userId ? 'AND user_id = $2' : ''} ORDER BY id`,
      userId ? [type, userId] : [type],
    );
    return rows;
  }
  const countFailures = async () => (await auditOf('passkey.failed')).length;

  async function waitForMail(address: string, match: (mail: ReceivedMail) => boolean): Promise<ReceivedMail> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = sink.to(address).find(match);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(
          `no such mail to ${address}; got: ${JSON.stringify(sink.to(address).map((m) => m.text))}`,
        );
      await sleep(25);
    }
  }

  async function enableTotp(account: Account): Promise<void> {
    const started = await call(ctx.http, 'post', '/api/auth/mfa/totp', account.caller).expect(200);
    const { secret } = started.body as { secret: string };
    await call(ctx.http, 'post', '/api/auth/mfa/totp/confirm', account.caller)
      .send({ code: await generate({ secret }) })
      .expect(200);
  }

  // ---- registration --------------------------------------------------------------

  describe('registration', () => {
    it('needs a sign-in: 401 for options and for a response without one', async () => {
      await ctx.http().post('/api/auth/passkeys/registration/options').expect(401);
      const account = await newAccount();
      const { response } = account.authenticator.createCredential(await creationOptions(account));
      await ctx.http().post('/api/auth/passkeys/registration').send({ response }).expect(401);
      expect(await listPasskeys(account.caller)).toEqual([]);
    });

    it.each(['bearer', 'cookie'] as const)(
      '%s: needs recent authentication (REAUTH_MAX_AGE_SECONDS=1): 403 "reauthentication required" 1.5 s after sign-in, for options, response and deletion; after POST /reauth the waiting response registers',
      async (kind) => {
        const account = await newAccount(kind, shortWindow.http);
        const options = await creationOptions(account, shortWindow.http);
        const { response } = account.authenticator.createCredential(options);

        await sleep(PAST_WINDOW_MS);
        const late = await call(
          shortWindow.http,
          'post',
          '/api/auth/passkeys/registration/options',
          account.caller,
        );
        expect(outcome(late)).toEqual({ status: 403, body: REAUTH_REQUIRED });
        expect(outcome(await postRegistration(account, response, 'Late', shortWindow.http))).toEqual({
          status: 403,
          body: REAUTH_REQUIRED,
        });
        expect(await listPasskeys(account.caller)).toEqual([]);

        await call(shortWindow.http, 'post', '/api/auth/reauth', account.caller)
          .send({ password: PASSWORD })
          .expect(204);
        // The refused request did not spend the challenge.
        const registered = await postRegistration(account, response, 'Late', shortWindow.http);
        expect(outcome(registered)).toMatchObject({ status: 201, body: { name: 'Late' } });

        await sleep(PAST_WINDOW_MS);
        const id = (registered.body as PasskeyJson).id;
        expect(
          outcome(await call(shortWindow.http, 'delete', `/api/auth/passkeys/${id}`, account.caller)),
        ).toEqual({ status: 403, body: REAUTH_REQUIRED });
        expect(await listPasskeys(account.caller)).toHaveLength(1);
      },
    );

    it("creation options name rp.id localhost, require user verification and a resident key, and exclude the user's existing passkeys", async () => {
      const account = await newAccount();
      const first = await creationOptions(account);
      expect(first).toMatchObject({
        rp: { id: 'localhost' },
        user: { name: account.email },
        authenticatorSelection: {
          residentKey: 'required',
          requireResidentKey: true,
          userVerification: 'required',
        },
        attestation: 'none',
      });
      expect(first.pubKeyCredParams.map((param) => param.alg)).toContain(-7);
      expect(first.excludeCredentials ?? []).toEqual([]);

      const { credential } = await registerPasskey(account);
      const second = await creationOptions(account);
      expect(second.challenge).not.toBe(first.challenge);
      expect(second.excludeCredentials).toEqual([
        expect.objectContaining({ id: credential.id, type: 'public-key' }),
      ]);
      // An authenticator that holds an excluded credential refuses to make another one.
      expect(() => account.authenticator.createCredential(second)).toThrow(/InvalidStateError/);
      // Another user's options do not list it.
      const other = await newAccount();
      expect((await creationOptions(other)).excludeCredentials ?? []).toEqual([]);
    });

    it('registering answers 201 { id, name, createdAt, lastUsedAt: null }; GET /passkeys lists it without key material; /me shows mfa.passkeys; a security notice is mailed; audit passkey.registered', async () => {
      const account = await newAccount('cookie');
      expect((await me(account.caller).expect(200)).body.mfa).toEqual({ totp: false, passkeys: false });

      const { passkey, credential } = await registerPasskey(account, { name: '  Work laptop ' });
      expect(passkey).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'Work laptop',
        createdAt: expect.stringMatching(ISO),
        lastUsedAt: null,
      });
      const list = await listPasskeys(account.caller);
      expect(list).toEqual([passkey]);
      const jwk = credential.publicKey.export({ format: 'jwk' });
      const raw = JSON.stringify((await call(ctx.http, 'get', '/api/auth/passkeys', account.caller)).body);
      expect(raw).not.toContain(jwk.x);
      expect(raw).not.toContain(credential.id);

      expect((await me(account.caller).expect(200)).body.mfa).toEqual({ totp: false, passkeys: true });

      const mail = await waitForMail(account.email, (m) => m.text.includes('passkey'));
      expect(mail.subject).toContain('A change to how you sign in');
      expect(mail.text).toContain('A passkey (“Work laptop”) was added to your account.');

      expect(await auditOf('passkey.registered', account.id)).toEqual([
        { user_id: account.id, details: { passkeyId: passkey.id } },
      ]);
    });

    it('a passkey registered without a name gets a dated default name', async () => {
      const account = await newAccount();
      const { response } = account.authenticator.createCredential(await creationOptions(account));
      const res = await postRegistration(account, response);
      expect(outcome(res)).toMatchObject({
        status: 201,
        body: { name: expect.stringMatching(/^Passkey \d{4}-\d\d-\d\d$/) },
      });
    });

    it('a response to a spent challenge is 400, even from a new credential', async () => {
      const account = await newAccount();
      const options = await creationOptions(account);
      const first = account.authenticator.createCredential(options);
      expect((await postRegistration(account, first.response)).status).toBe(201);

      expect(outcome(await postRegistration(account, first.response))).toMatchObject({
        status: 400,
        body: { message: REFUSED },
      });
      const fresh = account.authenticator.createCredential(options, { ignoreExclusions: true });
      expect(outcome(await postRegistration(account, fresh.response))).toMatchObject({
        status: 400,
        body: { message: REFUSED },
      });
      expect(await listPasskeys(account.caller)).toHaveLength(1);
    });

    it('a response to a challenge that was never issued is 400', async () => {
      const account = await newAccount();
      const { response } = account.authenticator.createCredential(await creationOptions(account), {
        challenge: randomBytes(32).toString('base64url'),
      });
      expect(outcome(await postRegistration(account, response))).toMatchObject({
        status: 400,
        body: { message: REFUSED },
      });
      expect(await listPasskeys(account.caller)).toEqual([]);
    });

    it("a response to another user's challenge is 400", async () => {
      const account = await newAccount();
      const other = await newAccount();
      const { response } = account.authenticator.createCredential(await creationOptions(other));
      expect(outcome(await postRegistration(account, response))).toMatchObject({
        status: 400,
        body: { message: REFUSED },
      });
      expect(await listPasskeys(account.caller)).toEqual([]);
      expect(await listPasskeys(other.caller)).toEqual([]);
    });

    it.each<[string, RegistrationOptions, (o: PublicKeyCredentialCreationOptionsJSON) => void]>([
      ['another origin (http://localhost:4000)', { origin: 'http://localhost:4000' }, () => undefined],
      ['another scheme (https://localhost:3999)', { origin: 'https://localhost:3999' }, () => undefined],
      ['no user verification (UV flag clear)', { userVerified: false }, () => undefined],
      ['another RP ID (evil.example)', {}, (options) => (options.rp.id = 'evil.example')],
    ])('a response with %s is 400 and registers nothing', async (_, opts, alter) => {
      const account = await newAccount();
      const options = await creationOptions(account);
      alter(options);
      const { response } = account.authenticator.createCredential(options, opts);
      expect(outcome(await postRegistration(account, response))).toMatchObject({
        status: 400,
        body: { message: REFUSED },
      });
      expect(await listPasskeys(account.caller)).toEqual([]);
      expect((await me(account.caller).expect(200)).body.mfa.passkeys).toBe(false);
    });

    it('registering the same credential twice is 409, for the same user and for another', async () => {
      const account = await newAccount();
      const { credential } = await registerPasskey(account);
      const again = account.authenticator.createCredential(await creationOptions(account), {
        credential,
        ignoreExclusions: true,
      });
      expect(outcome(await postRegistration(account, again.response))).toMatchObject({
        status: 409,
        body: { message: 'This passkey is registered already' },
      });
      const other = await newAccount();
      const stolen = account.authenticator.createCredential(await creationOptions(other), { credential });
      expect(outcome(await postRegistration(other, stolen.response))).toMatchObject({ status: 409 });
      expect(await listPasskeys(account.caller)).toHaveLength(1);
      expect(await listPasskeys(other.caller)).toEqual([]);
    });

    it('two concurrent registrations of one credential: one 201, one 409 (never a 500), and one passkey stored', async () => {
      const account = await newAccount();
      const [a, b] = [await creationOptions(account), await creationOptions(account)];
      const first = account.authenticator.createCredential(a);
      const second = account.authenticator.createCredential(b, {
        credential: first.credential,
        ignoreExclusions: true,
      });
      const statuses = (
        await Promise.all([
          postRegistration(account, first.response),
          postRegistration(account, second.response),
        ])
      ).map((res) => res.status);
      expect(statuses.sort()).toEqual([201, 409]);
      expect(await listPasskeys(account.caller)).toHaveLength(1);
    });
  });

  // ---- sign-in -------------------------------------------------------------------

  describe('sign-in without a password', () => {
    it('discoverable (options without email): request options list no credentials; POST /passkeys/session gives { user, csrfToken } and a working session cookie', async () => {
      const account = await newAccount();
      await registerPasskey(account);

      const options = await requestOptions();
      expect(options).toMatchObject({ rpId: 'localhost', userVerification: 'required' });
      expect(options.allowCredentials ?? []).toEqual([]);

      const response = account.authenticator.getAssertion(options);
      const res = await ctx.http().post('/api/auth/passkeys/session').send({ response });
      expect(outcome(res)).toMatchObject({
        status: 200,
        body: {
          user: { id: account.id, email: account.email, mfa: { passkeys: true } },
          csrfToken: expect.any(String),
        },
      });
      expect(res.body).not.toHaveProperty('mfaRequired');
      const caller = {
        cookie: sessionCookie(res.headers['set-cookie']),
        csrfToken: res.body.csrfToken as string,
      };
      expect((await me(caller).expect(200)).body).toMatchObject({ id: account.id, authMethod: 'session' });
      // The CSRF token belongs to that session: an unsafe request goes through.
      await call(ctx.http, 'delete', '/api/auth/session', caller).expect(204);
      await me(caller).expect(401);
    });

    it('email-first: request options list no credentials; POST /passkeys/token gives a working token pair', async () => {
      const account = await newAccount();
      await registerPasskey(account);
      const options = await requestOptions(account.email);
      expect(options.allowCredentials ?? []).toEqual([]);

      const response = account.authenticator.getAssertion(options);
      const res = await ctx.http().post('/api/auth/passkeys/token').send({ response });
      expect(outcome(res)).toMatchObject({
        status: 200,
        body: { accessToken: expect.any(String), refreshToken: expect.any(String), tokenType: 'Bearer' },
      });
      expect(res.headers['set-cookie']).toBeUndefined();
      const { accessToken, refreshToken } = res.body as { accessToken: string; refreshToken: string };
      expect((await me({ bearer: accessToken }).expect(200)).body).toMatchObject({
        id: account.id,
        authMethod: 'jwt',
      });
      await ctx.http().post('/api/auth/token/refresh').send({ refreshToken }).expect(200);
    });

    it('a user with TOTP on gets no MFA step from a passkey, for a session and for a token', async () => {
      const account = await newAccount();
      await registerPasskey(account, { counterStep: 1 });
      await enableTotp(account);
      const password = await ctx
        .http()
        .post('/api/auth/session')
        .send({ email: account.email, password: PASSWORD });
      expect(outcome(password)).toMatchObject({ status: 200, body: { mfaRequired: true } });

      const session = await passkeySignIn('session', account.authenticator);
      expect(outcome(session)).toMatchObject({
        status: 200,
        body: { user: { mfa: { totp: true, passkeys: true } } },
      });
      expect(session.body).not.toHaveProperty('mfaRequired');
      const cookie = sessionCookie(session.headers['set-cookie']);
      expect((await me({ cookie, csrfToken: session.body.csrfToken }).expect(200)).body.authMethod).toBe(
        'session',
      );

      const token = await passkeySignIn('token', account.authenticator, { email: account.email });
      expect(outcome(token)).toMatchObject({ status: 200, body: { accessToken: expect.any(String) } });
      expect(token.body).not.toHaveProperty('mfaRequired');
      await me({ bearer: token.body.accessToken }).expect(200);
    });

    it('lastUsedAt is set by a sign-in', async () => {
      const account = await newAccount();
      const { passkey } = await registerPasskey(account);
      expect((await listPasskeys(account.caller))[0].lastUsedAt).toBeNull();
      const before = Date.now();
      await passkeySignIn('token', account.authenticator).then((res) => expect(res.status).toBe(200));
      const [used] = await listPasskeys(account.caller);
      expect(used).toMatchObject({ id: passkey.id, lastUsedAt: expect.stringMatching(ISO) });
      expect(Date.parse(used.lastUsedAt!)).toBeGreaterThanOrEqual(before - 5_000);
    });

    it.each(['session', 'token'] as const)(
      '%s: the challenge is single use: replaying the same assertion is 401',
      async (kind) => {
        const account = await newAccount();
        await registerPasskey(account);
        const response = account.authenticator.getAssertion(await requestOptions());
        expect((await ctx.http().post(`/api/auth/passkeys/${kind}`).send({ response })).status).toBe(200);
        const replay = await ctx.http().post(`/api/auth/passkeys/${kind}`).send({ response });
        expect(outcome(replay)).toMatchObject({ status: 401, body: { message: REFUSED } });
        expect(replay.headers['set-cookie']).toBeUndefined();
      },
    );

    it('an expired challenge is 401', async () => {
      const account = await newAccount();
      await registerPasskey(account);
      const options = await requestOptions();
      const [, updated] = await db.query<[unknown[], number]>(
        `UPDATE webauthn_challenges SET expires_at = now() - interval '1 second' WHERE challenge = $1`,
        [options.challenge],
      );
      expect(updated).toBe(1);
      const response = account.authenticator.getAssertion(options);
      expect(outcome(await ctx.http().post('/api/auth/passkeys/session').send({ response }))).toMatchObject({
        status: 401,
        body: { message: REFUSED },
      });
    });

    it('a challenge that was never issued is 401', async () => {
      const account = await newAccount();
      await registerPasskey(account);
      const response = account.authenticator.getAssertion(await requestOptions(), {
        challenge: randomBytes(32).toString('base64url'),
      });
      expect((await ctx.http().post('/api/auth/passkeys/token').send({ response })).status).toBe(401);
    });

    it("email-first with another account's email is 401 for this credential (and it still signs in on its own)", async () => {
      const account = await newAccount();
      const other = await newAccount();
      await registerPasskey(account);
      await registerPasskey(other);
      const res = await passkeySignIn('token', account.authenticator, { email: other.email });
      expect(outcome(res)).toMatchObject({ status: 401, body: { message: REFUSED } });
      expect((await passkeySignIn('token', account.authenticator, { email: account.email })).status).toBe(
        200,
      );
    });

    it('an unknown email gives options of the same shape as a known one, and no assertion can use them', async () => {
      const account = await newAccount();
      await registerPasskey(account);
      const known = await requestOptions(account.email);
      const unknown = await requestOptions(uniqueEmail('nobody'));
      const shape = (options: object) =>
        Object.entries(options)
          .map(([key, value]) => `${key}:${Array.isArray(value) ? `array(${value.length})` : typeof value}`)
          .sort();
      expect(shape(unknown)).toEqual(shape(known));
      expect({ ...unknown, challenge: '' }).toEqual({ ...known, challenge: '' });
      expect(unknown.challenge).toHaveLength(known.challenge.length);

      const response = account.authenticator.getAssertion(unknown);
      expect((await ctx.http().post('/api/auth/passkeys/token').send({ response })).status).toBe(401);
    });

    it('a counter that does not move forward (once it is > 0) is 401: a cloned key', async () => {
      const account = await newAccount();
      await registerPasskey(account); // counter 0, +1 per use
      expect((await passkeySignIn('token', account.authenticator)).status).toBe(200); // 1
      expect((await passkeySignIn('token', account.authenticator)).status).toBe(200); // 2

      const same = await passkeySignIn('token', account.authenticator, { keepCounter: true }); // 2 again
      expect(outcome(same)).toMatchObject({ status: 401, body: { message: REFUSED } });
      const back = await passkeySignIn('token', account.authenticator, { counter: 1 });
      expect(outcome(back)).toMatchObject({ status: 401, body: { message: REFUSED } });
      const zero = await passkeySignIn('session', account.authenticator, { counter: 0 });
      expect(outcome(zero)).toMatchObject({ status: 401, body: { message: REFUSED } });

      // The genuine authenticator, moving on, still signs in.
      expect((await passkeySignIn('token', account.authenticator, { counter: 7 })).status).toBe(200);
      expect((await passkeySignIn('token', account.authenticator, { counter: 7 })).status).toBe(401);
    });

    it('a counter of 0 that stays 0 (an authenticator without a counter) is accepted every time', async () => {
      const account = await newAccount();
      await registerPasskey(account, { counter: 0, counterStep: 0 });
      for (const kind of ['token', 'session', 'token'] as const)
        expect({ kind, status: (await passkeySignIn(kind, account.authenticator)).status }).toEqual({
          kind,
          status: 200,
        });
    });

    it('a counter that started above 0 at registration must move past it', async () => {
      const account = await newAccount();
      await registerPasskey(account, { counter: 40, counterStep: 1 });
      expect((await passkeySignIn('token', account.authenticator, { counter: 40 })).status).toBe(401);
      expect((await passkeySignIn('token', account.authenticator, { counter: 41 })).status).toBe(200);
    });

    it('a signature by a different key is 401, and audited as passkey.failed', async () => {
      const account = await newAccount();
      await registerPasskey(account);
      const failures = await countFailures();
      const res = await passkeySignIn('session', account.authenticator, {
        signWith: newKeyPair().privateKey,
      });
      expect(outcome(res)).toMatchObject({ status: 401, body: { message: REFUSED } });
      expect(res.headers['set-cookie']).toBeUndefined();
      const events = await auditOf('passkey.failed');
      expect(events).toHaveLength(failures + 1);
      expect(events.at(-1)).toMatchObject({ details: { purpose: 'login' } });
    });

    it.each(['session', 'token'] as const)(
      '%s: an assertion without user verification is 401',
      async (kind) => {
        const account = await newAccount();
        await registerPasskey(account);
        const res = await passkeySignIn(kind, account.authenticator, { userVerified: false });
        expect(outcome(res)).toMatchObject({ status: 401, body: { message: REFUSED } });
      },
    );

    it('an assertion for another origin is 401', async () => {
      const account = await newAccount();
      await registerPasskey(account);
      const res = await passkeySignIn('token', account.authenticator, { origin: 'http://localhost:4000' });
      expect(outcome(res)).toMatchObject({ status: 401, body: { message: REFUSED } });
    });

    it('a credential the service does not know is 401', async () => {
      const stranger = new SoftAuthenticator(PUBLIC_URL);
      stranger.createCredential(await creationOptions(await newAccount()));
      const res = await passkeySignIn('token', stranger);
      expect(outcome(res)).toMatchObject({ status: 401, body: { message: REFUSED } });
    });

    it('a disabled user is 401', async () => {
      const account = await newAccount();
      await registerPasskey(account);
      await ctx
        .http()
        .patch(`/api/users/${account.id}`)
        .set('Authorization', adminBearer)
        .send({ disabled: true })
        .expect(200);
      for (const kind of ['session', 'token'] as const)
        expect(outcome(await passkeySignIn(kind, account.authenticator))).toMatchObject({
          status: 401,
          body: { message: REFUSED },
        });
    });

    it("a deleted passkey no longer signs in: DELETE 204, again 404, another user's id 404; a notice is mailed; audit passkey.deleted", async () => {
      const account = await newAccount();
      const other = await newAccount();
      const { passkey } = await registerPasskey(account, { name: 'Old phone' });
      const { passkey: theirs } = await registerPasskey(other);

      const foreign = await call(ctx.http, 'delete', `/api/auth/passkeys/${theirs.id}`, account.caller);
      expect(foreign.status).toBe(404);
      expect(await listPasskeys(other.caller)).toHaveLength(1);

      await call(ctx.http, 'delete', `/api/auth/passkeys/${passkey.id}`, account.caller).expect(204);
      await call(ctx.http, 'delete', `/api/auth/passkeys/${passkey.id}`, account.caller).expect(404);
      expect(await listPasskeys(account.caller)).toEqual([]);
      expect((await me(account.caller).expect(200)).body.mfa.passkeys).toBe(false);

      for (const kind of ['session', 'token'] as const)
        expect(outcome(await passkeySignIn(kind, account.authenticator))).toMatchObject({
          status: 401,
          body: { message: REFUSED },
        });
      expect((await passkeySignIn('token', other.authenticator)).status).toBe(200);

      const mail = await waitForMail(account.email, (m) => m.text.includes('was removed'));
      expect(mail.text).toContain('A passkey (“Old phone”) was removed from your account.');
      expect(await auditOf('passkey.deleted', account.id)).toEqual([
        { user_id: account.id, details: { passkeyId: passkey.id } },
      ]);
    });

    it.each([
      ['disk_full', 'the database is out of disk'],
      ['admin_shutdown', 'the database is going away'],
    ])(
      'a database error (%s: %s) while recording a sign-in is a 5xx, never 401, and no passkey.failed',
      async (errcode) => {
        const account = await newAccount();
        await registerPasskey(account);
        const failures = await countFailures();
        await db.query(`CREATE OR REPLACE FUNCTION test_passkeys_fail() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'injected by the test' USING ERRCODE = '${errcode}'; END $$`);
        await db.query(
          `CREATE TRIGGER test_passkeys_fail BEFORE UPDATE ON passkeys FOR EACH ROW EXECUTE FUNCTION test_passkeys_fail()`,
        );
        let res: Response;
        try {
          res = await passkeySignIn('token', account.authenticator);
        } finally {
          await db.query('DROP TRIGGER IF EXISTS test_passkeys_fail ON passkeys');
          await db.query('DROP FUNCTION IF EXISTS test_passkeys_fail()');
        }
        expect({ status: res.status, isServerError: res.status >= 500 }).toEqual({
          status: res.status,
          isServerError: true,
        });
        expect(JSON.stringify(res.body)).not.toContain('injected');
        expect(await countFailures()).toBe(failures);
      },
    );
  });

  // ---- admin reset -----------------------------------------------------------------

  it("an admin's reset (DELETE /api/users/:id/mfa) removes the passkeys: mfa.passkeys false, the passkey no longer signs in", async () => {
    const account = await newAccount();
    await registerPasskey(account);
    await registerPasskey(account, { ignoreExclusions: true, name: 'Second' });
    expect(
      (
        await passkeySignIn('token', account.authenticator, {
          credential: account.authenticator.credentials[0],
        })
      ).status,
    ).toBe(200);

    await ctx.http().delete(`/api/users/${account.id}/mfa`).set('Authorization', adminBearer).expect(204);

    const seen = await ctx
      .http()
      .get(`/api/users/${account.id}`)
      .set('Authorization', adminBearer)
      .expect(200);
    expect(seen.body.mfa).toEqual({ totp: false, passkeys: false });
    expect((await me(account.caller).expect(200)).body.mfa).toEqual({ totp: false, passkeys: false });
    expect(await listPasskeys(account.caller)).toEqual([]);
    for (const credential of account.authenticator.credentials)
      expect(outcome(await passkeySignIn('session', account.authenticator, { credential }))).toMatchObject({
        status: 401,
        body: { message: REFUSED },
      });
    const mail = await waitForMail(account.email, (m) => m.text.includes('An administrator removed'));
    expect(mail.text).toContain('recovery codes and passkeys');
  });
});

import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { Response } from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import {
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  uniqueEmail,
  type CookieLogin,
  type SignedUp,
} from '../support/auth-helpers';
import { SmtpSink } from '../support/smtp-sink';
import { type AssertionOptions, SoftAuthenticator } from '../support/soft-authenticator';
import { startApp, startAppOnFreshDatabase, type TestApp, type TestContext } from '../support/test-app';

/*
 * POST /api/auth/reauth { passkey }: a signed-in user proves a passkey again and the
 * sign-in is recent once more. The passkeys are registered on an instance with the
 * default window; the tests run on a second instance (same database) with
 * REAUTH_MAX_AGE_SECONDS=1, so a 1.5 s wait makes any sign-in stale.
 */

const PUBLIC_URL = 'http://localhost:3999';
const REFUSED = {
  statusCode: 403,
  error: 'Forbidden',
  message: 'This passkey could not be verified: try again',
};
const REAUTH_REQUIRED = { statusCode: 403, error: 'Forbidden', message: 'reauthentication required' };
const PAST_WINDOW_MS = 1500;

type Caller = { bearer: string } | CookieLogin;
type Http = () => TestAgent;
type Kind = 'bearer token' | 'cookie session';

interface Account extends SignedUp {
  authenticator: SoftAuthenticator;
}

const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

function post(http: Http, path: string, caller?: Caller) {
  const req = http().post(path);
  if (!caller) return req;
  return 'bearer' in caller
    ? req.set('Authorization', `Bearer ${caller.bearer}`)
    : req.set('Cookie', caller.cookie).set('X-CSRF-Token', caller.csrfToken);
}

describe('POST /api/auth/reauth with a passkey', () => {
  let sink: SmtpSink;
  let setup: TestContext;
  let app: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    const env = { PUBLIC_URL, SMTP_URL: sink.url, MAIL_RETRY_BASE_SECONDS: '1' };
    setup = await startAppOnFreshDatabase(env);
    app = await startApp(setup.database.url, { ...env, REAUTH_MAX_AGE_SECONDS: '1' });
    db = setup.app.get(DataSource);
  });
  afterAll(async () => {
    await app?.close();
    await setup?.close();
    await sink?.stop();
  });

  /** A user with one passkey, registered on the instance with the default window. */
  async function accountWithPasskey(): Promise<Account> {
    const user = await signUp(setup.http, uniqueEmail('passkey-reauth'));
    const caller = { bearer: (await tokenLogin(setup.http, user)).accessToken };
    const authenticator = new SoftAuthenticator(PUBLIC_URL);
    const options = await post(setup.http, '/api/auth/passkeys/registration/options', caller).expect(200);
    const { response } = authenticator.createCredential(
      options.body as PublicKeyCredentialCreationOptionsJSON,
    );
    await post(setup.http, '/api/auth/passkeys/registration', caller).send({ response }).expect(201);
    return { ...user, authenticator };
  }

  /** A sign-in on the short-window instance that is already stale. */
  async function staleSignIn(kind: Kind, user: SignedUp): Promise<Caller> {
    const caller =
      kind === 'bearer token'
        ? { bearer: (await tokenLogin(app.http, user)).accessToken }
        : await sessionLogin(app.http, user);
    await sleep(PAST_WINDOW_MS);
    return caller;
  }

  /** Request options from the public route, asked for by the signed-in caller (as the /security page does). */
  async function assertion(
    caller: Caller,
    authenticator: SoftAuthenticator,
    opts: AssertionOptions & { email?: string } = {},
  ) {
    const res = await post(app.http, '/api/auth/passkeys/authentication/options', caller)
      .send(opts.email ? { email: opts.email } : {})
      .expect(200);
    return authenticator.getAssertion(res.body as PublicKeyCredentialRequestOptionsJSON, opts);
  }

  const reauth = (caller: Caller, passkey: unknown) =>
    post(app.http, '/api/auth/reauth', caller).send({ passkey });
  /** A recent-only action: TOTP set-up. */
  const startTotp = (caller: Caller) => post(app.http, '/api/auth/mfa/totp', caller);

  const kinds: Kind[] = ['bearer token', 'cookie session'];

  it.each(kinds)(
    '%s: a stale sign-in is 403 for a recent-only action; POST /reauth { passkey } is 204 and then POST /mfa/totp works',
    async (kind) => {
      const account = await accountWithPasskey();
      const caller = await staleSignIn(kind, account);
      expect(outcome(await startTotp(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });

      expect(outcome(await reauth(caller, await assertion(caller, account.authenticator)))).toEqual({
        status: 204,
        body: {},
      });
      const totp = await startTotp(caller);
      expect(outcome(totp)).toMatchObject({
        status: 200,
        body: { secret: expect.any(String), otpauthUri: expect.stringMatching(/^otpauth:\/\/totp\//) },
      });
    },
  );

  it.each(kinds)("%s: another user's passkey is 403 and the sign-in stays stale; audited", async (kind) => {
    const account = await accountWithPasskey();
    const other = await accountWithPasskey();
    const [caller, theirs] = await Promise.all([staleSignIn(kind, account), staleSignIn(kind, other)]);
    expect(outcome(await reauth(caller, await assertion(caller, other.authenticator)))).toEqual({
      status: 403,
      body: REFUSED,
    });
    expect(outcome(await startTotp(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });
    const [event] = await db.query<{ details: unknown }[]>(
      `SELECT details FROM audit_events WHERE type = 'passkey.failed' AND user_id = $1`,
      [account.id],
    );
    expect(event).toEqual({ details: { purpose: 'reauth' } });
    // The other user's passkey still proves them.
    await reauth(theirs, await assertion(theirs, other.authenticator)).expect(204);
  });

  it.each(kinds)(
    '%s: a replayed assertion is 403 and does not make the sign-in recent again',
    async (kind) => {
      const account = await accountWithPasskey();
      const caller = await staleSignIn(kind, account);
      const proof = await assertion(caller, account.authenticator);
      await reauth(caller, proof).expect(204);

      await sleep(PAST_WINDOW_MS);
      expect(outcome(await reauth(caller, proof))).toEqual({ status: 403, body: REFUSED });
      expect(outcome(await startTotp(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });
    },
  );

  it("options bound to another account's email do not prove this user's passkey: 403", async () => {
    const account = await accountWithPasskey();
    const other = await accountWithPasskey();
    const caller = await staleSignIn('bearer token', account);
    const proof = await assertion(caller, account.authenticator, { email: other.email });
    expect(outcome(await reauth(caller, proof))).toEqual({ status: 403, body: REFUSED });
    expect(outcome(await startTotp(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });
  });

  it('an assertion without user verification does not re-authenticate: 403', async () => {
    const account = await accountWithPasskey();
    const caller = await staleSignIn('bearer token', account);
    const proof = await assertion(caller, account.authenticator, { userVerified: false });
    expect(outcome(await reauth(caller, proof))).toEqual({ status: 403, body: REFUSED });
    expect(outcome(await startTotp(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });
  });

  it('a passkey and a password together are 400', async () => {
    const account = await accountWithPasskey();
    const caller = { bearer: (await tokenLogin(app.http, account)).accessToken };
    const proof = await assertion(caller, account.authenticator);
    const res = await post(app.http, '/api/auth/reauth', caller).send({
      passkey: proof,
      password: account.password,
    });
    expect(res.status).toBe(400);
  });
});

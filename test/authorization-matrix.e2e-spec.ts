import { randomBytes, randomUUID } from 'node:crypto';
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { Response } from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { UsersService } from '../src/users/users.service';
import {
  PASSWORD,
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  uniqueEmail,
  type CookieLogin,
  type SignedUp,
} from './support/auth-helpers';
import { linkToken, SmtpSink } from './support/smtp-sink';
import { SoftAuthenticator } from './support/soft-authenticator';
import { startAppOnFreshDatabase, type TestContext } from './support/test-app';
import { enableTotp, totpCode, type TotpOn } from './support/totp';

/*
 * The whole authorization policy of /work/shared/CONTRACT.md in one table: every API route
 * the app has (the last test fails when the app exposes one the table does not list) by
 * every kind of caller, each cell the expected HTTP status. Every cell runs by all three
 * authentication methods (cookie session, with X-CSRF-Token on unsafe methods; bearer
 * token; API key in X-API-Key, made by the caller for themself with all their roles by
 * POST /api/keys right after a fresh login), except `anonymous` (no credentials). A plain
 * number holds for every method; otherwise the cell gives one status per method:
 *   sessionOnly(s)  { session: s, jwt: 401, apikey: 401 }  a route limited to `@Auth('session')`
 *   noKey(s)        { session: s, jwt: s, apikey: 401 }    `@Auth('session', 'jwt')`
 *   recent(s)       { session: s, jwt: s, apikey: 403 }    `@RecentAuthentication()`: a fresh
 *                                                          login is recent, a key never is
 *
 * Callers (fresh accounts for every cell, so that destructive calls never affect other cells):
 *   anonymous  no credentials at all
 *   user       a plain user; `:self`, `:signIn`, `:apiKey` and `:passkey` are their own
 *   other      another plain user: the route names someone who is not the caller, i.e. `:self`,
 *              `:signIn`, `:apiKey` and `:passkey` belong to a different plain user and a refresh
 *              token, login, mailed link or MFA step is someone else's; on rows naming nobody,
 *              `other` is just a second plain user
 *   admin      a user with the `admin` role; another admin always exists, so that an admin
 *              deleting or changing themself is never the last admin (that 409 is tested below)
 *
 * Path placeholders, resolved per cell:
 *   :self           the caller's own user id (`other`, `anonymous`: a different plain user's id)
 *   :target         a fresh plain user who is not the caller
 *   :unknown        a well-formed id that names nothing (no user, no key)
 *   :signIn         one of the caller's own sign-ins, not the one in use (`other`, `anonymous`:
 *                   a different plain user's sign-in)
 *   :foreignSignIn  a sign-in of a different plain user, for every caller
 *   :apiKey         one of the caller's own API keys, not the one in use (`other`, `anonymous`:
 *                   a different plain user's key)
 *   :targetKey      an API key of `:target`
 *   :passkey        one of the caller's own passkeys (`other`, `anonymous`: a different plain
 *                   user's passkey)
 * What a cell needs beyond that is made before the request, through the API (SETUP, BODIES):
 * a TOTP set-up waiting for confirmation, TOTP switched on, a mailed link (delivered over
 * real SMTP), an MFA step, a registered passkey and a WebAuthn ceremony over its challenge.
 *
 * The app runs with EMAIL_VERIFICATION=off (no mail at sign-up), so that asking for a
 * verification mail right after sign-up is not the 429 of "one mail a minute".
 */

type Method = 'session' | 'jwt' | 'apikey';
type Status = number | Readonly<Record<Method, number>>;
type Row = readonly [route: string, anonymous: number, user: Status, other: Status, admin: Status];

const sessionOnly = (status: number): Status => ({ session: status, jwt: 401, apikey: 401 });
const noKey = (status: number): Status => ({ session: status, jwt: status, apikey: 401 });
const recent = (status: number): Status => ({ session: status, jwt: status, apikey: 403 });

// prettier-ignore
const MATRIX: readonly Row[] = [
  // route                                              anonymous  user          other         admin         // what `other` does here
  // Operations
  ['GET    /api',                                          200,     200,          200,          200],          // as user
  ['GET    /api/health',                                   200,     200,          200,          200],          // as user
  ['GET    /docs',                                         200,     200,          200,          200],          // as user (follows its redirect)
  ['GET    /docs-json',                                    200,     200,          200,          200],          // as user
  ['GET    /.well-known/jwks.json',                        200,     200,          200,          200],          // as user
  ['POST   /api/admin/signing-keys/rotate',                401,     403,          403,          recent(201)],  // as user
  ['GET    /api/audit',                                    401,     403,          403,          200],          // as user
  // Auth
  ['POST   /api/auth/signup',                              201,     201,          201,          201],          // signs up a fresh email
  ['POST   /api/auth/session',                             200,     200,          200,          200],          // logs in as a different user
  ['DELETE /api/auth/session',                             401,     sessionOnly(204), sessionOnly(204), sessionOnly(204)], // as user
  ['POST   /api/auth/token',                               200,     200,          200,          200],          // logs in as a different user
  ['POST   /api/auth/token/refresh',                       200,     200,          200,          200],          // a different user's refresh token
  ['POST   /api/auth/token/revoke',                        204,     204,          204,          204],          // a different user's refresh token
  ['GET    /api/auth/me',                                  401,     200,          200,          200],          // as user
  ['GET    /api/auth/csrf',                                401,     sessionOnly(200), sessionOnly(200), sessionOnly(200)], // as user
  ['POST   /api/auth/password',                            401,     noKey(204),   noKey(204),   noKey(204)],  // as user (their own password)
  ['POST   /api/auth/reauth',                              401,     noKey(204),   noKey(204),   noKey(204)],  // as user (their own password)
  ['POST   /api/auth/logout-all',                          401,     204,          204,          204],          // as user
  // Account recovery and verification
  ['POST   /api/auth/password/forgot',                     202,     202,          202,          202],          // a different user's address
  ['POST   /api/auth/password/reset',                      204,     204,          204,          204],          // a different user's reset link
  ['POST   /api/auth/email/verification',                  401,     202,          202,          202],          // as user (their own address)
  ['POST   /api/auth/email/verify',                        200,     200,          200,          200],          // a different user's verification link
  ['POST   /api/auth/email/change',                        401,     recent(202),  recent(202),  recent(202)],  // as user (their own address)
  // Second factors
  ['POST   /api/auth/mfa/totp',                            401,     recent(200),  recent(200),  recent(200)],  // as user
  ['POST   /api/auth/mfa/totp/confirm',                    401,     noKey(200),   noKey(200),   noKey(200)],  // as user (their own set-up)
  ['DELETE /api/auth/mfa/totp',                            401,     recent(204),  recent(204),  recent(204)],  // as user (their own TOTP)
  ['POST   /api/auth/mfa/recovery-codes',                  401,     recent(200),  recent(200),  recent(200)],  // as user (their own TOTP)
  ['POST   /api/auth/mfa/verify',                          200,     200,          200,          200],          // a different user's MFA step
  // Passkeys
  ['POST   /api/auth/passkeys/registration/options',       401,     recent(200),  recent(200),  recent(200)],  // as user
  ['POST   /api/auth/passkeys/registration',               401,     recent(201),  recent(201),  recent(201)],  // as user (their own challenge)
  ['GET    /api/auth/passkeys',                            401,     200,          200,          200],          // as user (their own list)
  ['DELETE /api/auth/passkeys/:passkey',                   401,     recent(204),  recent(404),  recent(204)],  // a different user's passkey
  ['POST   /api/auth/passkeys/authentication/options',     200,     200,          200,          200],          // a different user's address
  ['POST   /api/auth/passkeys/session',                    200,     200,          200,          200],          // signs in with a different user's passkey
  ['POST   /api/auth/passkeys/token',                      200,     200,          200,          200],          // signs in with a different user's passkey
  // API keys
  ['POST   /api/keys',                                     401,     noKey(201),   noKey(201),   noKey(201)],   // as user
  ['GET    /api/keys',                                     401,     noKey(200),   noKey(200),   noKey(200)],   // as user (their own list)
  ['DELETE /api/keys/:apiKey',                             401,     noKey(204),   noKey(404),   noKey(204)],   // a different user's key
  // Sessions (sign-ins)
  ['GET    /api/sessions',                                 401,     200,          200,          200],          // as user (their own list)
  ['DELETE /api/sessions/:signIn',                         401,     204,          404,          204],          // a different user's sign-in
  ['DELETE /api/sessions/:foreignSignIn',                  401,     404,          404,          404],          // as user: not theirs, even for an admin
  ['GET    /api/users/:self/sessions',                     401,     403,          403,          200],          // a different user's id
  ['GET    /api/users/:target/sessions',                   401,     403,          403,          200],          // as user
  ['GET    /api/users/:unknown/sessions',                  401,     403,          403,          404],          // as user
  ['DELETE /api/users/:target/sessions',                   401,     403,          403,          204],          // as user
  ['DELETE /api/users/:unknown/sessions',                  401,     403,          403,          404],          // as user
  // Users
  ['GET    /api/users?page=1&limit=10',                    401,     403,          403,          200],          // as user
  ['GET    /api/users/:self',                              401,     200,          403,          200],          // a different user's id
  ['GET    /api/users/:target',                            401,     403,          403,          200],          // as user
  ['GET    /api/users/:unknown',                           401,     403,          403,          404],          // as user
  ['PATCH  /api/users/me',                                 401,     200,          200,          200],          // as user (renames themself)
  ['PATCH  /api/users/:self',                              401,     403,          403,          200],          // a different user's id
  ['PATCH  /api/users/:target',                            401,     403,          403,          200],          // as user
  ['PATCH  /api/users/:unknown',                           401,     403,          403,          404],          // as user
  ['DELETE /api/users/:self',                              401,     403,          403,          204],          // a different user's id
  ['DELETE /api/users/:target',                            401,     403,          403,          204],          // as user
  ['DELETE /api/users/:unknown',                           401,     403,          403,          404],          // as user
  ['POST   /api/users/:target/unlock',                     401,     403,          403,          204],          // as user
  ['POST   /api/users/:unknown/unlock',                    401,     403,          403,          404],          // as user
  ['DELETE /api/users/:target/mfa',                        401,     403,          403,          recent(204)],  // as user
  ['DELETE /api/users/:unknown/mfa',                       401,     403,          403,          recent(404)],  // as user
  ['POST   /api/users/:target/email/verification',         401,     403,          403,          202],          // as user
  ['POST   /api/users/:unknown/email/verification',        401,     403,          403,          404],          // as user
  ['GET    /api/users/:target/keys',                       401,     403,          403,          200],          // as user
  ['GET    /api/users/:unknown/keys',                      401,     403,          403,          404],          // as user
  ['DELETE /api/users/:target/keys/:targetKey',            401,     403,          403,          204],          // as user
  ['DELETE /api/users/:target/keys/:unknown',              401,     403,          403,          404],          // as user
  // Roles
  ['GET    /api/roles',                                    401,     403,          403,          200],          // as user
  ['POST   /api/roles',                                    401,     403,          403,          201],          // as user
  ['PUT    /api/users/:self/roles',                        401,     403,          403,          recent(200)],  // a different user's id
  ['PUT    /api/users/:target/roles',                      401,     403,          403,          recent(200)],  // as user
  ['PUT    /api/users/:unknown/roles',                     401,     403,          403,          recent(404)],  // as user
];

/** What must exist before the request (beyond its placeholders and body). */
const SETUP: Record<string, (cell: Cell) => Promise<unknown>> = {
  // The caller has TOTP on (switched on through a login of their own, after the cell's one).
  'DELETE /api/auth/mfa/totp': async (cell) => cell.caller && cell.totpOn(cell.caller),
  'POST /api/auth/mfa/recovery-codes': async (cell) => cell.caller && cell.totpOn(cell.caller),
};

/** Valid bodies, so that a status reflects authorization and never validation. */
const BODIES: Record<string, (cell: Cell) => Promise<object> | object> = {
  'POST /api/auth/signup': () => ({ email: uniqueEmail('matrix-signup'), password: PASSWORD }),
  'POST /api/auth/session': async (cell) => credentials(await cell.owner()),
  'POST /api/auth/token': async (cell) => credentials(await cell.owner()),
  'POST /api/auth/token/refresh': async (cell) => ({ refreshToken: await cell.refreshToken() }),
  'POST /api/auth/token/revoke': async (cell) => ({ refreshToken: await cell.refreshToken() }),
  'POST /api/auth/password': () => ({ currentPassword: PASSWORD, newPassword: 'another long password' }),
  'POST /api/auth/reauth': () => ({ password: PASSWORD }),
  'POST /api/auth/password/forgot': async (cell) => ({ email: (await cell.owner()).email }),
  'POST /api/auth/password/reset': async (cell) => ({
    token: await cell.resetLink(await cell.owner()),
    newPassword: 'another long password',
  }),
  'POST /api/auth/email/verify': async (cell) => ({ token: await cell.verificationLink(await cell.owner()) }),
  'POST /api/auth/email/change': () => ({ newEmail: uniqueEmail('matrix-new-address'), password: PASSWORD }),
  // The caller's own set-up, begun through a login of their own (a key cannot begin one).
  'POST /api/auth/mfa/totp/confirm': async (cell) => ({
    code: cell.caller ? await totpCode(await cell.totpSetUp(cell.caller)) : '000000',
  }),
  'POST /api/auth/mfa/verify': async (cell) => cell.mfaStep(await cell.owner()),
  // A response to the caller's own registration challenge (anonymous: someone else's).
  'POST /api/auth/passkeys/registration': async (cell) => ({
    response: await cell.passkeyRegistration(cell.caller ?? (await cell.owner())),
    name: 'Laptop',
  }),
  'POST /api/auth/passkeys/authentication/options': async (cell) => ({ email: (await cell.owner()).email }),
  'POST /api/auth/passkeys/session': async (cell) => ({
    response: await cell.passkeyAssertion(await cell.owner()),
  }),
  'POST /api/auth/passkeys/token': async (cell) => ({
    response: await cell.passkeyAssertion(await cell.owner()),
  }),
  'POST /api/keys': () => ({ name: 'matrix' }),
  'PATCH /api/users/me': () => ({ name: 'New' }),
  'PATCH /api/users/:self': () => ({ name: 'X' }),
  'PATCH /api/users/:target': () => ({ name: 'X' }),
  'PATCH /api/users/:unknown': () => ({ name: 'X' }),
  'POST /api/roles': () => ({ name: `role-${randomBytes(6).toString('hex').replace(/\d/g, 'x')}` }),
  // For a plain user on themself this is an attempt to become admin; for an admin, a no-op.
  'PUT /api/users/:self/roles': () => ({ roles: ['user', 'admin'] }),
  'PUT /api/users/:target/roles': () => ({ roles: ['user'] }),
  'PUT /api/users/:unknown/roles': () => ({ roles: ['user'] }),
};

const CALLERS = ['anonymous', 'user', 'other', 'admin'] as const;
type Caller = (typeof CALLERS)[number];
const METHODS: readonly Method[] = ['session', 'jwt', 'apikey'];
type Verb = 'get' | 'post' | 'put' | 'patch' | 'delete';

const UNSAFE = new Set<Verb>(['post', 'put', 'patch', 'delete']);
const PUBLIC_URL = 'http://localhost:3999';

interface Cell {
  /** The calling account; none for `anonymous`. */
  caller?: SignedUp;
  /** Whose `:self`, `:signIn`, `:apiKey`, `:passkey`, login, link and refresh token the row names. */
  owner(): Promise<SignedUp>;
  /** `:target`, made once per cell (`:targetKey` is theirs). */
  target(): Promise<SignedUp>;
  refreshToken(): Promise<string>;
  /** Turns TOTP on for `user`. */
  totpOn(user: SignedUp): Promise<TotpOn>;
  /** Begins a TOTP set-up for `user`; its secret. */
  totpSetUp(user: SignedUp): Promise<string>;
  /** `{ mfaToken, recoveryCode }`: the second step of a token login of `user`, who gets TOTP for it. */
  mfaStep(user: SignedUp): Promise<object>;
  /** The token of a password-reset link mailed to `user`. */
  resetLink(user: SignedUp): Promise<string>;
  /** The token of a verification link mailed to `user`. */
  verificationLink(user: SignedUp): Promise<string>;
  /** An authenticator's answer to a registration challenge of `user`. */
  passkeyRegistration(user: SignedUp): Promise<object>;
  /** A passkey of `user`, registered; its id. */
  passkey(user: SignedUp): Promise<string>;
  /** A sign-in assertion by a passkey of `user`, over a challenge for their address. */
  passkeyAssertion(user: SignedUp): Promise<object>;
}

type Credentials =
  | { method: 'session'; login: CookieLogin }
  | { method: 'jwt'; accessToken: string }
  | { method: 'apikey'; key: string };

interface Outcome {
  status: number;
  body: unknown;
}

const credentials = (user: SignedUp) => ({ email: user.email, password: user.password });

/** One lazily computed value, so that a cell only creates what its row needs. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

/** Like `once`, per user. */
function oncePer<T>(make: (user: SignedUp) => Promise<T>): (user: SignedUp) => Promise<T> {
  const values = new Map<string, Promise<T>>();
  return (user) => {
    let value = values.get(user.id);
    if (!value) values.set(user.id, (value = make(user)));
    return value;
  };
}

function parseRoute(route: string): { verb: Verb; path: string; key: string } {
  const [method, path] = route.split(/\s+/);
  return { verb: method.toLowerCase() as Verb, path, key: `${method} ${path}` };
}

function expectedStatus(cell: Status, method: Method | undefined): number {
  return typeof cell === 'number' ? cell : cell[method ?? 'session'];
}

/** `VERB /path` with every path parameter (`:name`, `{name}`) as `:param` and no query. */
function routeShape(verb: string, path: string): string {
  const bare = path.split('?')[0].replace(/:[A-Za-z]+|\{[^}]+\}/g, ':param');
  return `${verb.toUpperCase()} ${bare}`;
}

describe('authorization matrix (every route × every caller × all three methods)', () => {
  let ctx: TestContext;
  let users: UsersService;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({
      PUBLIC_URL,
      SMTP_URL: sink.url,
      MAIL_RETRY_BASE_SECONDS: '1',
      EMAIL_VERIFICATION: 'off',
    });
    users = ctx.app.get(UsersService);
    // The standing second admin: no admin cell ever acts on the last admin.
    const standing = await signUp(ctx.http, uniqueEmail('matrix-standing-admin'));
    await users.grantRole(standing.id, 'admin');
  });
  afterAll(async () => {
    await ctx?.close();
    await sink?.stop();
  });

  const http = (): TestAgent => ctx.http();

  /** Set-up steps must succeed: a failed one would make the cell test something else. */
  function ok(res: Response, status: number, what: string): Response {
    if (res.status !== status)
      throw new Error(`setup: ${what} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res;
  }

  /** A fresh account (made by the service, as a sign-up would; POST /api/auth/signup has its own row). */
  async function newUser(prefix: string, roles: string[] = []): Promise<SignedUp> {
    const email = uniqueEmail(`matrix-${prefix}`);
    const user = await users.create({ email, password: PASSWORD, roles });
    return { id: user.id, email, password: PASSWORD };
  }

  async function newCaller(caller: Exclude<Caller, 'anonymous'>): Promise<SignedUp> {
    return newUser(caller, caller === 'admin' ? ['admin'] : []);
  }

  /** A fresh login by `method`; for `apikey`, a key the caller makes right after a fresh token login. */
  async function login(user: SignedUp, method: Method): Promise<Credentials> {
    if (method === 'session') return { method, login: await sessionLogin(http, user) };
    const { accessToken } = await tokenLogin(http, user);
    if (method === 'jwt') return { method, accessToken };
    return { method, key: (await createApiKey(accessToken)).key };
  }

  async function createApiKey(accessToken: string): Promise<{ id: string; key: string }> {
    const res = await http()
      .post('/api/keys')
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ name: 'matrix' });
    return ok(res, 201, 'POST /api/keys').body as { id: string; key: string };
  }

  /** A new token login of `user`, and its public sign-in id. */
  async function newSignInId(user: SignedUp): Promise<string> {
    const { accessToken } = await tokenLogin(http, user);
    const res = await http().get('/api/sessions').set('Authorization', `Bearer ${accessToken}`);
    const current = Array.isArray(res.body)
      ? (res.body as { id: string; current: boolean }[]).find((signIn) => signIn.current)
      : undefined;
    if (res.status !== 200 || !current)
      throw new Error(
        `setup: no current sign-in in GET /api/sessions: ${res.status} ${JSON.stringify(res.body)}`,
      );
    return current.id;
  }

  /** The token of the first link to `path` mailed to `address`. */
  async function mailedToken(address: string, path: string): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const mail = sink.to(address).find((received) => received.text.includes(`${path}?token=`));
      if (mail) return linkToken(mail, path);
      if (Date.now() > deadline) throw new Error(`setup: no ${path} link mailed to ${address}`);
      await sleep(20);
    }
  }

  function newCell(caller: SignedUp | undefined, owner: () => Promise<SignedUp>): Cell {
    // Set-up runs through separate logins of its own (made before any factor is switched on).
    const bearerOf = oncePer(async (user) => `Bearer ${(await tokenLogin(http, user)).accessToken}`);
    const post = async (path: string, user: SignedUp, body?: object) =>
      http()
        .post(path)
        .set('Authorization', await bearerOf(user))
        .send(body);
    const authenticatorOf = oncePer(() => Promise.resolve(new SoftAuthenticator(PUBLIC_URL)));
    const passkeyRegistration = async (user: SignedUp) => {
      const options = ok(
        await post('/api/auth/passkeys/registration/options', user),
        200,
        'registration options',
      ).body as PublicKeyCredentialCreationOptionsJSON;
      return (await authenticatorOf(user)).createCredential(options).response;
    };
    const passkey = oncePer(async (user) => {
      const response = await passkeyRegistration(user);
      const res = await post('/api/auth/passkeys/registration', user, { response });
      return (ok(res, 201, 'passkey registration').body as { id: string }).id;
    });
    const totpSetUp = async (user: SignedUp) =>
      (ok(await post('/api/auth/mfa/totp', user), 200, 'TOTP set-up').body as { secret: string }).secret;
    const totpOn = oncePer(async (user) => enableTotp(http, { bearer: (await bearerOf(user)).slice(7) }));
    return {
      caller,
      owner,
      target: once(() => newUser('target')),
      refreshToken: async () => (await tokenLogin(http, await owner())).refreshToken,
      totpOn,
      totpSetUp,
      mfaStep: async (user) => {
        const { recoveryCodes } = await totpOn(user);
        const res = ok(await http().post('/api/auth/token').send(credentials(user)), 200, 'password login');
        return { mfaToken: (res.body as { mfaToken: string }).mfaToken, recoveryCode: recoveryCodes[0] };
      },
      resetLink: async (user) => {
        ok(await http().post('/api/auth/password/forgot').send({ email: user.email }), 202, 'forgot');
        return mailedToken(user.email, '/reset-password');
      },
      verificationLink: async (user) => {
        ok(await post('/api/auth/email/verification', user), 202, 'verification mail');
        return mailedToken(user.email, '/verify-email');
      },
      passkeyRegistration,
      passkey,
      passkeyAssertion: async (user) => {
        await passkey(user);
        const res = await http()
          .post('/api/auth/passkeys/authentication/options')
          .send({ email: user.email });
        const options = ok(res, 200, 'authentication options').body as PublicKeyCredentialRequestOptionsJSON;
        return (await authenticatorOf(user)).getAssertion(options);
      },
    };
  }

  async function resolvePath(path: string, cell: Cell): Promise<string> {
    const placeholders: Record<string, () => Promise<string>> = {
      ':self': async () => (await cell.owner()).id,
      ':target': async () => (await cell.target()).id,
      ':unknown': () => Promise.resolve(randomUUID()),
      ':signIn': async () => newSignInId(await cell.owner()),
      ':foreignSignIn': async () => newSignInId(await newUser('foreign')),
      ':apiKey': async () =>
        (await createApiKey((await tokenLogin(http, await cell.owner())).accessToken)).id,
      ':targetKey': async () =>
        (await createApiKey((await tokenLogin(http, await cell.target())).accessToken)).id,
      ':passkey': async () => cell.passkey(await cell.owner()),
    };
    let resolved = path;
    for (const [name, value] of Object.entries(placeholders)) {
      const placeholder = new RegExp(`${name}(?=/|\\?|$)`, 'g');
      if (placeholder.test(resolved)) resolved = resolved.replace(placeholder, await value());
    }
    if (resolved.includes('/:')) throw new Error(`setup: unresolved placeholder in ${path}`);
    return resolved;
  }

  async function runCell(route: string, caller: Caller, method: Method | undefined): Promise<Outcome> {
    const { verb, path, key } = parseRoute(route);
    const account = caller === 'anonymous' ? undefined : await newCaller(caller);
    const auth = account && method ? await login(account, method) : undefined;
    const owner = once(async () =>
      account && caller !== 'other' ? account : newUser(caller === 'other' ? 'victim' : 'owner'),
    );
    const cell = newCell(account, owner);
    await SETUP[key]?.(cell);
    const url = await resolvePath(path, cell);
    const body = BODIES[key] ? await BODIES[key](cell) : undefined;

    let req = http()[verb](url);
    if (auth?.method === 'session') {
      req = req.set('Cookie', auth.login.cookie);
      if (UNSAFE.has(verb)) req = req.set('X-CSRF-Token', auth.login.csrfToken);
    } else if (auth?.method === 'jwt') {
      req = req.set('Authorization', `Bearer ${auth.accessToken}`);
    } else if (auth?.method === 'apikey') {
      req = req.set('X-API-Key', auth.key);
    }
    if (path === '/docs') req = req.redirects(1);
    const res: Response = body === undefined ? await req : await req.send(body);
    return { status: res.status, body: res.body as unknown };
  }

  for (const [route, ...statuses] of MATRIX) {
    const { key } = parseRoute(route);
    describe(key, () => {
      const cells = CALLERS.flatMap((caller, column) =>
        (caller === 'anonymous' ? [undefined] : METHODS).map((method) => ({
          caller,
          method,
          expected: expectedStatus(statuses[column], method),
        })),
      );
      // The row's cells run at once (each on accounts of its own); each test then checks one.
      const outcomes = new Map<(typeof cells)[number], Outcome | Error>();
      beforeAll(async () => {
        await Promise.all(
          cells.map((cell) =>
            runCell(route, cell.caller, cell.method).then(
              (outcome) => outcomes.set(cell, outcome),
              (error: unknown) =>
                outcomes.set(cell, error instanceof Error ? error : new Error(String(error))),
            ),
          ),
        );
      });
      for (const cell of cells) {
        const by = cell.method ? ` by ${cell.method}` : '';
        it(`${key} as ${cell.caller}${by} → ${cell.expected}`, () => {
          const outcome = outcomes.get(cell) ?? new Error('setup: the row did not run');
          if (outcome instanceof Error) throw outcome;
          // Status and body together, so that a failure shows both; an error must be the JSON error body.
          expect(outcome).toEqual({
            status: cell.expected,
            body:
              cell.expected >= 400 ? expect.objectContaining({ statusCode: cell.expected }) : outcome.body,
          });
        });
      }
    });
  }

  it('lists every API route the app exposes (the Swagger document, and GET /.well-known/jwks.json)', async () => {
    const res = await http().get('/docs-json');
    expect(res.status).toBe(200);
    const paths = (res.body as { paths: Record<string, Record<string, unknown>> }).paths;
    const verbs = new Set(['get', 'post', 'put', 'patch', 'delete']);
    const exposed = [
      ...Object.entries(paths).flatMap(([path, item]) =>
        Object.keys(item)
          .filter((verb) => verbs.has(verb))
          .map((verb) => routeShape(verb, path)),
      ),
      routeShape('get', '/.well-known/jwks.json'),
    ];
    expect(exposed.length).toBeGreaterThan(40); // the document is the real one
    const listed = new Set(
      MATRIX.map(([route]) => routeShape(parseRoute(route).verb, parseRoute(route).path)),
    );
    expect([...new Set(exposed)].filter((route) => !listed.has(route)).sort()).toEqual([]);
  });
});

describe('the last admin', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('cannot delete, disable or demote themself (409); once a second admin exists, can demote themself', async () => {
    const admin = await signUp(ctx.http, uniqueEmail('last-admin'));
    await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
    const { accessToken } = await tokenLogin(ctx.http, admin);
    const bearer = `Bearer ${accessToken}`;
    const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });
    const conflict = { status: 409, body: expect.objectContaining({ statusCode: 409 }) };

    const self = `/api/users/${admin.id}`;
    expect(outcome(await ctx.http().delete(self).set('Authorization', bearer))).toEqual(conflict);
    expect(
      outcome(await ctx.http().patch(self).set('Authorization', bearer).send({ disabled: true })),
    ).toEqual(conflict);
    expect(
      outcome(
        await ctx
          .http()
          .put(`${self}/roles`)
          .set('Authorization', bearer)
          .send({ roles: ['user'] }),
      ),
    ).toEqual(conflict);
    // Nothing changed: still an enabled admin.
    expect(outcome(await ctx.http().get('/api/auth/me').set('Authorization', bearer))).toEqual({
      status: 200,
      body: expect.objectContaining({ disabled: false, roles: expect.arrayContaining(['admin']) }),
    });

    const second = await signUp(ctx.http, uniqueEmail('second-admin'));
    await ctx.app.get(UsersService).grantRole(second.id, 'admin');
    expect(
      outcome(
        await ctx
          .http()
          .put(`${self}/roles`)
          .set('Authorization', bearer)
          .send({ roles: ['user'] }),
      ),
    ).toEqual({ status: 200, body: expect.objectContaining({ roles: ['user'] }) });
  });
});

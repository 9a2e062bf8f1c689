import { randomBytes, randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { UsersService } from '../src/users/users.service';
import {
  PASSWORD,
  sessionLogin,
  signUp,
  tokenLogin,
  uniqueEmail,
  type CookieLogin,
  type SignedUp,
} from './support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from './support/test-app';

/*
 * The whole authorization policy of /work/shared/CONTRACT.md in one table: every route
 * by every kind of caller, each cell the expected HTTP status. Every cell runs by both
 * authentication methods (cookie session, with X-CSRF-Token on unsafe methods, and
 * bearer token), except `anonymous` (no credentials). A cell written
 * `{ session: 204, jwt: 401 }` is a route limited to one method.
 *
 * Callers (fresh accounts for every cell, so that destructive calls never affect other cells):
 *   anonymous  no credentials at all
 *   user       a plain user; `:self` and `:signIn` are their own
 *   other      another plain user: the route names someone who is not the caller, i.e. `:self`
 *              and `:signIn` belong to a different plain user and a refresh token or login is
 *              someone else's; on rows naming nobody, `other` is just a second plain user
 *   admin      a user with the `admin` role; another admin always exists, so that an admin
 *              deleting or changing themself is never the last admin (that 409 is tested below)
 *
 * Path placeholders, resolved per cell:
 *   :self           the caller's own user id (`other`, `anonymous`: a different plain user's id)
 *   :target         a fresh plain user who is not the caller
 *   :unknown        a well-formed id that names no user
 *   :signIn         one of the caller's own sign-ins, not the one in use (`other`, `anonymous`:
 *                   a different plain user's sign-in)
 *   :foreignSignIn  a sign-in of a different plain user, for every caller
 */

type Status = number | { session: number; jwt: number };
type Row = readonly [route: string, anonymous: Status, user: Status, other: Status, admin: Status];

// prettier-ignore
const MATRIX: readonly Row[] = [
  // route                                    anonymous  user   other  admin   // what `other` does here
  // Operations
  ['GET    /api',                                200,     200,   200,   200],   // as user
  ['GET    /api/health',                         200,     200,   200,   200],   // as user
  ['GET    /docs',                               200,     200,   200,   200],   // as user (follows its redirect)
  ['GET    /docs-json',                          200,     200,   200,   200],   // as user
  // Auth
  ['POST   /api/auth/signup',                    201,     201,   201,   201],   // signs up a fresh email
  ['POST   /api/auth/session',                   200,     200,   200,   200],   // logs in as a different user
  ['DELETE /api/auth/session',                   401,     { session: 204, jwt: 401 },
                                                                 { session: 204, jwt: 401 },
                                                                        { session: 204, jwt: 401 }], // as user
  ['POST   /api/auth/token',                     200,     200,   200,   200],   // logs in as a different user
  ['POST   /api/auth/token/refresh',             200,     200,   200,   200],   // a different user's refresh token
  ['POST   /api/auth/token/revoke',              204,     204,   204,   204],   // a different user's refresh token
  ['GET    /api/auth/me',                        401,     200,   200,   200],   // as user
  ['GET    /api/auth/csrf',                      401,     { session: 200, jwt: 401 },
                                                                 { session: 200, jwt: 401 },
                                                                        { session: 200, jwt: 401 }], // as user
  ['POST   /api/auth/password',                  401,     204,   204,   204],   // as user (their own password)
  ['POST   /api/auth/logout-all',                401,     204,   204,   204],   // as user
  // Sessions (sign-ins)
  ['GET    /api/sessions',                       401,     200,   200,   200],   // as user (their own list)
  ['DELETE /api/sessions/:signIn',               401,     204,   404,   204],   // a different user's sign-in
  ['DELETE /api/sessions/:foreignSignIn',        401,     404,   404,   404],   // as user: not theirs, even for an admin
  ['GET    /api/users/:self/sessions',           401,     403,   403,   200],   // a different user's id
  ['GET    /api/users/:target/sessions',         401,     403,   403,   200],   // as user
  ['GET    /api/users/:unknown/sessions',        401,     403,   403,   404],   // as user
  ['DELETE /api/users/:target/sessions',         401,     403,   403,   204],   // as user
  ['DELETE /api/users/:unknown/sessions',        401,     403,   403,   404],   // as user
  // Users
  ['GET    /api/users?page=1&limit=10',          401,     403,   403,   200],   // as user
  ['GET    /api/users/:self',                    401,     200,   403,   200],   // a different user's id
  ['GET    /api/users/:target',                  401,     403,   403,   200],   // as user
  ['GET    /api/users/:unknown',                 401,     403,   403,   404],   // as user
  ['PATCH  /api/users/me',                       401,     200,   200,   200],   // as user (renames themself)
  ['PATCH  /api/users/:self',                    401,     403,   403,   200],   // a different user's id
  ['PATCH  /api/users/:target',                  401,     403,   403,   200],   // as user
  ['PATCH  /api/users/:unknown',                 401,     403,   403,   404],   // as user
  ['DELETE /api/users/:self',                    401,     403,   403,   204],   // a different user's id
  ['DELETE /api/users/:target',                  401,     403,   403,   204],   // as user
  ['DELETE /api/users/:unknown',                 401,     403,   403,   404],   // as user
  ['POST   /api/users/:target/unlock',           401,     403,   403,   204],   // as user
  ['POST   /api/users/:unknown/unlock',          401,     403,   403,   404],   // as user
  // Roles
  ['GET    /api/roles',                          401,     403,   403,   200],   // as user
  ['POST   /api/roles',                          401,     403,   403,   201],   // as user
  ['PUT    /api/users/:self/roles',              401,     403,   403,   200],   // a different user's id
  ['PUT    /api/users/:target/roles',            401,     403,   403,   200],   // as user
  ['PUT    /api/users/:unknown/roles',           401,     403,   403,   404],   // as user
];

/** Valid bodies, so that a status reflects authorization and never validation. */
const BODIES: Record<string, (cell: Cell) => Promise<object> | object> = {
  'POST /api/auth/signup': () => ({ email: uniqueEmail('matrix-signup'), password: PASSWORD }),
  'POST /api/auth/session': async (cell) => credentials(await cell.owner()),
  'POST /api/auth/token': async (cell) => credentials(await cell.owner()),
  'POST /api/auth/token/refresh': async (cell) => ({ refreshToken: await cell.refreshToken() }),
  'POST /api/auth/token/revoke': async (cell) => ({ refreshToken: await cell.refreshToken() }),
  'POST /api/auth/password': () => ({ currentPassword: PASSWORD, newPassword: 'another long password' }),
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
type Method = 'session' | 'jwt';
type Verb = 'get' | 'post' | 'put' | 'patch' | 'delete';

const UNSAFE = new Set<Verb>(['post', 'put', 'patch', 'delete']);

interface Cell {
  /** Whose `:self`, `:signIn`, login and refresh token the row names. */
  owner(): Promise<SignedUp>;
  refreshToken(): Promise<string>;
}

type Credentials = { method: 'session'; login: CookieLogin } | { method: 'jwt'; accessToken: string };

const credentials = (user: SignedUp) => ({ email: user.email, password: user.password });

/** One lazily computed value, so that a cell only creates what its row needs. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

function parseRoute(route: string): { verb: Verb; path: string; key: string } {
  const [method, path] = route.split(/\s+/);
  return { verb: method.toLowerCase() as Verb, path, key: `${method} ${path}` };
}

describe('authorization matrix (every route × every caller × both methods)', () => {
  let ctx: TestContext;
  let users: UsersService;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    users = ctx.app.get(UsersService);
    // The standing second admin: no admin cell ever acts on the last admin.
    const standing = await signUp(ctx.http, uniqueEmail('matrix-standing-admin'));
    await users.grantRole(standing.id, 'admin');
  });
  afterAll(async () => {
    await ctx?.close();
  });

  async function newUser(prefix: string): Promise<SignedUp> {
    return signUp(ctx.http, uniqueEmail(`matrix-${prefix}`));
  }

  async function newCaller(caller: Exclude<Caller, 'anonymous'>): Promise<SignedUp> {
    const account = await newUser(caller);
    if (caller === 'admin') await users.grantRole(account.id, 'admin');
    return account;
  }

  async function login(user: SignedUp, method: Method): Promise<Credentials> {
    return method === 'session'
      ? { method, login: await sessionLogin(ctx.http, user) }
      : { method, accessToken: (await tokenLogin(ctx.http, user)).accessToken };
  }

  /** A new token login of `user`, and its public sign-in id. */
  async function newSignInId(user: SignedUp): Promise<string> {
    const { accessToken } = await tokenLogin(ctx.http, user);
    const res = await ctx.http().get('/api/sessions').set('Authorization', `Bearer ${accessToken}`);
    const current = Array.isArray(res.body)
      ? (res.body as { id: string; current: boolean }[]).find((signIn) => signIn.current)
      : undefined;
    if (res.status !== 200 || !current)
      throw new Error(
        `setup: no current sign-in in GET /api/sessions: ${res.status} ${JSON.stringify(res.body)}`,
      );
    return current.id;
  }

  async function resolvePath(path: string, cell: Cell): Promise<string> {
    const placeholders: Record<string, () => Promise<string>> = {
      ':self': async () => (await cell.owner()).id,
      ':target': async () => (await newUser('target')).id,
      ':unknown': () => Promise.resolve(randomUUID()),
      ':signIn': async () => newSignInId(await cell.owner()),
      ':foreignSignIn': async () => newSignInId(await newUser('foreign')),
    };
    let resolved = path;
    for (const [name, value] of Object.entries(placeholders)) {
      const placeholder = new RegExp(`${name}(?=/|\\?|$)`);
      if (placeholder.test(resolved)) resolved = resolved.replace(placeholder, await value());
    }
    if (resolved.includes('/:')) throw new Error(`setup: unresolved placeholder in ${path}`);
    return resolved;
  }

  async function runCell(route: string, caller: Caller, method: Method | undefined, expected: number) {
    const { verb, path, key } = parseRoute(route);
    const account = caller === 'anonymous' ? undefined : await newCaller(caller);
    const owner = once(async () =>
      account && caller !== 'other' ? account : newUser(caller === 'other' ? 'victim' : 'owner'),
    );
    const cell: Cell = {
      owner,
      refreshToken: async () => (await tokenLogin(ctx.http, await owner())).refreshToken,
    };
    const url = await resolvePath(path, cell);
    const body = BODIES[key] ? await BODIES[key](cell) : undefined;
    const auth = account && method ? await login(account, method) : undefined;

    let req = ctx.http()[verb](url);
    if (auth?.method === 'session') {
      req = req.set('Cookie', auth.login.cookie);
      if (UNSAFE.has(verb)) req = req.set('X-CSRF-Token', auth.login.csrfToken);
    } else if (auth?.method === 'jwt') {
      req = req.set('Authorization', `Bearer ${auth.accessToken}`);
    }
    if (path === '/docs') req = req.redirects(1);
    const res: Response = body === undefined ? await req : await req.send(body);

    // Status and body together, so that a failure shows both; an error must be the JSON error body.
    const outcome = { status: res.status, body: res.body as unknown };
    expect(outcome).toEqual({
      status: expected,
      body: expected >= 400 ? expect.objectContaining({ statusCode: expected }) : outcome.body,
    });
  }

  for (const [route, ...statuses] of MATRIX) {
    const { key } = parseRoute(route);
    describe(key, () => {
      CALLERS.forEach((caller, column) => {
        const cell = statuses[column];
        const methods: (Method | undefined)[] = caller === 'anonymous' ? [undefined] : ['session', 'jwt'];
        for (const method of methods) {
          const expected = typeof cell === 'number' ? cell : cell[method ?? 'session'];
          const by = method ? ` by ${method}` : '';
          it(`${key} as ${caller}${by} → ${expected}`, () => runCell(route, caller, method, expected));
        }
      });
    });
  }
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

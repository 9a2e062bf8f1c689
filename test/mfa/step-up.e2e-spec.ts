import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import {
  PASSWORD,
  sessionCookie,
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  uniqueEmail,
  type SignedUp,
} from '../support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';
import { as, enableTotp, totpCode, wrongCode, type Caller } from '../support/totp';

/*
 * Step-up: the sensitive routes of second factors, passkeys and user administration
 * need a factor proved within REAUTH_MAX_AGE_SECONDS (1 s here), by cookie and by
 * bearer alike; POST /api/auth/reauth renews that with a TOTP or recovery code, and
 * the MFA step of a login is itself such a proof (a token refresh is not).
 */

const ADMIN = { email: 'step-up-admin@example.com', password: 'admin bootstrap password' };
const MAX_FAILURES = 3;
/** Past the 1-second window, with room for a slow machine. */
const PAST_WINDOW_MS = 1500;
const REAUTH_REQUIRED = { statusCode: 403, error: 'Forbidden', message: 'reauthentication required' };
const INVALID_CODE = { statusCode: 403, error: 'Forbidden', message: 'Invalid code' };
const LOCKED = 'Too many failed sign-in attempts for this account; try again later';

const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

type CallerKind = 'cookie' | 'bearer';
const CALLER_KINDS: CallerKind[] = ['cookie', 'bearer'];

async function signIn(
  http: () => TestAgent,
  kind: CallerKind,
  user: SignedUp | typeof ADMIN,
): Promise<Caller> {
  return kind === 'cookie'
    ? sessionLogin(http, user)
    : { bearer: (await tokenLogin(http, user)).accessToken };
}

describe('step-up with REAUTH_MAX_AGE_SECONDS=1', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase({
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      REAUTH_MAX_AGE_SECONDS: '1',
      LOGIN_MAX_FAILURES: String(MAX_FAILURES),
      EMAIL_VERIFICATION: 'off',
      PUBLIC_URL: 'http://localhost:3000',
    });
  });
  afterAll(() => ctx?.close());

  const reauth = (caller: Caller, body: Record<string, string>) =>
    as(ctx.http().post('/api/auth/reauth'), caller).send(body);
  const newRecoveryCodes = (caller: Caller) => as(ctx.http().post('/api/auth/mfa/recovery-codes'), caller);
  const passkeyOptions = (caller: Caller) =>
    as(ctx.http().post('/api/auth/passkeys/registration/options'), caller);

  describe('once the window has passed, every sensitive route is 403 "reauthentication required"', () => {
    const callers = {} as Record<'user' | 'admin', Record<CallerKind, Caller>>;
    let user: SignedUp;
    let target: SignedUp;

    beforeAll(async () => {
      user = await signUp(ctx.http, uniqueEmail('stale-user'));
      target = await signUp(ctx.http, uniqueEmail('stale-target'));
      callers.user = {
        cookie: await signIn(ctx.http, 'cookie', user),
        bearer: await signIn(ctx.http, 'bearer', user),
      };
      // TOTP on, so that DELETE /mfa/totp and new recovery codes would otherwise succeed.
      await enableTotp(ctx.http, callers.user.bearer);
      callers.admin = {
        cookie: await signIn(ctx.http, 'cookie', ADMIN),
        bearer: await signIn(ctx.http, 'bearer', ADMIN),
      };
      await sleep(PAST_WINDOW_MS);
    });

    const ROUTES: [string, 'user' | 'admin', (http: TestAgent) => ReturnType<TestAgent['post']>][] = [
      ['POST /api/auth/mfa/totp', 'user', (http) => http.post('/api/auth/mfa/totp')],
      ['DELETE /api/auth/mfa/totp', 'user', (http) => http.delete('/api/auth/mfa/totp')],
      ['POST /api/auth/mfa/recovery-codes', 'user', (http) => http.post('/api/auth/mfa/recovery-codes')],
      [
        'POST /api/auth/passkeys/registration/options',
        'user',
        (http) => http.post('/api/auth/passkeys/registration/options'),
      ],
      [
        'DELETE /api/auth/passkeys/<random uuid>',
        'user',
        (http) => http.delete(`/api/auth/passkeys/${randomUUID()}`),
      ],
      [
        'PUT /api/users/:id/roles',
        'admin',
        (http) => http.put(`/api/users/${target.id}/roles`).send({ roles: ['user', 'admin'] }),
      ],
      ['DELETE /api/users/:id/mfa', 'admin', (http) => http.delete(`/api/users/${target.id}/mfa`)],
    ];

    it.each(
      CALLER_KINDS.flatMap((kind) => ROUTES.map(([name, who, send]) => [name, kind, who, send] as const)),
    )('%s by %s', async (_name, kind, who, send) => {
      const res = await as(send(ctx.http()), callers[who][kind]);
      expect(outcome(res)).toEqual({ status: 403, body: REAUTH_REQUIRED });
    });

    it('none of the refused actions happened', async () => {
      const me = await as(ctx.http().get('/api/auth/me'), callers.user.bearer).expect(200);
      expect(me.body.mfa).toEqual({ totp: true, passkeys: false });
      const targetNow = await as(ctx.http().get(`/api/users/${target.id}`), callers.admin.bearer).expect(200);
      expect(targetNow.body.roles).toEqual(['user']);
    });
  });

  it.each(CALLER_KINDS)('%s: POST /reauth { code } is 204 and then the action works', async (kind) => {
    const user = await signUp(ctx.http, uniqueEmail(`reauth-code-${kind}`));
    const caller = await signIn(ctx.http, kind, user);
    const { secret } = await enableTotp(ctx.http, caller);
    await sleep(PAST_WINDOW_MS);
    expect(outcome(await newRecoveryCodes(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });

    expect(outcome(await reauth(caller, { code: await totpCode(secret) }))).toEqual({
      status: 204,
      body: {},
    });
    const res = await newRecoveryCodes(caller);
    expect(res.status).toBe(200);
    expect(res.body.recoveryCodes).toHaveLength(10);
  });

  it("an admin's step-up by TOTP code: after POST /reauth { code } the role change and the MFA reset work", async () => {
    const adminBearer = await signIn(ctx.http, 'bearer', ADMIN);
    const second = await signUp(ctx.http, uniqueEmail('second-admin'));
    await as(ctx.http().put(`/api/users/${second.id}/roles`), adminBearer)
      .send({ roles: ['user', 'admin'] })
      .expect(200);
    const target = await signUp(ctx.http, uniqueEmail('admin-target'));
    const caller = await signIn(ctx.http, 'cookie', second);
    const { secret } = await enableTotp(ctx.http, caller);
    await sleep(PAST_WINDOW_MS);

    const setRoles = () =>
      as(ctx.http().put(`/api/users/${target.id}/roles`), caller).send({ roles: ['user', 'admin'] });
    expect(outcome(await setRoles())).toEqual({ status: 403, body: REAUTH_REQUIRED });
    await reauth(caller, { code: await totpCode(secret) }).expect(204);
    const roles = await setRoles();
    expect(roles.status).toBe(200);
    expect(roles.body.roles).toEqual(['admin', 'user']);
    expect((await as(ctx.http().delete(`/api/users/${target.id}/mfa`), caller)).status).toBe(204);
  });

  it('POST /reauth { recoveryCode } works too and spends the code', async () => {
    const user = await signUp(ctx.http, uniqueEmail('reauth-recovery'));
    const caller = await signIn(ctx.http, 'bearer', user);
    const { recoveryCodes } = await enableTotp(ctx.http, caller);
    await sleep(PAST_WINDOW_MS);
    expect(outcome(await passkeyOptions(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });

    await reauth(caller, { recoveryCode: recoveryCodes[0] }).expect(204);
    expect((await passkeyOptions(caller)).status).toBe(200);

    await sleep(PAST_WINDOW_MS);
    expect(outcome(await reauth(caller, { recoveryCode: recoveryCodes[0] }))).toEqual({
      status: 403,
      body: INVALID_CODE,
    });
    expect(outcome(await passkeyOptions(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });
    await reauth(caller, { recoveryCode: recoveryCodes[1] }).expect(204);
  });

  it('a wrong code on POST /reauth is 403 "Invalid code", proves nothing, and counts against the account lock', async () => {
    const user = await signUp(ctx.http, uniqueEmail('reauth-wrong'));
    const caller = await signIn(ctx.http, 'cookie', user);
    const { secret } = await enableTotp(ctx.http, caller);
    await sleep(PAST_WINDOW_MS);
    const wrong = await wrongCode(secret);
    for (let attempt = 1; attempt <= MAX_FAILURES; attempt++)
      expect({ attempt, ...outcome(await reauth(caller, { code: wrong })) }).toEqual({
        attempt,
        status: 403,
        body: INVALID_CODE,
      });
    expect(outcome(await newRecoveryCodes(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });

    const locked = await reauth(caller, { code: await totpCode(secret) });
    expect(outcome(locked)).toEqual({
      status: 429,
      body: { statusCode: 429, error: 'Too Many Requests', message: LOCKED },
    });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const login = await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD });
    expect(login.status).toBe(429);
  });

  it('two factors at once, or none, is 400 and spends nothing', async () => {
    const user = await signUp(ctx.http, uniqueEmail('reauth-shape'));
    const caller = await signIn(ctx.http, 'bearer', user);
    const { secret, recoveryCodes } = await enableTotp(ctx.http, caller);
    await sleep(PAST_WINDOW_MS);
    const code = await totpCode(secret);
    const bodies: Record<string, string>[] = [
      { code, recoveryCode: recoveryCodes[0] },
      { code, password: PASSWORD },
      { password: PASSWORD, recoveryCode: recoveryCodes[0] },
      {},
    ];
    for (const body of bodies) {
      const res = await reauth(caller, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
    expect(outcome(await newRecoveryCodes(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });
    // Neither the code nor the recovery code was spent.
    await reauth(caller, { code }).expect(204);
    await reauth(caller, { recoveryCode: recoveryCodes[0] }).expect(204);
  });

  it.each(['session', 'token'] as const)(
    'the MFA step of a %s login is a proof: the sign-in is recent right after /mfa/verify, however long the password step was before',
    async (kind) => {
      const user = await signUp(ctx.http, uniqueEmail(`mfa-proof-${kind}`));
      const { secret } = await enableTotp(ctx.http, await signIn(ctx.http, 'bearer', user));
      const first = await ctx
        .http()
        .post(`/api/auth/${kind}`)
        .send({ email: user.email, password: PASSWORD });
      expect(first.body.mfaRequired).toBe(true);
      await sleep(PAST_WINDOW_MS);

      const code = await totpCode(secret);
      const done = await ctx
        .http()
        .post('/api/auth/mfa/verify')
        .send({ mfaToken: first.body.mfaToken, code });
      expect(done.status).toBe(200);
      const caller: Caller =
        kind === 'session'
          ? { cookie: sessionCookie(done.headers['set-cookie']), csrfToken: done.body.csrfToken }
          : { bearer: done.body.accessToken };
      expect((await passkeyOptions(caller)).status).toBe(200);

      await sleep(PAST_WINDOW_MS);
      expect(outcome(await passkeyOptions(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });
    },
  );

  it('a token refresh is no proof: the refreshed sign-in of an MFA login is still stale', async () => {
    const user = await signUp(ctx.http, uniqueEmail('refresh-no-proof'));
    const { secret } = await enableTotp(ctx.http, await signIn(ctx.http, 'bearer', user));
    const first = await ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD });
    const pair = await ctx
      .http()
      .post('/api/auth/mfa/verify')
      .send({ mfaToken: first.body.mfaToken, code: await totpCode(secret) })
      .expect(200);
    await sleep(PAST_WINDOW_MS);

    const refreshed = await ctx
      .http()
      .post('/api/auth/token/refresh')
      .send({ refreshToken: pair.body.refreshToken })
      .expect(200);
    const caller = { bearer: refreshed.body.accessToken as string };
    expect(outcome(await passkeyOptions(caller))).toEqual({ status: 403, body: REAUTH_REQUIRED });
  });
});

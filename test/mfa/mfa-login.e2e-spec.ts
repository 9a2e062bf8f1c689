import { Client } from 'pg';
import type { Response } from 'supertest';
import {
  PASSWORD,
  sessionCookie,
  signUp,
  tokenLogin,
  uniqueEmail,
  type SignedUp,
} from '../support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';
import { as, enableTotp, totpCode, wrongCode, type Caller, type TotpOn } from '../support/totp';

/*
 * The second step of a password login (POST /api/auth/mfa/verify), for both kinds of
 * sign-in: what step 1 answers and creates (nothing that signs in), what step 2
 * answers (exactly the direct login's answer for that kind), and the rules of the
 * mfaToken and of the codes: single use, bound, expiring, drift, replay, recovery
 * codes, and the account lock.
 */

const ADMIN = { email: 'mfa-login-admin@example.com', password: 'admin bootstrap password' };
const MAX_FAILURES = 3;
const STEP_EXPIRED = 'This sign-in step has expired or was used: sign in again';
const LOCKED = 'Too many failed sign-in attempts for this account; try again later';
const INVALID_CODE = { statusCode: 401, error: 'Unauthorized', message: 'Invalid code' };
const EXPIRED = { statusCode: 401, error: 'Unauthorized', message: STEP_EXPIRED };

const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

type Kind = 'session' | 'token';
const KINDS: Kind[] = ['session', 'token'];
const METHOD: Record<Kind, 'session' | 'jwt'> = { session: 'session', token: 'jwt' };

describe('the second step of a password login', () => {
  let ctx: TestContext;
  let db: Client;
  let adminBearer: string;

  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase({
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      LOGIN_MAX_FAILURES: String(MAX_FAILURES),
      EMAIL_VERIFICATION: 'off',
    });
    db = new Client({ connectionString: ctx.database.url });
    await db.connect();
    adminBearer = (await tokenLogin(ctx.http, ADMIN)).accessToken;
  });
  afterAll(async () => {
    await db?.end();
    await ctx?.close();
  });

  /** A user with TOTP on, and a sign-in of theirs made before it was (for password changes and the like). */
  async function userWithTotp(prefix: string): Promise<{ user: SignedUp; setup: Caller } & TotpOn> {
    const user = await signUp(ctx.http, uniqueEmail(prefix));
    const setup = { bearer: (await tokenLogin(ctx.http, user)).accessToken };
    return { user, setup, ...(await enableTotp(ctx.http, setup)) };
  }

  const passwordLogin = (kind: Kind, user: { email: string; password: string }) =>
    ctx.http().post(`/api/auth/${kind}`).send({ email: user.email, password: user.password });

  /** Step 1: the password; expects the MFA answer and returns its mfaToken. */
  async function firstStep(kind: Kind, user: { email: string; password: string }): Promise<string> {
    const res = await passwordLogin(kind, user);
    expect({ status: res.status, mfaRequired: res.body.mfaRequired }).toEqual({
      status: 200,
      mfaRequired: true,
    });
    return res.body.mfaToken as string;
  }

  const verify = (body: Record<string, string>) => ctx.http().post('/api/auth/mfa/verify').send(body);

  /** The sign-in a successful answer of either kind carries. */
  function callerOf(kind: Kind, res: Response): Caller {
    return kind === 'session'
      ? { cookie: sessionCookie(res.headers['set-cookie']), csrfToken: res.body.csrfToken as string }
      : { bearer: res.body.accessToken as string };
  }

  const cookieAttributes = (res: Response) =>
    (res.headers['set-cookie'] as unknown as string[])
      .map((cookie) =>
        cookie
          .split(';')
          .map((part) => part.trim().split('=')[0].toLowerCase())
          .sort()
          .join(';'),
      )
      .sort();

  async function auditOf(type: string, userId: string) {
    const res = await ctx
      .http()
      .get(`/api/audit?type=${type}&userId=${userId}&limit=100`)
      .set('Authorization', `Bearer ${adminBearer}`);
    expect(res.status).toBe(200);
    return res.body.items as { type: string; userId: string; details: Record<string, unknown> | null }[];
  }

  function expectLocked(res: Response): void {
    expect(outcome(res)).toEqual({
      status: 429,
      body: { statusCode: 429, error: 'Too Many Requests', message: LOCKED },
    });
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  }

  describe.each(KINDS)('POST /api/auth/%s', (kind) => {
    it('the password step answers 200 { mfaRequired, mfaToken, methods } with no cookie and no tokens, and creates no sign-in', async () => {
      const { user, setup, secret } = await userWithTotp(`step1-${kind}`);
      const listOf = async (caller: Caller) => {
        const res = await as(ctx.http().get('/api/sessions'), caller);
        expect(res.status).toBe(200);
        return res.body as { id: string; method: string; current: boolean }[];
      };
      const before = await listOf(setup);
      expect(before).toHaveLength(1);

      const first = await passwordLogin(kind, user);
      expect(first.status).toBe(200);
      expect(first.headers['set-cookie']).toBeUndefined();
      expect(first.body).toEqual({
        mfaRequired: true,
        mfaToken: expect.any(String),
        methods: ['totp', 'recovery_code'],
      });
      expect((first.body.mfaToken as string).length).toBeGreaterThanOrEqual(43); // 256 bits, base64url
      // A second, abandoned password step.
      await firstStep(kind, user);
      expect((await listOf(setup)).map((signIn) => signIn.id)).toEqual(before.map((signIn) => signIn.id));

      const done = await verify({ mfaToken: first.body.mfaToken, code: await totpCode(secret) });
      expect(done.status).toBe(200);
      const after = await listOf(callerOf(kind, done));
      expect(after).toHaveLength(2);
      const added = after.filter((signIn) => !before.some((old) => old.id === signIn.id));
      expect(added).toEqual([expect.objectContaining({ method: METHOD[kind], current: true })]);
    });

    it('the right code answers exactly what a direct login of this kind answers, and that sign-in works', async () => {
      const { user, secret } = await userWithTotp(`verify-${kind}`);
      const plain = await signUp(ctx.http, uniqueEmail(`direct-${kind}`));
      const direct = await passwordLogin(kind, plain);
      expect(direct.status).toBe(200);

      const done = await verify({ mfaToken: await firstStep(kind, user), code: await totpCode(secret) });
      expect(done.status).toBe(200);
      expect(Object.keys(done.body).sort()).toEqual(Object.keys(direct.body).sort());
      const caller = callerOf(kind, done);
      const me = await as(ctx.http().get('/api/auth/me'), caller);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: user.id, authMethod: METHOD[kind], mfa: { totp: true } });

      if (kind === 'session') {
        expect(done.body).toEqual({
          user: expect.objectContaining({ id: user.id }),
          csrfToken: expect.any(String),
        });
        expect(Object.keys(done.body.user).sort()).toEqual(Object.keys(direct.body.user).sort());
        expect(cookieAttributes(done)).toEqual(cookieAttributes(direct));
        // The CSRF token is this session's: an unsafe request with it passes.
        expect(
          (await as(ctx.http().post('/api/auth/reauth'), caller).send({ password: PASSWORD })).status,
        ).toBe(204);
      } else {
        expect(done.headers['set-cookie']).toBeUndefined();
        expect(done.body).toMatchObject({
          accessToken: expect.any(String),
          refreshToken: expect.any(String),
        });
        const refreshed = await ctx
          .http()
          .post('/api/auth/token/refresh')
          .send({ refreshToken: done.body.refreshToken });
        expect(refreshed.status).toBe(200);
        expect(
          (await as(ctx.http().get('/api/auth/me'), { bearer: refreshed.body.accessToken }).expect(200)).body
            .id,
        ).toBe(user.id);
      }
    });

    it(`the mfaToken is bound to its kind: it gives ${kind === 'session' ? 'a cookie and no tokens' : 'a token pair and never a cookie'}`, async () => {
      const { user, secret } = await userWithTotp(`bound-${kind}`);
      const done = await verify({ mfaToken: await firstStep(kind, user), code: await totpCode(secret) });
      expect(done.status).toBe(200);
      if (kind === 'session') {
        expect(done.headers['set-cookie']).toBeDefined();
        expect(done.body.accessToken).toBeUndefined();
        expect(done.body.refreshToken).toBeUndefined();
      } else {
        expect(done.headers['set-cookie']).toBeUndefined();
        expect(done.body.csrfToken).toBeUndefined();
        expect(done.body).toMatchObject({
          accessToken: expect.any(String),
          refreshToken: expect.any(String),
        });
      }
    });

    it('the mfaToken is single use: a second verify is 401 "This sign-in step has expired or was used"', async () => {
      const { user, secret } = await userWithTotp(`single-${kind}`);
      const mfaToken = await firstStep(kind, user);
      expect((await verify({ mfaToken, code: await totpCode(secret) })).status).toBe(200);
      const again = await verify({ mfaToken, code: await totpCode(secret, 1) });
      expect(outcome(again)).toEqual({ status: 401, body: EXPIRED });
      expect(again.headers['set-cookie']).toBeUndefined();
    });

    it('the mfaToken expires after 5 minutes: past expires_at the right code is 401', async () => {
      const { user, secret } = await userWithTotp(`expiry-${kind}`);
      const mfaToken = await firstStep(kind, user);
      const { rows } = await db.query<{ minutes: number }>(
        `SELECT extract(epoch FROM expires_at - created_at) / 60 AS minutes FROM mfa_logins WHERE user_id = $1`,
        [user.id],
      );
      expect(rows).toHaveLength(1);
      expect(Number(rows[0].minutes)).toBeCloseTo(5, 1);
      await db.query(`UPDATE mfa_logins SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [
        user.id,
      ]);
      const res = await verify({ mfaToken, code: await totpCode(secret) });
      expect(outcome(res)).toEqual({ status: 401, body: EXPIRED });
    });

    it('a code is accepted once: the same code on a second login is 401 "Invalid code", that mfaToken stays usable, and no older code works after a newer one', async () => {
      const { user, secret } = await userWithTotp(`replay-${kind}`);
      const code = await totpCode(secret);
      expect((await verify({ mfaToken: await firstStep(kind, user), code })).status).toBe(200);

      const second = await firstStep(kind, user);
      expect(outcome(await verify({ mfaToken: second, code }))).toEqual({ status: 401, body: INVALID_CODE });
      expect((await verify({ mfaToken: second, code: await totpCode(secret, 1) })).status).toBe(200);

      // The next step was used: the current one (older) no longer works.
      const third = await firstStep(kind, user);
      expect(outcome(await verify({ mfaToken: third, code: await totpCode(secret) }))).toEqual({
        status: 401,
        body: INVALID_CODE,
      });
    });

    it('±1 step of clock drift is accepted, ±2 steps are refused', async () => {
      const { user, secret } = await userWithTotp(`drift-${kind}`);
      // As if the last code had been used minutes ago (the confirmation spent the previous step).
      await db.query('UPDATE totp_factors SET last_used_step = last_used_step - 10 WHERE user_id = $1', [
        user.id,
      ]);
      const mfaToken = await firstStep(kind, user);
      expect(outcome(await verify({ mfaToken, code: await totpCode(secret, -2) }))).toEqual({
        status: 401,
        body: INVALID_CODE,
      });
      expect(outcome(await verify({ mfaToken, code: await totpCode(secret, 2) }))).toEqual({
        status: 401,
        body: INVALID_CODE,
      });
      expect((await verify({ mfaToken, code: await totpCode(secret, -1) })).status).toBe(200);
      expect(
        (await verify({ mfaToken: await firstStep(kind, user), code: await totpCode(secret, 1) })).status,
      ).toBe(200);
    });

    it('a recovery code works once, typed in lower case and without dashes too; a used one is 401', async () => {
      const { user, recoveryCodes } = await userWithTotp(`recovery-${kind}`);
      const [first, second] = recoveryCodes;
      const bare = first.toLowerCase().replace(/-/g, '');
      const done = await verify({ mfaToken: await firstStep(kind, user), recoveryCode: bare });
      expect(done.status).toBe(200);
      expect((await as(ctx.http().get('/api/auth/me'), callerOf(kind, done))).status).toBe(200);

      const mfaToken = await firstStep(kind, user);
      expect(outcome(await verify({ mfaToken, recoveryCode: first }))).toEqual({
        status: 401,
        body: INVALID_CODE,
      });
      expect((await verify({ mfaToken, recoveryCode: second.toLowerCase() })).status).toBe(200);
    });

    it(`${MAX_FAILURES} wrong codes lock the account: the next verify and the next password login are 429 with Retry-After`, async () => {
      const { user, secret } = await userWithTotp(`lock-${kind}`);
      const mfaToken = await firstStep(kind, user);
      const wrong = await wrongCode(secret);
      for (let attempt = 1; attempt <= MAX_FAILURES; attempt++)
        expect({ attempt, ...outcome(await verify({ mfaToken, code: wrong })) }).toEqual({
          attempt,
          status: 401,
          body: INVALID_CODE,
        });
      expectLocked(await verify({ mfaToken, code: await totpCode(secret) }));
      expectLocked(await passwordLogin(kind, user));
    });

    it('a right password between wrong codes does not reset the count: password, wrong code, password, wrong code … locks', async () => {
      const { user, secret } = await userWithTotp(`lock-mixed-${kind}`);
      const wrong = await wrongCode(secret);
      let mfaToken = '';
      for (let attempt = 1; attempt <= MAX_FAILURES; attempt++) {
        mfaToken = await firstStep(kind, user);
        expect({ attempt, ...outcome(await verify({ mfaToken, code: wrong })) }).toEqual({
          attempt,
          status: 401,
          body: INVALID_CODE,
        });
      }
      expectLocked(await passwordLogin(kind, user));
      expectLocked(await verify({ mfaToken, code: await totpCode(secret) }));
    });

    it('a wrong code is audited as mfa.failed', async () => {
      const { user, secret } = await userWithTotp(`audit-${kind}`);
      await verify({ mfaToken: await firstStep(kind, user), code: await wrongCode(secret) }).expect(401);
      const events = await auditOf('mfa.failed', user.id);
      expect(events).toEqual([
        expect.objectContaining({
          type: 'mfa.failed',
          userId: user.id,
          details: expect.objectContaining({ purpose: `login.${METHOD[kind]}` }),
        }),
      ]);
    });

    it('both a code and a recovery code, or neither, is 400 (and spends nothing)', async () => {
      const { user, secret, recoveryCodes } = await userWithTotp(`shape-${kind}`);
      const mfaToken = await firstStep(kind, user);
      const both = await verify({ mfaToken, code: await totpCode(secret), recoveryCode: recoveryCodes[0] });
      expect(both.status).toBe(400);
      const neither = await verify({ mfaToken });
      expect(neither.status).toBe(400);
      expect((await verify({ mfaToken, code: await totpCode(secret) })).status).toBe(200);
    });

    it.each([
      [
        'a password change',
        (setup: Caller) =>
          as(ctx.http().post('/api/auth/password'), setup).send({
            currentPassword: PASSWORD,
            newPassword: 'a brand new passphrase',
          }),
      ],
      ['a logout of every sign-in', (setup: Caller) => as(ctx.http().post('/api/auth/logout-all'), setup)],
    ])('%s between the password step and the code makes the code step 401', async (_change, change) => {
      const { user, setup, secret } = await userWithTotp(`stale-${kind}`);
      const mfaToken = await firstStep(kind, user);
      expect((await change(setup)).status).toBe(204);
      const res = await verify({ mfaToken, code: await totpCode(secret) });
      expect(res.status).toBe(401);
      expect(res.body.accessToken).toBeUndefined();
      // Nothing was signed in, so no cookie comes with the refusal.
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    it("a disabled user's mfaToken is 401", async () => {
      const { user, secret } = await userWithTotp(`disabled-${kind}`);
      const mfaToken = await firstStep(kind, user);
      await ctx
        .http()
        .patch(`/api/users/${user.id}`)
        .set('Authorization', `Bearer ${adminBearer}`)
        .send({ disabled: true })
        .expect(200);
      const res = await verify({ mfaToken, code: await totpCode(secret) });
      expect(outcome(res)).toEqual({ status: 401, body: EXPIRED });
      expect(res.headers['set-cookie']).toBeUndefined();
    });
  });
});

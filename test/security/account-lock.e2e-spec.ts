import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { UsersService } from '../../src/users/users.service';
import {
  PASSWORD,
  sessionLogin,
  signUp,
  sleep,
  tokenLogin,
  uniqueEmail,
  type SignedUp,
} from '../support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

/*
 * The per-account lock beyond the login form: failed current-password checks count
 * like failed logins (point 5), and a day-long cap keeps a patient attacker from
 * guessing for ever at the pace the short window allows (point 6).
 * test/security/brute-force.e2e-spec.ts covers the short window itself.
 */

const LOCKED = 'Too many failed sign-in attempts for this account; try again later';
const NEW_PASSWORD = 'another long passphrase';
const WRONG = 'not my password at all';

interface AuditItem {
  type: string;
  userId: string | null;
  actorId: string | null;
  details: Record<string, unknown> | null;
}

/** A plain credential for a request: a bearer token, or a cookie with its CSRF token. */
type Caller = { bearer: string } | { cookie: string; csrfToken: string };

async function adminOf(ctx: TestContext): Promise<{ admin: SignedUp; bearer: string }> {
  const admin = await signUp(ctx.http, uniqueEmail('lock-admin'));
  await ctx.app.get(UsersService).grantRole(admin.id, 'admin');
  return { admin, bearer: `Bearer ${(await tokenLogin(ctx.http, admin)).accessToken}` };
}

function changePassword(ctx: TestContext, caller: Caller, currentPassword: string) {
  const req = ctx.http().post('/api/auth/password');
  const authed =
    'bearer' in caller
      ? req.set('Authorization', `Bearer ${caller.bearer}`)
      : req.set('Cookie', caller.cookie).set('X-CSRF-Token', caller.csrfToken);
  return authed.send({ currentPassword, newPassword: NEW_PASSWORD });
}

const login = (ctx: TestContext, path: 'session' | 'token', email: string, password: string) =>
  ctx.http().post(`/api/auth/${path}`).send({ email, password });

/** The contract's 429 for a locked account, with the seconds to wait. */
function expectLocked(res: Response): number {
  expect({ status: res.status, body: res.body }).toEqual({
    status: 429,
    body: { statusCode: 429, error: 'Too Many Requests', message: LOCKED },
  });
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  return retryAfter;
}

async function auditOf(ctx: TestContext, adminBearer: string, query: string): Promise<AuditItem[]> {
  const res = await ctx.http().get(`/api/audit?${query}&limit=100`).set('Authorization', adminBearer);
  expect({ status: res.status, query }).toEqual({ status: 200, query });
  return res.body.items as AuditItem[];
}

describe('failed current-password checks count against the account lock', () => {
  // The defaults: LOGIN_MAX_FAILURES=10 in LOGIN_FAILURE_WINDOW_SECONDS=900.
  let ctx: TestContext;
  let adminBearer: string;
  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase();
    ({ bearer: adminBearer } = await adminOf(ctx));
  });
  afterAll(() => ctx.close());

  /** Every failed check of `user` is audited as reauth.failed, without the password tried; one locked it. */
  async function expectAudited(user: SignedUp, failures: number) {
    const failed = await auditOf(ctx, adminBearer, `userId=${user.id}&type=reauth.failed`);
    expect(failed).toHaveLength(failures);
    expect(failed.every((event) => event.type === 'reauth.failed' && event.userId === user.id)).toBe(true);
    expect(JSON.stringify(failed)).not.toContain(WRONG);
    const locked = await auditOf(ctx, adminBearer, 'type=account.locked');
    expect(
      locked.filter((event) => event.userId === user.id || event.details?.email === user.email),
    ).toHaveLength(1);
  }

  it('a bearer caller: 10 wrong current passwords (403 each), then even the right password is 429 everywhere', async () => {
    const user = await signUp(ctx.http);
    const caller = { bearer: (await tokenLogin(ctx.http, user)).accessToken };
    for (let i = 0; i < 10; i++) {
      const res = await changePassword(ctx, caller, WRONG);
      expect({ attempt: i + 1, status: res.status, message: res.body.message }).toEqual({
        attempt: i + 1,
        status: 403,
        message: 'Current password is incorrect',
      });
    }

    const retryAfter = expectLocked(await login(ctx, 'token', user.email, PASSWORD));
    expect(retryAfter).toBeLessThanOrEqual(900);
    expectLocked(await login(ctx, 'session', user.email, PASSWORD));
    expectLocked(await changePassword(ctx, caller, PASSWORD));
    await expectAudited(user, 10);
  });

  it('a cookie caller (with X-CSRF-Token): the same lock, the same audit trail', async () => {
    const user = await signUp(ctx.http);
    const caller = await sessionLogin(ctx.http, user);
    for (let i = 0; i < 10; i++) await changePassword(ctx, caller, WRONG).expect(403);

    expectLocked(await changePassword(ctx, caller, PASSWORD));
    expectLocked(await login(ctx, 'token', user.email, PASSWORD));
    expectLocked(await login(ctx, 'session', user.email, PASSWORD));
    await expectAudited(user, 10);
  });

  it('shares one count with failed logins: 5 wrong logins and 5 wrong current passwords lock the account', async () => {
    const user = await signUp(ctx.http);
    const caller = { bearer: (await tokenLogin(ctx.http, user)).accessToken };
    for (let i = 0; i < 5; i++) await login(ctx, 'token', user.email, WRONG).expect(401);
    // The check that locks the account is still answered as a wrong password.
    for (let i = 0; i < 5; i++) await changePassword(ctx, caller, WRONG).expect(403);

    expectLocked(await changePassword(ctx, caller, PASSWORD));
    expectLocked(await login(ctx, 'token', user.email, PASSWORD));
  });

  it('leaves other accounts alone', async () => {
    const victim = await signUp(ctx.http);
    const bystander = await signUp(ctx.http);
    const caller = { bearer: (await tokenLogin(ctx.http, victim)).accessToken };
    for (let i = 0; i < 10; i++) await changePassword(ctx, caller, WRONG).expect(403);
    await login(ctx, 'token', bystander.email, PASSWORD).expect(200);
  });
});

describe('the day-long cap on failures (LOGIN_MAX_DAILY_FAILURES)', () => {
  let ctx: TestContext;
  let admin: SignedUp;
  let adminBearer: string;
  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase({
      LOGIN_MAX_FAILURES: '3',
      // Long enough for three requests on a loaded machine, short enough to wait out.
      LOGIN_FAILURE_WINDOW_SECONDS: '2',
      LOGIN_MAX_DAILY_FAILURES: '5',
    });
    ({ admin, bearer: adminBearer } = await adminOf(ctx));
  });
  afterAll(() => ctx.close());

  const DAY_LOCK = 80_000; // seconds: close to a day, far beyond the 2 s window

  /** 3 failures lock for the short window, which 429s do not extend; then 2 more reach the cap. */
  async function failToTheCap(email: string): Promise<number[]> {
    const statuses: number[] = [];
    const attempt = async (password: string) =>
      statuses.push((await login(ctx, statuses.length % 2 ? 'session' : 'token', email, password)).status);
    for (let i = 0; i < 3; i++) await attempt(WRONG);
    // Refused attempts do not count: were these three counted, the cap would already be reached.
    for (let i = 0; i < 3; i++) await attempt(WRONG);
    await attempt(PASSWORD);
    await sleep(2300);
    for (let i = 0; i < 2; i++) await attempt(WRONG);
    return statuses;
  }

  it('locks for the rest of the day once the cap is reached, right password included, past the short window', async () => {
    const user = await signUp(ctx.http);
    expect(await failToTheCap(user.email)).toEqual([401, 401, 401, 429, 429, 429, 429, 401, 401]);

    expect(expectLocked(await login(ctx, 'token', user.email, PASSWORD))).toBeGreaterThan(DAY_LOCK);
    await sleep(2300);
    expect(expectLocked(await login(ctx, 'token', user.email, PASSWORD))).toBeGreaterThan(DAY_LOCK);
    expect(expectLocked(await login(ctx, 'session', user.email, PASSWORD))).toBeGreaterThan(DAY_LOCK);
    expect(
      expectLocked(await login(ctx, 'session', ` ${user.email.toUpperCase()} `, PASSWORD)),
    ).toBeGreaterThan(DAY_LOCK);
  });

  it('counts failed current-password checks towards the cap too', async () => {
    const user = await signUp(ctx.http);
    const caller = { bearer: (await tokenLogin(ctx.http, user)).accessToken };
    for (let i = 0; i < 3; i++) await changePassword(ctx, caller, WRONG).expect(403);
    expectLocked(await changePassword(ctx, caller, PASSWORD));
    await sleep(2300);
    for (let i = 0; i < 2; i++) await changePassword(ctx, caller, WRONG).expect(403);

    expect(expectLocked(await changePassword(ctx, caller, PASSWORD))).toBeGreaterThan(DAY_LOCK);
    await sleep(2300);
    expect(expectLocked(await login(ctx, 'token', user.email, PASSWORD))).toBeGreaterThan(DAY_LOCK);
  });

  it('locks an unknown email exactly like a real one, so the cap tells nothing about existence', async () => {
    const real = await signUp(ctx.http);
    const ghost = uniqueEmail('ghost');
    const [realStatuses, ghostStatuses] = [await failToTheCap(real.email), await failToTheCap(ghost)];
    expect(ghostStatuses).toEqual(realStatuses);
    const [realLocked, ghostLocked] = [
      await login(ctx, 'token', real.email, WRONG),
      await login(ctx, 'token', ghost, WRONG),
    ];
    expect(ghostLocked.text).toBe(realLocked.text);
    expect(expectLocked(ghostLocked)).toBeGreaterThan(DAY_LOCK);
  });

  it('an admin lifts the lock with POST /api/users/:id/unlock (204, audited), and the right password works again', async () => {
    const user = await signUp(ctx.http);
    await failToTheCap(user.email);
    expectLocked(await login(ctx, 'token', user.email, PASSWORD));

    const res = await ctx.http().post(`/api/users/${user.id}/unlock`).set('Authorization', adminBearer);
    expect({ status: res.status, body: res.body }).toEqual({ status: 204, body: {} });
    await login(ctx, 'token', user.email, PASSWORD).expect(200);
    await login(ctx, 'session', user.email, PASSWORD).expect(200);

    const unlocked = await auditOf(ctx, adminBearer, `userId=${user.id}&type=account.unlocked`);
    expect(unlocked).toEqual([
      expect.objectContaining({ type: 'account.unlocked', userId: user.id, actorId: admin.id }),
    ]);
  });

  it('an admin can unlock by cookie session too (with X-CSRF-Token)', async () => {
    const user = await signUp(ctx.http);
    await failToTheCap(user.email);
    const { cookie, csrfToken } = await sessionLogin(ctx.http, admin);
    await ctx
      .http()
      .post(`/api/users/${user.id}/unlock`)
      .set('Cookie', cookie)
      .set('X-CSRF-Token', csrfToken)
      .expect(204);
    await login(ctx, 'token', user.email, PASSWORD).expect(200);
  });

  it('refuses unlock to anyone but an admin, and 404s an unknown user', async () => {
    const user = await signUp(ctx.http);
    await failToTheCap(user.email);
    const plain = await signUp(ctx.http);
    const plainBearer = `Bearer ${(await tokenLogin(ctx.http, plain)).accessToken}`;
    const unlock = (id: string, authorization?: string) => {
      const req = ctx.http().post(`/api/users/${id}/unlock`);
      return authorization ? req.set('Authorization', authorization) : req;
    };

    expect((await unlock(randomUUID(), adminBearer)).status).toBe(404);
    expect((await unlock(user.id, plainBearer)).status).toBe(403);
    expect((await unlock(plain.id, plainBearer)).status).toBe(403);
    expect((await unlock(user.id)).status).toBe(401);
    // None of these lifted the lock.
    expectLocked(await login(ctx, 'token', user.email, PASSWORD));
  });
});

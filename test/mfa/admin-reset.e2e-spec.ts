import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { PASSWORD, signUp, tokenLogin, uniqueEmail, type SignedUp } from '../support/auth-helpers';
import { SmtpSink } from '../support/smtp-sink';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';
import { as, enableTotp, securityNotice, type Caller, type TotpOn } from '../support/totp';

/*
 * An admin resets a user's second factors (a lost phone): what the admin sees of a
 * user's factors, what DELETE /api/users/:id/mfa removes, who is told, what is
 * audited, and who may do it.
 */

const SERVICE_NAME = 'Reset Test Service';
const ADMIN = { email: 'reset-admin@example.com', password: 'admin bootstrap password' };

const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

describe("an admin's reset of a user's second factors", () => {
  let sink: SmtpSink;
  let ctx: TestContext;
  let admin: Caller;
  let adminId: string;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    ctx = await startAppOnFreshDatabase({
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      SERVICE_NAME,
      SMTP_URL: sink.url,
      MAIL_RETRY_BASE_SECONDS: '1',
      EMAIL_VERIFICATION: 'off',
    });
    admin = { bearer: (await tokenLogin(ctx.http, ADMIN)).accessToken };
    adminId = (await as(ctx.http().get('/api/auth/me'), admin).expect(200)).body.id as string;
  });
  afterAll(async () => {
    await ctx?.close();
    await sink?.stop();
  });

  async function userWithTotp(prefix: string): Promise<{ user: SignedUp; caller: Caller } & TotpOn> {
    const user = await signUp(ctx.http, uniqueEmail(prefix));
    const caller = { bearer: (await tokenLogin(ctx.http, user)).accessToken };
    return { user, caller, ...(await enableTotp(ctx.http, caller)) };
  }

  const passwordLogin = (user: SignedUp) =>
    ctx.http().post('/api/auth/token').send({ email: user.email, password: PASSWORD });
  const reset = (caller: Caller, id: string) => as(ctx.http().delete(`/api/users/${id}/mfa`), caller);
  const userAsAdminSees = async (id: string) =>
    (await as(ctx.http().get(`/api/users/${id}`), admin).expect(200)).body as {
      mfa: { totp: boolean; passkeys: boolean };
    };

  it('GET /api/users/:id shows the admin mfa { totp: true, passkeys: false } for a user with TOTP', async () => {
    const plain = await signUp(ctx.http, uniqueEmail('reset-plain'));
    expect((await userAsAdminSees(plain.id)).mfa).toEqual({ totp: false, passkeys: false });
    const { user } = await userWithTotp('reset-seen');
    expect((await userAsAdminSees(user.id)).mfa).toEqual({ totp: true, passkeys: false });
  });

  it('DELETE /api/users/:id/mfa is 204: login is direct again, recovery codes are void, the user is mailed, audit has mfa.reset by the admin', async () => {
    const { user, caller, recoveryCodes } = await userWithTotp('reset-done');
    expect((await passwordLogin(user)).body.mfaRequired).toBe(true);

    expect(outcome(await reset(admin, user.id))).toEqual({ status: 204, body: {} });

    expect((await userAsAdminSees(user.id)).mfa).toEqual({ totp: false, passkeys: false });
    const login = await passwordLogin(user);
    expect(login.status).toBe(200);
    expect(login.body.mfaRequired).toBeUndefined();
    expect(login.body.accessToken).toEqual(expect.any(String));

    // A recovery code of the reset factor proves nothing any more.
    expect(
      outcome(await as(ctx.http().post('/api/auth/reauth'), caller).send({ recoveryCode: recoveryCodes[0] })),
    ).toEqual({
      status: 403,
      body: { statusCode: 403, error: 'Forbidden', message: 'Invalid code' },
    });

    await securityNotice(sink, user.email, SERVICE_NAME, 'An administrator removed your second factors');

    const audit = await as(ctx.http().get(`/api/audit?type=mfa.reset&userId=${user.id}&limit=100`), admin);
    expect(audit.status).toBe(200);
    expect(audit.body.items).toEqual([
      expect.objectContaining({ type: 'mfa.reset', userId: user.id, actorId: adminId }),
    ]);
  });

  it("a plain user is 403 and the other user's TOTP stays", async () => {
    const { user: victim } = await userWithTotp('reset-victim');
    const plain = await signUp(ctx.http, uniqueEmail('reset-not-admin'));
    const caller = { bearer: (await tokenLogin(ctx.http, plain)).accessToken };

    const res = await reset(caller, victim.id);
    expect(res.status).toBe(403);
    expect(res.body.message).not.toBe('reauthentication required');
    expect((await userAsAdminSees(victim.id)).mfa.totp).toBe(true);
    expect((await passwordLogin(victim)).body.mfaRequired).toBe(true);
  });

  it('an unknown user id is 404', async () => {
    const res = await reset(admin, randomUUID());
    expect(res.status).toBe(404);
  });
});

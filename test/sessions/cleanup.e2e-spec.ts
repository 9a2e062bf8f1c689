import { DataSource } from 'typeorm';
import { SignInCleanup } from '../../src/sessions/sign-in-cleanup';
import { decodeJwtPart, PASSWORD, sessionLogin, signUp, tokenLogin } from '../support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

describe('clean-up of expired sign-ins', () => {
  let ctx: TestContext;
  let db: DataSource;
  beforeAll(async () => {
    ctx = await startAppOnFreshDatabase({ CLEANUP_INTERVAL_SECONDS: '0' });
    db = ctx.app.get(DataSource);
  });
  afterAll(() => ctx.close());

  const count = async (table: string) =>
    (await db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`))[0].n;

  it('deletes what can no longer be used, keeps what can, and says how much', async () => {
    const user = await signUp(ctx.http);
    const live = await sessionLogin(ctx.http, user);
    const idle = await sessionLogin(ctx.http, user);
    const over = await sessionLogin(ctx.http, user);
    const liveToken = await tokenLogin(ctx.http, user);
    const endedToken = await tokenLogin(ctx.http, user);
    const revokedToken = await tokenLogin(ctx.http, user);
    // A spent refresh token of a live login stays: reuse detection needs it.
    const rotated = await ctx
      .http()
      .post('/api/auth/token/refresh')
      .send({ refreshToken: liveToken.refreshToken })
      .expect(200);
    await ctx
      .http()
      .post('/api/auth/token')
      .send({ email: 'locked-out@example.com', password: PASSWORD })
      .expect(401);

    const sid = (cookie: string) => decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
    const hash = (cookie: string) =>
      db.query<{ h: string }[]>(`SELECT encode(sha256($1::bytea), 'hex') AS h`, [sid(cookie)]);
    await db.query(
      `UPDATE cookie_sessions SET last_used_at = now() - interval '2 hours' WHERE id_hash = $1`,
      [(await hash(idle.cookie))[0].h],
    );
    await db.query(
      `UPDATE cookie_sessions SET absolute_expires_at = now() - interval '1 second' WHERE id_hash = $1`,
      [(await hash(over.cookie))[0].h],
    );
    await db.query(`UPDATE token_logins SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      decodeJwtPart(endedToken.accessToken, 1).sid,
    ]);
    await db.query(`UPDATE token_logins SET revoked_at = now() - interval '1 hour' WHERE id = $1`, [
      decodeJwtPart(revokedToken.accessToken, 1).sid,
    ]);
    // An idle token login: unused for longer than TOKEN_LOGIN_IDLE_TIMEOUT_SECONDS and any access token of it.
    const idleToken = await tokenLogin(ctx.http, user);
    await db.query(`UPDATE token_logins SET last_used_at = now() - interval '8 days' WHERE id = $1`, [
      decodeJwtPart(idleToken.accessToken, 1).sid,
    ]);
    // Both lockout windows closed; a third account's short window closed but its day still open.
    await db.query(
      `UPDATE login_attempts SET window_started_at = now() - interval '1 hour', day_started_at = now() - interval '25 hours'`,
    );
    await ctx
      .http()
      .post('/api/auth/token')
      .send({ email: 'still-counted-today@example.com', password: PASSWORD })
      .expect(401);
    await db.query(
      `UPDATE login_attempts SET window_started_at = now() - interval '1 hour', day_started_at = now() - interval '23 hours'
       WHERE day_started_at > now() - interval '1 hour'`,
    );

    // Mailed-link tokens stay a day past expiry (the per-address limits count them);
    // finished outbox rows a week.
    const token = (hash: string, expired: string) =>
      db.query(
        `INSERT INTO account_tokens (user_id, purpose, token_hash, expires_at)
         VALUES ($1, 'password_reset', $2, now() - $3::interval)`,
        [user.id, hash.repeat(64), expired],
      );
    await token('a', '25 hours');
    await token('b', '1 hour');
    const mail = (finished: 'done_at' | 'failed_at', ago: string) =>
      db.query(
        `INSERT INTO outbox (kind, recipient, payload, ${finished}) VALUES ('mail', 'old@example.com', '{}', now() - $1::interval)`,
        [ago],
      );
    await mail('done_at', '8 days');
    await mail('failed_at', '8 days');
    await mail('done_at', '6 days');
    const tokensBefore = await count('account_tokens');

    const before = { sessions: await count('cookie_sessions'), refresh: await count('refresh_tokens') };
    const counts = await ctx.app.get(SignInCleanup).run();
    // Two lockout rows: the failed email's, and the user's own (successful logins open one too).
    expect(counts).toEqual({
      sessions: 2,
      tokenLogins: 3,
      loginAttempts: 2,
      accountTokens: 1,
      outbox: 2,
      mfaLogins: 0,
      webauthnChallenges: 0,
    });
    expect(await count('account_tokens')).toBe(tokensBefore - 1);
    expect(await count(`outbox WHERE recipient = 'old@example.com'`)).toBe(1);
    expect(await count('cookie_sessions')).toBe(before.sessions - 2);
    expect(await count('refresh_tokens')).toBe(before.refresh - 3); // the three ended logins' tokens
    expect(await count('login_attempts')).toBe(1); // the day cap still counts that account's failure

    await ctx.http().get('/api/auth/me').set('Cookie', live.cookie).expect(200);
    await ctx
      .http()
      .get('/api/auth/me')
      .set('Authorization', `Bearer ${rotated.body.accessToken}`)
      .expect(200);
    // Reuse detection still works on the live login after the clean-up.
    await ctx
      .http()
      .post('/api/auth/token/refresh')
      .send({ refreshToken: liveToken.refreshToken })
      .expect(401);
    await ctx
      .http()
      .get('/api/auth/me')
      .set('Authorization', `Bearer ${rotated.body.accessToken}`)
      .expect(401);

    expect(await ctx.app.get(SignInCleanup).run()).toEqual({
      sessions: 0,
      tokenLogins: 0,
      loginAttempts: 0,
      accountTokens: 0,
      outbox: 0,
      mfaLogins: 0,
      webauthnChallenges: 0,
    });
  });
});

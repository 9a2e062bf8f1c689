import type { Response } from 'supertest';
import {
  PASSWORD,
  sleep,
  type CookieLogin as SessionLogin,
  type TokenLogin as TokenPair,
} from '../support/auth-helpers';
import { InvalidationBus } from '../../src/database/invalidation-bus';
import { UsersService } from '../../src/users/users.service';
import { describeEachSessionStore } from '../support/session-stores';
import { startApp, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { TcpProxy } from '../support/tcp-proxy';

/*
 * Several instances of one deployment on one database (same secrets). A revocation,
 * a logout, a disabled account or a role change made through one instance applies on
 * the instance that made it on the very next request, and on the others as soon as
 * the PostgreSQL NOTIFY arrives (milliseconds: polled here for at most 2 s), and also
 * when an instance starts late or loses its notification connection. Against both
 * session stores: with SESSION_STORE=redis every instance is on one Redis, under one
 * key prefix, as one deployment's are.
 */

const POLL_INTERVAL_MS = 20;

/** Status and body together, so that a failure shows both. */
const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

/**
 * Repeats `send` every 20 ms until it answers `status`, for at most `timeoutMs`;
 * fails with the last answer (and every status seen) when it never does.
 */
async function eventually(
  send: () => PromiseLike<Response>,
  status: number,
  timeoutMs = 2000,
): Promise<{ res: Response; seen: number[] }> {
  const deadline = Date.now() + timeoutMs;
  const seen: number[] = [];
  for (;;) {
    const res = await send();
    seen.push(res.status);
    if (res.status === status) return { res, seen };
    if (Date.now() >= deadline) {
      expect({ seen, last: outcome(res) }).toEqual({ seen, last: { status, body: expect.anything() } });
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

function expectUnauthorized(res: Response) {
  expect(outcome(res)).toEqual({
    status: 401,
    body: { statusCode: 401, error: 'Unauthorized', message: expect.any(String) },
  });
}

describeEachSessionStore('several instances on one database', (store) => {
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  /** Instances started by a single test, closed after it. */
  const extra: TestApp[] = [];
  let proxy: TcpProxy | undefined;
  let counter = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startApp(database.url, store.env);
    b = await startApp(database.url, store.env);
  });
  afterEach(async () => {
    for (const app of extra.splice(0)) await app.close();
    await proxy?.stop();
    proxy = undefined;
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await database?.drop();
  });

  async function signup(on: TestApp = a): Promise<{ id: string; email: string }> {
    const email = `multi.${++counter}.${Date.now()}@example.com`;
    const res = await on.http().post('/api/auth/signup').send({ email, password: PASSWORD });
    expect(outcome(res)).toMatchObject({ status: 201, body: { email } });
    return { id: res.body.id as string, email };
  }

  async function sessionLogin(on: TestApp, email: string): Promise<SessionLogin> {
    const res = await on.http().post('/api/auth/session').send({ email, password: PASSWORD });
    expect(outcome(res)).toMatchObject({ status: 200, body: { csrfToken: expect.any(String) } });
    const setCookie = res.headers['set-cookie'] as unknown as string[] | undefined;
    expect(setCookie?.[0]).toMatch(/^sid=/);
    return { cookie: setCookie![0].split(';')[0], csrfToken: res.body.csrfToken as string };
  }

  async function tokenLogin(on: TestApp, email: string): Promise<TokenPair> {
    const res = await on.http().post('/api/auth/token').send({ email, password: PASSWORD });
    expect(outcome(res)).toMatchObject({
      status: 200,
      body: { accessToken: expect.any(String), refreshToken: expect.any(String) },
    });
    return res.body as TokenPair;
  }

  const bearer = (on: TestApp, token: string, path = '/api/auth/me') =>
    on.http().get(path).set('Authorization', `Bearer ${token}`);
  const cookie = (on: TestApp, value: string, path = '/api/auth/me') =>
    on.http().get(path).set('Cookie', value);

  async function expectOk(res: PromiseLike<Response>, body: Record<string, unknown> = {}) {
    expect(outcome(await res)).toMatchObject({ status: 200, body });
  }

  it('token revoked on A: A refuses the access token at once, B within 2 s; refreshing on B is 401', async () => {
    const user = await signup();
    const tokens = await tokenLogin(a, user.email);
    await expectOk(bearer(b, tokens.accessToken), { id: user.id, authMethod: 'jwt' });
    await expectOk(bearer(a, tokens.accessToken));

    const revoke = await a.http().post('/api/auth/token/revoke').send({ refreshToken: tokens.refreshToken });
    expect(outcome(revoke)).toEqual({ status: 204, body: {} });

    expectUnauthorized(await bearer(a, tokens.accessToken));
    expectUnauthorized((await eventually(() => bearer(b, tokens.accessToken), 401)).res);
    expectUnauthorized(
      await b.http().post('/api/auth/token/refresh').send({ refreshToken: tokens.refreshToken }),
    );
  });

  it('refresh-token reuse detected on A: the newest access token of that login is refused on A at once and on B', async () => {
    const user = await signup();
    const first = await tokenLogin(a, user.email);
    const rotated = await a.http().post('/api/auth/token/refresh').send({ refreshToken: first.refreshToken });
    expect(outcome(rotated)).toMatchObject({ status: 200, body: { accessToken: expect.any(String) } });
    const newest = rotated.body as TokenPair;
    await expectOk(bearer(b, newest.accessToken), { id: user.id });
    await expectOk(bearer(a, newest.accessToken), { id: user.id });

    expectUnauthorized(
      await a.http().post('/api/auth/token/refresh').send({ refreshToken: first.refreshToken }),
    );

    expectUnauthorized(await bearer(a, newest.accessToken));
    expectUnauthorized((await eventually(() => bearer(b, newest.accessToken), 401)).res);
    expectUnauthorized(
      await b.http().post('/api/auth/token/refresh').send({ refreshToken: newest.refreshToken }),
    );
  });

  it('session: the cookie from A works on B; DELETE /api/auth/session on A → A refuses it at once, B within 2 s', async () => {
    const user = await signup();
    const session = await sessionLogin(a, user.email);
    await expectOk(cookie(b, session.cookie), { id: user.id, authMethod: 'session' });
    await expectOk(cookie(a, session.cookie), { id: user.id, authMethod: 'session' });

    const out = await a
      .http()
      .delete('/api/auth/session')
      .set('Cookie', session.cookie)
      .set('X-CSRF-Token', session.csrfToken);
    expect(outcome(out)).toEqual({ status: 204, body: {} });

    expectUnauthorized(await cookie(a, session.cookie));
    expectUnauthorized((await eventually(() => cookie(b, session.cookie), 401)).res);
  });

  it("logout-all on B → B refuses at once, A within 2 s, the user's other session and token", async () => {
    const user = await signup();
    const caller = await tokenLogin(b, user.email);
    const otherSession = await sessionLogin(a, user.email);
    const otherTokens = await tokenLogin(a, user.email);
    for (const app of [a, b]) {
      await expectOk(cookie(app, otherSession.cookie), { id: user.id });
      await expectOk(bearer(app, otherTokens.accessToken), { id: user.id });
    }

    const res = await b
      .http()
      .post('/api/auth/logout-all')
      .set('Authorization', `Bearer ${caller.accessToken}`);
    expect(outcome(res)).toEqual({ status: 204, body: {} });

    expectUnauthorized(await bearer(b, caller.accessToken));
    expectUnauthorized(await cookie(b, otherSession.cookie));
    expectUnauthorized(await bearer(b, otherTokens.accessToken));
    expectUnauthorized((await eventually(() => cookie(a, otherSession.cookie), 401)).res);
    expectUnauthorized((await eventually(() => bearer(a, otherTokens.accessToken), 401)).res);
    expectUnauthorized((await eventually(() => bearer(a, caller.accessToken), 401)).res);
  });

  it('disabled on A → A refuses at once, B within 2 s, the existing session and token', async () => {
    const user = await signup();
    const session = await sessionLogin(a, user.email);
    const tokens = await tokenLogin(a, user.email);
    for (const app of [a, b]) {
      await expectOk(cookie(app, session.cookie), { id: user.id });
      await expectOk(bearer(app, tokens.accessToken), { id: user.id });
    }

    await a.app.get(UsersService).setDisabled(user.id, true);

    expectUnauthorized(await bearer(a, tokens.accessToken));
    expectUnauthorized((await eventually(() => bearer(b, tokens.accessToken), 401)).res);
    // The session is checked on B first: a refusal on A destroys it, which would hide B's answer.
    expectUnauthorized((await eventually(() => cookie(b, session.cookie), 401)).res);
    expectUnauthorized(await cookie(a, session.cookie));
  });

  it('disabled on A → A refuses the session cookie on its very next request', async () => {
    const user = await signup();
    const session = await sessionLogin(a, user.email);
    await expectOk(cookie(a, session.cookie), { id: user.id });
    await expectOk(cookie(b, session.cookie), { id: user.id });

    await a.app.get(UsersService).setDisabled(user.id, true);

    expectUnauthorized(await cookie(a, session.cookie));
  });

  it("role granted on A → the user's existing token gets 200 on /api/roles on A at once, on B within 2 s", async () => {
    const user = await signup();
    const tokens = await tokenLogin(a, user.email);
    expect((await bearer(b, tokens.accessToken, '/api/roles')).status).toBe(403);
    expect((await bearer(a, tokens.accessToken, '/api/roles')).status).toBe(403);

    await a.app.get(UsersService).grantRole(user.id, 'admin');

    await expectOk(bearer(a, tokens.accessToken, '/api/roles'));
    const { res } = await eventually(() => bearer(b, tokens.accessToken, '/api/roles'), 200);
    expect((res.body as { name: string }[]).map((role) => role.name)).toEqual(
      expect.arrayContaining(['admin', 'user']),
    );
  });

  it("password changed on A by a bearer caller → A refuses at once, B within 2 s, the user's other sign-ins; the caller's login stays", async () => {
    const user = await signup();
    const caller = await tokenLogin(a, user.email);
    const otherToken = await tokenLogin(b, user.email);
    const otherSession = await sessionLogin(b, user.email);
    await expectOk(bearer(b, otherToken.accessToken));
    await expectOk(cookie(b, otherSession.cookie));

    const change = await a
      .http()
      .post('/api/auth/password')
      .set('Authorization', `Bearer ${caller.accessToken}`)
      .send({ currentPassword: PASSWORD, newPassword: 'a different passphrase' });
    expect(outcome(change)).toEqual({ status: 204, body: {} });

    expectUnauthorized(await bearer(a, otherToken.accessToken));
    await eventually(() => bearer(b, otherToken.accessToken), 401);
    await eventually(() => cookie(b, otherSession.cookie), 401);
    await expectOk(bearer(b, caller.accessToken));
  });

  it('a session kept in use on A within its idle timeout is alive on B too', async () => {
    // Idle 6 s: A writes a use at most every 1.5 s (a quarter of it) and holds the
    // session in memory meanwhile, so its last use may be newer than the stored one.
    const env = { ...store.env, SESSION_IDLE_TIMEOUT_SECONDS: '6' };
    const [idleA, idleB] = [await startApp(database.url, env), await startApp(database.url, env)];
    extra.push(idleA, idleB);
    const user = await signup();
    const session = await sessionLogin(idleA, user.email);
    const signedInAt = Date.now();
    await sleep(1000);
    // Within 1.5 s of the sign-in: a use in A's memory, not written.
    await expectOk(cookie(idleA, session.cookie), { id: user.id });
    await sleep(Math.max(0, signedInAt + 6500 - Date.now()));
    // 6.5 s after the sign-in (and its write), 5.5 s after the last use: alive, on A and on B.
    await expectOk(cookie(idleA, session.cookie), { id: user.id });
    await sleep(100); // A records the use off the request's path
    await expectOk(cookie(idleB, session.cookie), { id: user.id });
  });

  it('closing one instance leaves the logins of the others working (no process-wide passport state)', async () => {
    const user = await signup();
    const extraInstance = await startApp(database.url, store.env);
    await extraInstance.close();
    const tokens = await tokenLogin(a, user.email);
    await expectOk(bearer(a, tokens.accessToken), { id: user.id });
    await sessionLogin(b, user.email);
  });

  it('an instance started after a revocation refuses that login at once (recent revocations loaded at start-up)', async () => {
    const user = await signup();
    const revoked = await tokenLogin(a, user.email);
    const kept = await tokenLogin(a, user.email);
    await expectOk(bearer(a, revoked.accessToken));
    const revoke = await a.http().post('/api/auth/token/revoke').send({ refreshToken: revoked.refreshToken });
    expect(revoke.status).toBe(204);

    const c = await startApp(database.url, store.env);
    extra.push(c);

    expectUnauthorized(await bearer(c, revoked.accessToken));
    await expectOk(bearer(c, kept.accessToken), { id: user.id, authMethod: 'jwt' });
  });

  it('B loses its database connection: a token revoked on A meanwhile is never 200 on B, and is refused once B is back', async () => {
    proxy = TcpProxy.forUrl(database.url);
    await proxy.start();
    const proxied = await startApp(proxy.route(database.url), store.env);
    extra.push(proxied);
    const bus = proxied.app.get(InvalidationBus);
    expect(bus.live).toBe(true);

    const user = await signup();
    const revoked = await tokenLogin(a, user.email);
    const kept = await tokenLogin(a, user.email);
    // Used on B first, so that any state it cached shows.
    await expectOk(bearer(proxied, revoked.accessToken), { id: user.id });
    await expectOk(bearer(proxied, kept.accessToken), { id: user.id });

    await proxy.stop();
    const revoke = await a.http().post('/api/auth/token/revoke').send({ refreshToken: revoked.refreshToken });
    expect(revoke.status).toBe(204);

    // While B cannot reach the database, it must not accept the revoked token.
    const whileDown: { status: number; body: unknown }[] = [];
    for (let i = 0; i < 5; i++) {
      whileDown.push(outcome(await bearer(proxied, revoked.accessToken)));
      await sleep(POLL_INTERVAL_MS);
    }
    expect(whileDown.filter((answer) => answer.status === 200)).toEqual([]);

    await proxy.start();
    expectUnauthorized((await eventually(() => bearer(proxied, revoked.accessToken), 401, 5000)).res);

    // Once the notification feed is back (reloaded revocations), still refused; the other login works.
    const liveBy = Date.now() + 5000;
    while (!bus.live && Date.now() < liveBy) await sleep(POLL_INTERVAL_MS);
    expect(bus.live).toBe(true);
    expectUnauthorized(await bearer(proxied, revoked.accessToken));
    await expectOk(bearer(proxied, kept.accessToken), { id: user.id });
  });
});
